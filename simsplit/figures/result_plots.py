"""A run's figures from Python: ``result.plot.latency_cdf()`` and the rest, as matplotlib Figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simsplit.figures.folder_figures import groups_of, timeseries_of
from simsplit.figures.run_figures import energy_breakdown_figure, latency_breakdown_figure, latency_cdf_figure
from simsplit.figures.style import style_named

if TYPE_CHECKING:
    from simsplit.output.results import Result


class ResultPlots:
    """The figures of one :class:`Result` (what ``simsplit plot`` draws for a run folder), returned as
    matplotlib Figures for a notebook; ``style`` is ``"screen"`` (default) or ``"paper"`` (one column of a
    two-column paper, 8 pt). Save one with ``fig.savefig("latency.pdf")``. The CDF and the breakdowns draw on
    ``ax`` when given (an Axes of yours, in a grid of your own), and return its figure."""

    def __init__(self, result: Result):
        self._result = result

    @staticmethod
    def _style(style: str):
        return style_named(style)

    def latency_cdf(self, style: str = "screen", ax=None):
        """Latency CDF of the measured (after the warm-up) completed requests, per device group."""
        scenario = self._result.scenario
        return latency_cdf_figure(self._result.requests, f"{scenario.name}: latency", deadline_s=scenario.deadline_s,
                                  warmup_s=scenario.warmup_s, style=self._style(style), ax=ax,
                                  **groups_of(self._result.summary, scenario))

    def latency_breakdown(self, style: str = "screen", ax=None):
        """Mean latency of each device group stacked by stage."""
        return latency_breakdown_figure(self._result.summary, f"{self._result.scenario.name}: mean latency by stage",
                                        style=self._style(style), ax=ax)

    def energy_breakdown(self, style: str = "screen", ax=None):
        """Device energy per completed request of each device group stacked by component."""
        return energy_breakdown_figure(self._result.summary, f"{self._result.scenario.name}: device energy by "
                                       "component", style=self._style(style), ax=ax)

    def timeseries(self, style: str = "screen"):
        """Uplink, server queue, latency and chosen split over time (needs ``simulate(..., monitor_period_s=...)``)."""
        result = self._result
        if result.timeseries is None:
            raise ValueError("timeseries: this run was not monitored; simulate it with monitor_period_s=0.5 (say)")
        return timeseries_of(result.scenario, result.setup.profile.local_split, result.timeseries, result.requests,
                             f"{result.scenario.name}: over time", self._style(style))
