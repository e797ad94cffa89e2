"""Figures and reports drawn from results: the figure style, the plots and the HTML report."""
