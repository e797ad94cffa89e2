"""Running independent tasks in parallel: a local process pool, or a Dask cluster."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import Any

from simsplit.core.errors import InputError

SCHEDULER_ADDRESS = re.compile(r"tcp://(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>[0-9]{1,5})")
"""A Dask scheduler address simsplit accepts: ``tcp://HOST:PORT``."""
CONNECT_TIMEOUT_S = 5.0
"""How long the check waits for a scheduler to answer (s)."""


def check_scheduler(scheduler: str | None, option: str = "--scheduler") -> None:
    """InputError, before any work, unless ``scheduler`` is None, ``local`` or the address of a Dask scheduler
    that answers (``tcp://HOST:PORT``), with the ``cluster`` extra installed for either."""
    if scheduler is None:
        return
    match = SCHEDULER_ADDRESS.fullmatch(scheduler)
    if scheduler != "local" and match is None:
        raise InputError(option, None, f"expected 'local' or a Dask scheduler address tcp://HOST:PORT, got "
                         f"{scheduler!r}")
    try:
        import distributed  # noqa: F401  (only whether it is there)
    except ImportError:
        raise InputError(option, None, "expected the cluster extra for Dask (pip install 'simsplit[cluster]'); "
                         "without it, drop --scheduler and use --workers") from None
    if match is None:
        return
    host, port = match["host"].strip("[]"), int(match["port"])
    if not 0 < port < 65536:
        raise InputError(option, None, f"expected a port from 1 to 65535, got {port} in {scheduler!r}")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise InputError(option, None, f"no Dask scheduler answers at {scheduler} "
                         f"({exc.strerror or type(exc).__name__})") from None


def die_with_parent() -> None:
    """Worker initialiser: on Linux, ask the kernel to kill this worker when its parent dies."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    except (OSError, AttributeError):
        pass


def run_parallel(function: Callable, tasks: list[tuple], workers: int, scheduler: str | None,
                 on_result: Callable[[Any], None]) -> None:
    """``function(*task)`` for every task, ``on_result`` called with each result as it comes: on a local
    process pool of ``workers`` (``scheduler`` None), on a local Dask cluster (``local``) or on the Dask
    scheduler at an address. A failure (or Ctrl-C) in the pool kills its workers at once and re-raises."""
    if scheduler is None:
        _run_on_pool(function, tasks, workers, on_result)
    else:
        _run_on_dask(function, tasks, workers, scheduler, on_result)


def _run_on_pool(function: Callable, tasks: list[tuple], workers: int, on_result: Callable[[Any], None]) -> None:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    pool = ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent)
    try:
        for future in as_completed([pool.submit(function, *task) for task in tasks]):
            on_result(future.result())
    except BaseException:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()  # work in progress cleans nothing up: callers write atomically
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _run_on_dask(function: Callable, tasks: list[tuple], workers: int, scheduler: str,
                 on_result: Callable[[Any], None]) -> None:
    from distributed import Client, LocalCluster, as_completed
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None) if scheduler == "local" else None
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            for future in as_completed([client.submit(function, *task, pure=False) for task in tasks]):
                on_result(future.result())
    finally:
        if cluster is not None:
            cluster.close()
