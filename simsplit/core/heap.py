"""The C heap under numpy's window-sized arrays: kept for reuse during a fast run, handed back after it.

glibc maps every block above its mmap threshold (128 KiB at start, raised by itself when such a block is
freed) afresh from the system and unmaps it when freed, so each window-sized temporary of the fast path
(a column of 16,384 to 524,288 rows: 128 KiB to 4 MiB) pays a page fault per 4 KiB touched. Whether
glibc has raised its threshold by the time the stages run depends on the order of earlier allocations; a
fixed threshold makes it not, and measured the fast path ~30% faster. Elsewhere (not glibc) these are
no-ops.

numpy also asks the kernel for transparent huge pages for every array of 4 MiB or more (a run's server
intervals, say). Where the kernel then compacts memory to find them (``defrag`` set to ``madvise``, as
here), those few requests cost 0.5-0.8 s of system time per city site (a quarter of its run), so a fast
run turns them off too.
"""

from __future__ import annotations

MMAP_THRESHOLD_BYTES = 8 << 20
"""Blocks up to this size come from the heap: a column of a 1,048,576-row window."""
TRIM_THRESHOLD_BYTES = 16 << 20
"""Free memory at the heap's top kept for reuse, not handed back at each free."""
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
_tuned = False


def _libc():
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def keep_freed_blocks() -> None:
    """Let window-sized blocks be reused from the heap instead of mapped and faulted in each time, and
    ask for no huge pages (once per process)."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    import numpy as np
    core = np._core if hasattr(np, "_core") else np.core  # numpy 2, numpy 1
    set_madvise = getattr(core.multiarray, "_set_madvise_hugepage", None)
    if set_madvise is not None:  # what NUMPY_MADVISE_HUGEPAGE=0 sets at import
        set_madvise(False)


def return_freed_memory() -> None:
    """Hand the heap pages freed so far back to the system (Arrow's pool, and glibc's ``malloc_trim``),
    so that what comes next adds to what is still held, not to the high-water mark."""
    import pyarrow as pa
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
