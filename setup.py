"""Packaging beside pyproject.toml: the built-in scenarios and traces (top-level folders of the checkout) travel
in the wheel as simsplit/data/scenarios and simsplit/data/traces, so that ``simsplit run default`` and
``simsplit examples`` work from anywhere after ``pip install``."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["simsplit*"]), "simsplit.data.scenarios", "simsplit.data.traces"],
    package_dir={"simsplit.data.scenarios": "scenarios", "simsplit.data.traces": "traces"},
    package_data={"simsplit": ["py.typed", "figures/templates/*.j2"],
                  "simsplit.data.scenarios": ["*.yaml", "**/*.yaml", "**/*.csv", "**/*.md"],
                  "simsplit.data.traces": ["*.csv", "*.md"]},
)
