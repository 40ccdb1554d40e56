"""Where independent tasks run: in this process, in local processes, or on Ray.

Tasks are pure functions of picklable arguments, so every backend returns the
same results in the same order (tests check it).  Ray is an optional extra
(``pip install 'suanli[ray]'``), imported only when asked for.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence, TypeVar

from suanli.errors import InvalidInput

T = TypeVar("T")
R = TypeVar("R")
BACKENDS = ("local", "serial", "ray")


def run_tasks(fn: Callable[[T], R], items: Sequence[T], *, backend: str = "local", address: str | None = None,
              progress: Callable[[int, int], None] | None = None, workers: int | None = None) -> list[R]:
    """``[fn(x) for x in items]`` on the chosen backend, results in input order.

    ``local`` uses a process pool of ``min(len(items), cpu_count)`` workers
    (a single task runs in-process: forking would only add latency);
    ``serial`` runs in this process; ``ray`` submits one remote task per item to
    ``ray.init(address=address)`` (a local Ray instance when ``address`` is None).
    """
    if backend not in BACKENDS:
        raise InvalidInput(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}", field="backend")
    total = len(items)
    if backend == "serial" or (backend == "local" and total <= 1):
        out = []
        for i, item in enumerate(items):
            out.append(fn(item))
            if progress:
                progress(i + 1, total)
        return out
    if backend == "local":
        return _local(fn, items, progress, workers)
    return _ray(fn, items, address, progress)


def _local(fn: Callable[[T], R], items: Sequence[T], progress: Callable[[int, int], None] | None,
           workers: int | None) -> list[R]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    n = workers or min(len(items), os.cpu_count() or 1)
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    results: list[Any] = [None] * len(items)
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for done, fut in enumerate(as_completed(futures), start=1):
            results[futures[fut]] = fut.result()
            if progress:
                progress(done, len(items))
    return results


def _ray(fn: Callable[[T], R], items: Sequence[T], address: str | None,
         progress: Callable[[int, int], None] | None) -> list[R]:
    try:
        import ray
    except ImportError:
        raise InvalidInput("the ray backend needs Ray: pip install 'suanli[ray]'", field="backend") from None
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs.update(num_cpus=os.cpu_count() or 1, include_dashboard=False)
        ray.init(**kwargs)
    remote = ray.remote(fn)
    refs = [remote.remote(item) for item in items]
    pending = list(refs)
    done_count = 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        done_count += len(ready)
        if progress:
            progress(done_count, len(items))
    return list(ray.get(refs))
