"""The decorator of the compiled loops (:mod:`simsplit.engine.kernels` and the few elsewhere): numba's ``njit``,
cached on disk, or the plain Python function where numba is not installed (the same results, slower)."""

from __future__ import annotations

try:
    from numba import njit

    def compiled(function):
        return njit(cache=True, nogil=True)(function)
    COMPILED = True
except ImportError:  # pragma: no cover - numba is a dependency; kept for a bare environment
    def compiled(function):
        return function
    COMPILED = False
