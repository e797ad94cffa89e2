"""Packaging beside pyproject.toml: the built-in scenarios and traces (top-level folders of the checkout) travel
in the wheel as simsplit/data/scenarios and simsplit/data/traces, so that ``simsplit run default`` and
``simsplit examples`` work from anywhere after ``pip install``. setuptools ships a folder only as a package of
its own, so each data folder and each of its subfolders is listed, with the files it carries."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
DATA = {"simsplit.data.scenarios": ("scenarios", ["*.yaml", "*.csv", "*.md"]),
        "simsplit.data.traces": ("traces", ["*.csv", "*.md"]),
        "simsplit.figures.templates": ("simsplit/figures/templates", ["*.j2"])}
"""Per package of data files: its folder in the checkout and the files of each of its folders that travel."""


def data_packages() -> dict[str, tuple[str, list[str]]]:
    """Each data folder and each of its subfolders as a package: (its folder, the patterns of its files).
    Folders whose names cannot name a package (hidden ones, ``__pycache__``, names with a dash) stay out."""
    packages = {}
    for name, (folder, patterns) in DATA.items():
        root = HERE / folder
        below = (p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__"
                 and all(part.isidentifier() for part in p.relative_to(root).parts))
        for path in [root, *sorted(below)]:
            packages[".".join((name, *path.relative_to(root).parts))] = (path.relative_to(HERE).as_posix(), patterns)
    return packages


PACKAGES = data_packages()
setup(
    packages=[*find_packages(include=["simsplit*"]), *PACKAGES],
    package_dir={name: folder for name, (folder, _) in PACKAGES.items()},
    package_data={"simsplit": ["py.typed"], **{name: patterns for name, (_, patterns) in PACKAGES.items()}},
)
