"""The speed sentinel: a fixed workload timed on the timing core all through a host measurement.

A virtual machine's host, a noisy neighbour or a thermal limit can slow a core
by tens of percent for minutes, with no sign in load or steal time; a latency
timed then belongs to the host's state, not to the model. The host worker runs
the sentinel (about a millisecond of fixed work) before warming the model up
and then every :data:`SENTINEL_INTERVAL_S` between runs, on the same pinned
core, and the measurement keeps the median (``host_facts["sentinel_ms"]``).

Against the device's typical sentinel (the median of its recent measurements',
its *baseline*), a measurement's sentinel says how much slower the core ran
than usual: its *slowdown*. A measurement over :data:`SLOWDOWN_LIMIT` is kept
and flagged (``lce-nas bench`` warns, a search's device worker times the model
once more), and predictor training leaves it out. ``benchmarks/speed_sentinel.py``
shows how the sentinel and a model's median move together on a machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

#: Bumped whenever the workload changes: sentinels of another version never compare.
SENTINEL_VERSION = "2"
#: A measurement whose sentinel ran this much slower than the baseline counts as slowed.
SLOWDOWN_LIMIT = 1.3
#: Seconds of model runs between two sentinel samples (about 0.5 % of the timing).
SENTINEL_INTERVAL_S = 0.25
#: Measurements a device needs before its baseline (and so any verdict) exists.
MIN_BASELINE_MEASUREMENTS = 5
# 8 KB per array, 20 KB in all: inside L1 on every core the project times, so
# the sentinel sees the core (clock, sharing), not where the allocator put it.
_WORDS = 1 << 10
_ROUNDS = 200


def sentinel_ms(repeats: int = 1) -> float:
    """The fastest of ``repeats`` runs of the fixed workload, in milliseconds.

    The workload mixes 64-bit integer logic (as bit-packed convolutions do)
    with float multiply-adds, all in place.

    Example:
        >>> sentinel_ms() > 0
        True
    """
    words = np.arange(_WORDS, dtype=np.uint64)
    floats = np.linspace(0.0, 1.0, _WORDS, dtype=np.float32)
    shifted = np.empty_like(words)
    shift, odd = np.uint64(29), np.uint64(0x9E3779B97F4A7C15)
    scale, offset = np.float32(0.999), np.float32(0.5)
    best = float("inf")
    for _ in range(repeats):
        x, f = words.copy(), floats.copy()
        start = time.perf_counter_ns()
        for _ in range(_ROUNDS):
            np.right_shift(x, shift, out=shifted)
            np.bitwise_xor(x, shifted, out=x)
            np.multiply(x, odd, out=x)
            np.multiply(f, scale, out=f)
            np.add(f, offset, out=f)
        best = min(best, (time.perf_counter_ns() - start) / 1e6)
    return best


def sentinel_facts(samples: list[float]) -> dict[str, Any]:
    """What a measurement keeps of its sentinel samples (merged into its host facts).

    Example:
        >>> sentinel_facts([1.0, 1.2, 3.0])["sentinel_ms"]
        1.2
    """
    return {
        "sentinel_ms": round(statistics.median(samples), 4),
        "sentinel_samples": len(samples),
        "sentinel_version": SENTINEL_VERSION,
    }


def facts_sentinel(host_facts: Mapping[str, Any] | None) -> float | None:
    """A measurement's median sentinel, or None when it has none of this version.

    Example:
        >>> facts_sentinel({"sentinel_ms": 2.4, "sentinel_version": SENTINEL_VERSION})
        2.4
        >>> facts_sentinel({"cpu_model": "x"}) is None
        True
    """
    if not host_facts or host_facts.get("sentinel_version") != SENTINEL_VERSION:
        return None
    value = host_facts.get("sentinel_ms")
    return float(value) if isinstance(value, int | float) and value > 0 else None


def baseline(sentinels: Iterable[float | None]) -> float | None:
    """The device's typical sentinel: the median of the known ones (None below the minimum).

    Example:
        >>> baseline([2.0, None, 2.2, 2.1, 4.0, 2.3])
        2.2
        >>> baseline([2.0, 2.1]) is None
        True
    """
    known = [s for s in sentinels if s is not None]
    return statistics.median(known) if len(known) >= MIN_BASELINE_MEASUREMENTS else None


def slowdown(host_facts: Mapping[str, Any] | None, reference_ms: float | None) -> float | None:
    """How much slower the core ran during a measurement than ``reference_ms`` (1.0: as usual).

    Example:
        >>> slowdown({"sentinel_ms": 2.6, "sentinel_version": SENTINEL_VERSION}, 2.0)
        1.3
        >>> slowdown({"sentinel_ms": 2.6, "sentinel_version": SENTINEL_VERSION}, None) is None
        True
    """
    value = facts_sentinel(host_facts)
    if value is None or not reference_ms:
        return None
    return round(value / reference_ms, 6)


def is_slowed(factor: float | None, limit: float = SLOWDOWN_LIMIT) -> bool:
    """Whether a slowdown factor is over the limit (an unknown one is not).

    Example:
        >>> is_slowed(1.5), is_slowed(1.1), is_slowed(None)
        (True, False, False)
    """
    return factor is not None and factor > limit
