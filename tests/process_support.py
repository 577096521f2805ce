"""Work that builds many TensorFlow models runs in fresh processes.

TensorFlow keeps part of every model a process builds and converts (about
0.2 GB per sampled deploy model and conversion here): sixty of them in one
process outgrow the machine. Building Keras models is single-threaded Python,
so two processes also use both cores.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def interleaved(items: Sequence[T], parts: int = 2) -> list[list[T]]:
    """``items`` dealt into ``parts`` lists (every ``parts``-th item), empty ones left out.

    Example:
        >>> interleaved([1, 2, 3])
        [[1, 3], [2]]
    """
    return [list(items[i::parts]) for i in range(parts) if items[i::parts]]


def in_fresh_process(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in a new Python process: its result, or its exception raised here."""
    return in_fresh_processes(func, [args])[0]


def in_fresh_processes(
    func: Callable[..., T], calls: Sequence[Sequence[Any]], workers: int = 2
) -> list[T]:
    """``func(*args)`` for each ``args`` of ``calls``, each in a new process, ``workers``
    at a time; results in order, or the first exception raised here."""
    context = multiprocessing.get_context("spawn")
    workers = min(workers, len(calls))
    with ProcessPoolExecutor(workers, mp_context=context, max_tasks_per_child=1) as pool:
        futures = [pool.submit(func, *args) for args in calls]
        return [future.result() for future in futures]
