"""Worker processes for a run's CPU-bound pure work: GX validations and chart drawing.

Why: Dagster's in-process executor runs one step at a time, so a run used one of the
machine's cores. GX validations (~90 per cold run) and PNG charts (~30) are pure functions of
small frames and dominate the steps that run them; in worker processes they run on the other
cores, and great-expectations is imported there (in parallel with the run's ingest and SQL)
instead of on the run's critical path.

``ALTFLOW_WORKERS``: number of worker processes (default: CPU cores, at most 4); ``0`` does
everything in-process, as before. A pool that breaks (a worker killed) falls back to
in-process work with one warning; results never depend on where they were computed.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("altflow.workers")

_POOL: cf.ProcessPoolExecutor | None = None
_LOCK = threading.Lock()
_BROKEN = False


def count() -> int:
    raw = os.environ.get("ALTFLOW_WORKERS", "").strip()
    if not raw:
        return min(os.cpu_count() or 1, 4)
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"ALTFLOW_WORKERS={raw!r}: expected a whole number >= 0") from exc
    if value < 0:
        raise ValueError(f"ALTFLOW_WORKERS={raw!r}: expected a whole number >= 0")
    return value


def _exit_with_parent(parent: int) -> None:
    """A worker whose run process died (SIGKILL leaves no time to stop the pool) exits too,
    instead of holding memory and the run's stdout open."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _warm(steps: Sequence[str], parent: int) -> None:
    """Worker initializer: watch the parent, then import each ``module`` (and call
    ``module:function``) once."""
    import importlib

    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    # a worker holds no state: at exit skip the interpreter's teardown of GX, pandas and
    # matplotlib (about a second, for which the run's own exit waited)
    atexit.register(os._exit, 0)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    for step in steps:
        module, _, function = step.partition(":")
        loaded = importlib.import_module(module)
        if function:
            getattr(loaded, function)()


def start(warm: Sequence[str] = ()) -> bool:
    """Start the pool (once per process), each worker running the ``warm`` steps
    (``module`` or ``module:function``); False when workers are off."""
    global _POOL
    with _LOCK:
        if _POOL is not None:
            return True
        if _BROKEN or count() == 0:
            return False
        context = multiprocessing.get_context("spawn")  # no fork of DuckDB's threads
        _POOL = cf.ProcessPoolExecutor(
            max_workers=count(), mp_context=context, initializer=_warm,
            initargs=(tuple(warm), os.getpid()),
        )
        # start every worker now, so their imports overlap the run's first steps
        for _ in range(count()):
            _POOL.submit(int)
        return True


def stop() -> None:
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(stop)


def run_all(fn: Callable[..., T], calls: Iterable[tuple[Any, ...]]) -> list[T]:
    """``[fn(*args) for args in calls]``, in worker processes when the pool is running.

    ``fn`` must be a module-level function and its arguments picklable. An exception raised
    by ``fn`` is raised here, as it would be in-process.
    """
    calls = list(calls)
    pool = _POOL
    if pool is None or len(calls) == 0:
        return [fn(*args) for args in calls]
    try:
        futures = [pool.submit(fn, *args) for args in calls]
    except (cf.BrokenExecutor, RuntimeError) as exc:  # a worker died, or shutdown began
        return _in_process_after(exc, fn, calls)
    try:
        return [f.result() for f in futures]
    except cf.BrokenExecutor as exc:
        return _in_process_after(exc, fn, calls)


def _in_process_after(exc: BaseException, fn: Callable[..., T],
                      calls: list[tuple[Any, ...]]) -> list[T]:
    global _BROKEN
    with _LOCK:
        _BROKEN = True
    log.warning("worker processes unavailable (%s); working in-process", exc)
    stop()
    return [fn(*args) for args in calls]
