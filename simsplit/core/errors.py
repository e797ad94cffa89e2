"""The one exception type for bad input, and how it reads."""

from __future__ import annotations

from pathlib import Path

MAX_INPUT_MAGNITUDE = 1e15
"""Largest magnitude of any number read from an input (scenario, table, trace): 10^15 s is 30 million years,
10^15 Mbps a thousand times the Internet; beyond it unit conversions overflow (1e308 Mbps is inf bit/s) or a
run could never finish."""


MAX_INPUT_BYTES = 256 * 2**20
"""The largest input file read (scenario, table, trace): the public traces are a few MB; a bigger one is
most likely not a trace (and read whole it would take several times its size in memory)."""
MAX_MESSAGE_CHARS = 400
"""An input error's message is cut in the middle beyond this many characters."""


class InputError(Exception):
    """A scenario, profile, payload table or trace that cannot be used.

    Its message is one line: ``FILE: WHERE: expected WHAT, got VALUE``, where
    WHERE is a dotted field path (``network.uplink.rate_mbps``) or a line
    number (``line 7``). The CLI prints it and exits with status 2.
    """

    def __init__(self, source: str | Path | None, where: str | None, message: str):
        self.source = str(source) if source is not None else None
        self.where = where
        if len(message) > MAX_MESSAGE_CHARS:  # a value echoed whole (a 200 kB CSV field) would drown the line
            keep = MAX_MESSAGE_CHARS // 2
            message = f"{message[:keep]} ... ({len(message) - 2 * keep:,} characters left out) ... {message[-keep:]}"
        self.detail = message
        parts = [p for p in (self.source, where, message) if p]
        super().__init__(": ".join(parts))

    def __reduce__(self):
        """Rebuilt from its three parts: an input error raised in a worker process crosses back to the parent."""
        return type(self), (self.source, self.where, self.detail)


def read_input(path: str | Path) -> str:
    """The text of an input file (UTF-8, a byte-order mark skipped); InputError naming the file if it is
    missing, a folder, unreadable or not UTF-8."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(path, None, f"expected an input file of at most {MAX_INPUT_BYTES // 2**20} MB, got "
                             f"{size / 2**20:,.0f} MB")
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, None, "expected a file, got a folder") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"expected UTF-8 text, got byte {exc.object[exc.start]:#04x} at offset "
                         f"{exc.start}") from None
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror}") from None
