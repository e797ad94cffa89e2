"""The decorators of the compiled loops (:mod:`simsplit.engine.kernels` and the few elsewhere): numba's ``njit``,
cached on disk, or the plain Python function where numba is not installed (the same results, slower).

:func:`compiled` is for a loop called from Python or called rarely; :func:`inlined` for a helper that a compiled
loop calls per event: numba copies it into its caller, so the arrays it takes are not reference-counted at each
call (a helper taking a dozen arrays cost more in reference counts than in its own work).

numba checks a cached loop against its own module's source only, yet a loop carries the machine code of what it
calls in other modules. The cache therefore lives in a folder named by a hash of every module of
:data:`KERNEL_MODULES` — ``<NUMBA_CACHE_DIR or ~/.cache/simsplit/numba>/<hash>`` — so an edit to one of them (or
another version of simsplit) compiles afresh instead of running stale code; where that folder cannot be written,
nothing is cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

KERNEL_MODULES = ("engine/kernels.py", "engine/cell_kernel.py", "engine/radio_kernel.py", "engine/server_kernel.py",
                  "engine/tail_kernel.py", "model/channel/loss_kernel.py", "core/compiling.py")
"""The modules (under ``simsplit/``) that define compiled loops: each one's cache depends on all of them."""


def kernel_cache_dir() -> Path:
    """The folder of this source's compiled loops: under the user's numba cache (``NUMBA_CACHE_DIR``), else
    ``$XDG_CACHE_HOME/simsplit/numba`` (default ``~/.cache``; the temporary folder where no home is known), then a
    hash of :data:`KERNEL_MODULES`."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in KERNEL_MODULES:
        digest.update((package / name).read_bytes())
    if os.environ.get("NUMBA_CACHE_DIR"):
        base = Path(os.environ["NUMBA_CACHE_DIR"])
    else:
        try:
            home_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        except RuntimeError:  # no HOME and no entry for this user (some containers)
            home_cache = Path(tempfile.gettempdir())
        base = home_cache / "simsplit" / "numba"
    return base / digest.hexdigest()[:16]


def _writable(folder: Path) -> bool:
    """Whether ``folder`` exists or can be made, and takes a file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


try:
    from numba import njit
    from numba.core import config as _numba_config

    _CACHE_DIR = kernel_cache_dir()
    CACHED = _writable(_CACHE_DIR)
    """Whether the loops are cached on disk: where :func:`kernel_cache_dir` cannot be written they are compiled
    in each process instead (numba would otherwise cache them beside their source, checked against one module)."""

    @contextlib.contextmanager
    def _caching_in_kernel_dir():
        """numba's cache folder set to :func:`kernel_cache_dir` while a loop is decorated (its cache locator is
        chosen then), and put back after (another library's loops keep theirs)."""
        previous = _numba_config.CACHE_DIR
        _numba_config.CACHE_DIR = str(_CACHE_DIR)
        try:
            yield
        finally:
            _numba_config.CACHE_DIR = previous

    def compiled(function):
        with _caching_in_kernel_dir():
            return njit(cache=CACHED, nogil=True)(function)

    def inlined(function):
        with _caching_in_kernel_dir():
            return njit(cache=CACHED, nogil=True, inline="always")(function)
    COMPILED = True
except ImportError:  # pragma: no cover - numba is a dependency; kept for a bare environment
    def compiled(function):
        return function

    def inlined(function):
        return function
    COMPILED = CACHED = False
