"""The decorators of the compiled loops (:mod:`simsplit.engine.kernels` and the few elsewhere): numba's ``njit``,
cached on disk, or the plain Python function where numba is not installed (the same results, slower).

:func:`compiled` is for a loop called from Python or called rarely; :func:`inlined` for a helper that a compiled
loop calls per event: numba copies it into its caller, so the arrays it takes are not reference-counted at each
call (a helper taking a dozen arrays cost more in reference counts than in its own work).
"""

from __future__ import annotations

try:
    from numba import njit

    def compiled(function):
        return njit(cache=True, nogil=True)(function)

    def inlined(function):
        return njit(cache=True, nogil=True, inline="always")(function)
    COMPILED = True
except ImportError:  # pragma: no cover - numba is a dependency; kept for a bare environment
    def compiled(function):
        return function

    def inlined(function):
        return function
    COMPILED = False
