"""Output folders simsplit may write: marked as its own, locked while written, replaced atomically.

simsplit replaces a folder only if it wrote it, as the same kind of result (a ``.simsplit`` marker file inside,
read: JSON naming simsplit as its writer and the kind, run, compare, sweep...); anything else at the output
path (a file, a user's folder, one with a hand-made ``.simsplit``, a sweep where a run would go, ``.``, ``..``,
``/``, the home folder) is refused before any work starts. :func:`claim` checks the path and holds a lock
(``.NAME.lock`` beside it) for as long as the command writes, so two commands cannot both write one folder; it
also removes the hidden ``.NAME.partial-*`` and ``.NAME.old-*`` folders a killed write left behind.
:func:`write_folder` builds the folder beside its destination and moves it into place only when complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from simsplit.core.errors import InputError

MARKER = ".simsplit"
"""File inside every folder simsplit writes: JSON naming simsplit and the folder's kind; what allows replacing
the folder."""
KINDS = ("run", "sites", "compare", "sweep", "training", "calibration")
"""The kinds of folder simsplit writes."""
MARKER_MAX_BYTES = 4096
"""A marker larger than this is not one simsplit wrote."""
_held: dict[Path, int] = {}


def marked_kind(folder: Path) -> str | None:
    """The kind of result simsplit wrote into ``folder`` as its marker says, or None: no folder, no marker, or a
    marker simsplit did not write (unreadable, too large, not its JSON, an unknown kind)."""
    path = folder / MARKER
    try:
        if not folder.is_dir() or path.is_symlink() or not path.is_file() or path.stat().st_size > MARKER_MAX_BYTES:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("written_by") != "simsplit" or data.get("kind") not in KINDS:
        return None
    return str(data["kind"])


def is_ours(folder: Path, kinds: tuple[str, ...] = KINDS) -> bool:
    """Whether ``folder`` is a folder simsplit wrote, as one of ``kinds``."""
    return marked_kind(folder) in kinds


def mark(folder: Path, kind: str) -> None:
    """Mark ``folder`` as written by simsplit (``kind``: run, compare, sweep, training)."""
    from simsplit.core.version import __version__
    (folder / MARKER).write_text(json.dumps({"written_by": "simsplit", "kind": kind, "version": __version__}) + "\n")


def replaceable(kind: str | None) -> tuple[str, ...]:
    """The kinds of folder a result of ``kind`` may replace: its own (a run and a sites run each other, one
    scenario's two forms); any that simsplit writes for None."""
    if kind is None:
        return KINDS
    return ("run", "sites") if kind in ("run", "sites") else (kind,)


def check_output(out_dir: str | Path, option: str = "--out", kind: str | None = None) -> Path:
    """The absolute output path, or InputError (naming ``option``) if simsplit must not write there: an existing
    folder is replaced only if simsplit wrote it as a folder a result of ``kind`` may replace
    (:func:`replaceable`)."""
    kinds = replaceable(kind)
    out = Path(os.path.abspath(out_dir))
    cwd = Path.cwd().resolve()
    resolved = out.resolve()
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError):  # no home folder known
        home = None
    if resolved in (Path(resolved.anchor), cwd, home) or resolved in cwd.parents:
        raise InputError(option, None, f"expected a folder of its own for the results, got {out_dir} "
                         f"(the root, the home folder, the current folder or one above it)")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InputError(option, None, f"expected a folder simsplit may write, got {out_dir}: it is a file or a "
                         "link; remove or rename it, or choose another --out")
    kind = marked_kind(out) if out.exists() else None
    if out.exists() and kind is None:
        raise InputError(option, None, f"refusing to replace {out_dir}: it was not written by simsplit (no "
                         f"{MARKER} marker of its own inside); remove it or choose another --out")
    if kind is not None and kind not in kinds:
        raise InputError(option, None, f"refusing to replace {out_dir}: simsplit wrote a {kind} folder there, "
                         f"not a {' or '.join(kinds)} one; remove it or choose another --out")
    parent = out.parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(option, None, f"expected a writable location, got {out_dir} ({existing} is not writable)")
    return out


@contextlib.contextmanager
def claim(out_dir: str | Path, option: str = "--out", kind: str | None = None) -> Iterator[Path]:
    """Check ``out_dir`` (:func:`check_output`, for a result of ``kind``) and hold its lock while the body runs;
    re-entrant."""
    out = check_output(out_dir, option, kind)
    if out in _held:
        yield out
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(out.parent / f".{out.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(option, None, f"expected a writable location, got {out_dir}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InputError(option, None, f"another simsplit command is writing {out_dir}; wait for it or choose "
                         "another --out") from None
    _held[out] = fd
    try:
        for stale in list(out.parent.glob(f".{out.name}.partial-*")) + list(out.parent.glob(f".{out.name}.old-*")):
            shutil.rmtree(stale, ignore_errors=True)
        yield out
    finally:
        del _held[out]
        with contextlib.suppress(OSError):
            os.unlink(out.parent / f".{out.name}.lock")
        os.close(fd)


def write_folder(out_dir: str | Path, write: Callable[[Path], None], kind: str = "run") -> Path:
    """Call ``write(folder)`` on a hidden sibling of ``out_dir`` and move it into place only if it succeeds:
    a failure leaves nothing half-written and never replaces a good folder. Refuses (InputError) to
    replace anything simsplit did not write."""
    with claim(out_dir, kind=kind) as out:
        partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        try:
            write(partial)
            mark(partial, kind)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(partial, 0o777 & ~umask)  # a temporary folder is private; the result is not
            if out.exists():
                retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
                os.replace(out, retired / "previous")
                os.replace(partial, out)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                os.replace(partial, out)
        except OSError as exc:  # a full disk, a file-size limit, a folder made read-only meanwhile
            shutil.rmtree(partial, ignore_errors=True)
            kept = "the previous folder is kept" if out.exists() else "nothing was written"
            raise InputError(out_dir, None, f"could not write the results ({exc.strerror or exc}); {kept}") from None
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return out
