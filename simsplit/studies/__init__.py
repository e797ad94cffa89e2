"""Runs and sets of runs: one simulation, a comparison of strategies, a sweep, independent sites, and the
calibration of a scenario against measurements."""
