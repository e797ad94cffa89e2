"""The one exception type for bad input, and how it reads."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """A scenario, profile, payload table or trace that cannot be used.

    Its message is one line: ``FILE: WHERE: expected WHAT, got VALUE``, where
    WHERE is a dotted field path (``network.uplink.rate_mbps``) or a line
    number (``line 7``). The CLI prints it and exits with status 2.
    """

    def __init__(self, source: str | Path | None, where: str | None, message: str):
        self.source = str(source) if source is not None else None
        self.where = where
        self.detail = message
        parts = [p for p in (self.source, where, message) if p]
        super().__init__(": ".join(parts))
