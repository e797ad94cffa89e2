"""Figures and reports drawn from results: the figure style (``style``), what every figure is drawn with
(``drawing``), the figures of a run (``run_figures``, ``timeseries``), of a comparison (``compare_figures``), of a
sweep (``sweep_figures``) and of a trace or profile (``input_figures``); a result folder's figures
(``folder_figures``) and its HTML report (``report``, with ``scenario_table``)."""
