"""Calibrating a scenario to measurements: ``simsplit calibrate CONFIG`` (see ``docs/calibration.md``)."""

from simsplit.studies.calibration.fit import Fit, Problem, calibrate, fit

__all__ = ["Fit", "Problem", "calibrate", "fit"]
