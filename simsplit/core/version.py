"""simsplit's version (the package metadata's ``version``), for provenance and result folders."""

__version__ = "0.1.0"
