"""The decorators of the compiled loops (:mod:`simsplit.engine.kernels` and the few elsewhere): numba's ``njit``,
cached on disk, or the plain Python function where numba is not installed (the same results, slower).

:func:`compiled` is for a loop called from Python or called rarely; :func:`inlined` for a helper that a compiled
loop calls per event: numba copies it into its caller, so the arrays it takes are not reference-counted at each
call (a helper taking a dozen arrays cost more in reference counts than in its own work).

numba checks a cached loop against its own module's source only, yet a loop carries the machine code of what it
calls in other modules. The cache therefore lives in a folder named by a hash of every module of
:data:`KERNEL_MODULES` — ``<NUMBA_CACHE_DIR or ~/.cache/simsplit/numba>/<hash>`` — so an edit to one of them (or
another version of simsplit) compiles afresh instead of running stale code.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

KERNEL_MODULES = ("engine/kernels.py", "engine/cell_kernel.py", "engine/radio_kernel.py", "engine/server_kernel.py",
                  "engine/tail_kernel.py", "model/channel/loss_kernel.py", "core/compiling.py")
"""The modules (under ``simsplit/``) that define compiled loops: each one's cache depends on all of them."""


def kernel_cache_dir() -> Path:
    """The folder of this source's compiled loops: the user's numba cache (``NUMBA_CACHE_DIR``) or
    ``$XDG_CACHE_HOME/simsplit/numba`` (default ``~/.cache``), then a hash of :data:`KERNEL_MODULES`."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in KERNEL_MODULES:
        digest.update((package / name).read_bytes())
    base = os.environ.get("NUMBA_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") \
        / "simsplit" / "numba"
    return Path(base) / digest.hexdigest()[:16]


try:
    from numba import njit
    from numba.core import config as _numba_config

    _CACHE_DIR = str(kernel_cache_dir())

    @contextlib.contextmanager
    def _caching_in_kernel_dir():
        """numba's cache folder set to :func:`kernel_cache_dir` while a loop is decorated (its cache locator is
        chosen then), and put back after (another library's loops keep theirs)."""
        previous = _numba_config.CACHE_DIR
        _numba_config.CACHE_DIR = _CACHE_DIR
        try:
            yield
        finally:
            _numba_config.CACHE_DIR = previous

    def compiled(function):
        with _caching_in_kernel_dir():
            return njit(cache=True, nogil=True)(function)

    def inlined(function):
        with _caching_in_kernel_dir():
            return njit(cache=True, nogil=True, inline="always")(function)
    COMPILED = True
except ImportError:  # pragma: no cover - numba is a dependency; kept for a bare environment
    def compiled(function):
        return function

    def inlined(function):
        return function
    COMPILED = False
