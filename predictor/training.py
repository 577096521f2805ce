"""What a predictor learns from: one example per architecture the database timed under a key.

An example pairs an architecture's kernels (from its space's kernel list) with
the key's measured median and a per-op profile. The profile comes from the
key itself when its engine times ops (the native engine, ``lce_benchmark_model``
with op profiling); LCE's interpreter on the host has no per-op timers, so its
profiles are the native engine's on the same flatbuffer, device and threads.

With XNNPACK on, ``lce_benchmark_model`` times each delegate partition (every
maximal run of float ops between LCE's own ops) as one node: those kernels get
no time of their own, and the partition's time is kept with its members.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lce_nas.engine import sentinel
from lce_nas.engine.breakdown import LCE_OPS
from lce_nas.engine.measurement import MeasurementKey, OpTiming
from lce_nas.latency_db import records
from lce_nas.space.base import SearchSpace
from lce_nas.space.kernels import Kernel
from lce_nas.space.shape import DeployShape

from lce_nas.canonical import sha256_hex

#: The engine whose per-op profiles stand in for LCE's interpreter on the host.
PROFILING_ENGINE = "native"
#: Node type of an XNNPACK delegate partition in a TFLite profile.
DELEGATE_NODE = "TfLiteXNNPackDelegate"
#: Name prefix of the rows newer TFLite profilers print per operator inside a delegate.
DELEGATE_OP_PREFIX = "Delegate/"

#: A delegate partition: its kernels' indices and its measured time.
Partition = tuple[tuple[int, ...], float]


@dataclass(frozen=True)
class Example:
    """One timed architecture: its kernels, measured median and per-kernel times (or None).

    A kernel that ran inside a delegate partition has a NaN time; the partition's
    time is in ``partitions``.
    """

    fingerprint: str
    kernels: tuple[Kernel, ...]
    median_ms: float
    kernel_ms: tuple[float, ...] | None
    partitions: tuple[Partition, ...] = ()


@dataclass(frozen=True)
class TrainingSet:
    """The examples for a key, where their profiles came from, and what could not be used."""

    key: MeasurementKey
    profile_key: MeasurementKey | None
    examples: tuple[Example, ...]
    #: Timed architectures whose profile did not line up with their kernel list.
    unaligned: int = 0
    #: Measurements left out because the timing core ran slow (see ``engine.sentinel``).
    slowed: int = 0

    @property
    def profiled(self) -> list[Example]:
        return [e for e in self.examples if e.kernel_ms is not None]


def align(kernels: Sequence[Kernel], profile: Sequence[OpTiming]) -> tuple[float, ...] | None:
    """Each kernel's time from a profile in run order, or None when they do not line up.

    Within one op type the order is always the model's; across types a
    converter may interleave branches differently, so kernels are matched to
    profile rows by (op type, index within that type).

    Example:
        >>> from lce_nas.space.kernels import Kernel
        >>> ks = [Kernel("CONV_2D", (8, 8, 3), (8, 8, 8)), Kernel("ADD", (8, 8, 8), (8, 8, 8))]
        >>> align(ks, [OpTiming("ADD", "a", 0.5), OpTiming("CONV_2D", "c", 2.0)])
        (2.0, 0.5)
    """
    if Counter(k.op for k in kernels) != Counter(r.op_type for r in profile):
        return None
    by_type: dict[str, list[float]] = defaultdict(list)
    for row in profile:
        by_type[row.op_type].append(row.avg_ms)
    seen: Counter[str] = Counter()
    out = []
    for kernel in kernels:
        out.append(by_type[kernel.op][seen[kernel.op]])
        seen[kernel.op] += 1
    return tuple(out)


def delegate_partitions(kernels: Sequence[Kernel]) -> list[tuple[int, ...]]:
    """The maximal runs of kernels outside LCE's own ops, in run order: what XNNPACK takes.

    Example:
        >>> from lce_nas.space.kernels import Kernel
        >>> ks = [Kernel(op, (8, 8, 8), (8, 8, 8)) for op in
        ...       ("CONV_2D", "DEPTHWISE_CONV_2D", "LceQuantize", "LceBconv2d", "ADD")]
        >>> delegate_partitions(ks)
        [(0, 1), (4,)]
    """
    runs: list[list[int]] = []
    for i, kernel in enumerate(kernels):
        if kernel.op in LCE_OPS:
            continue
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return [tuple(run) for run in runs]


def align_delegated(
    kernels: Sequence[Kernel], profile: Sequence[OpTiming]
) -> tuple[tuple[float, ...], tuple[Partition, ...]] | None:
    """Per-kernel times (NaN inside a partition) and partition times from a profile whose
    float ops ran in XNNPACK delegate nodes; None when they do not line up.

    Example:
        >>> from lce_nas.space.kernels import Kernel
        >>> ks = [Kernel(op, (8, 8, 8), (8, 8, 8)) for op in ("CONV_2D", "ADD", "LceQuantize")]
        >>> rows = [OpTiming(DELEGATE_NODE, "d", 3.0), OpTiming("LceQuantize", "q", 1.0)]
        >>> align_delegated(ks, rows)
        ((nan, nan, 1.0), (((0, 1), 3.0),))
    """
    groups = delegate_partitions(kernels)
    delegated = [r.avg_ms for r in profile if r.op_type == DELEGATE_NODE]
    own = [r for r in profile if r.op_type != DELEGATE_NODE]
    members = {i for group in groups for i in group}
    lce = [k for i, k in enumerate(kernels) if i not in members]
    lce_ms = align(lce, own)
    if len(delegated) != len(groups) or lce_ms is None:
        return None
    times = iter(lce_ms)
    kernel_ms = tuple(math.nan if i in members else next(times) for i in range(len(kernels)))
    return kernel_ms, tuple(zip(groups, delegated, strict=True))


def partition_rows(profile: Sequence[OpTiming]) -> list[OpTiming]:
    """``profile`` with each run of a delegate's own per-operator rows (``Delegate/...``)
    summed into one partition row, as older profilers print it.

    XNNPACK fuses and splits TFLite ops its own way (a padded convolution is one
    operator, a mean may be a global pool), so its operators do not line up with
    the kernel list one by one; the partitions they ran in do. A profile that has
    partition rows as well keeps those and drops the per-operator ones.

    Example:
        >>> rows = [OpTiming("Convolution (NHWC, F32) IGEMM", "Delegate/Convolution:0", 2.0),
        ...         OpTiming("Add (ND, F32)", "Delegate/Add (ND, F32):1", 0.5),
        ...         OpTiming("LceQuantize", "q", 1.0)]
        >>> [(r.op_type, r.avg_ms) for r in partition_rows(rows)]
        [('TfLiteXNNPackDelegate', 2.5), ('LceQuantize', 1.0)]
    """
    per_op = [r.name.startswith(DELEGATE_OP_PREFIX) for r in profile]
    if any(r.op_type == DELEGATE_NODE for r in profile):
        return [r for r, inside in zip(profile, per_op, strict=True) if not inside]
    out: list[OpTiming] = []
    for row, inside in zip(profile, per_op, strict=True):
        if not inside:
            out.append(row)
        elif out and out[-1].op_type == DELEGATE_NODE:  # only summed rows are partitions here
            out[-1] = OpTiming(DELEGATE_NODE, DELEGATE_OP_PREFIX, out[-1].avg_ms + row.avg_ms)
        else:
            out.append(OpTiming(DELEGATE_NODE, DELEGATE_OP_PREFIX, row.avg_ms))
    return out


def _same_setting(a: MeasurementKey, b: MeasurementKey) -> bool:
    return (a.device, a.threads, a.deploy_shape) == (b.device, b.threads, b.deploy_shape)


@dataclass(frozen=True)
class Timed:
    """One measurement row, as much of it as a predictor needs."""

    fingerprint: str
    key: MeasurementKey
    median_ms: float
    runs: int
    measured_at: Any
    op_profile: list[dict[str, Any]] | None
    #: How much slower than usual its core ran (None: no speed sentinel).
    slowdown: float | None = None


_COLUMNS = ("fingerprint", "device", "engine", "engine_version", "threads", "kernel_options",
            "extra", "median_ms", "runs", "measured_at", "op_profile", "host_facts")  # fmt: skip


def timed_rows(store: Any, space: SearchSpace[Any], key: MeasurementKey) -> list[Timed]:
    """The measurements a predictor of ``key`` can use: the key's, and profiles of its setting.

    Samples are not read (a lab's database holds thousands of them per key). Each
    row's slowdown is against the typical (median) speed sentinel of the rows read.
    """
    from lce_nas.latency_db.models import ARCHITECTURES, MEASUREMENTS
    from sqlalchemy import select

    query = (
        select(*(MEASUREMENTS.c[name] for name in _COLUMNS))
        .join(ARCHITECTURES, ARCHITECTURES.c.fingerprint == MEASUREMENTS.c.fingerprint)
        .where(MEASUREMENTS.c.device == key.device, ARCHITECTURES.c.space == space.name)
        .order_by(MEASUREMENTS.c.id)
    )
    kept = []
    for row in store._read(lambda conn: [r._mapping for r in conn.execute(query)]):
        row_key = records.row_key(row)
        if row_key == key or (row["op_profile"] and _same_setting(row_key, key)):
            kept.append((row, row_key))
    reference = sentinel.baseline(sentinel.facts_sentinel(row["host_facts"]) for row, _ in kept)
    return [
        Timed(
            row["fingerprint"], row_key, float(row["median_ms"]), int(row["runs"]),
            records.utc(row["measured_at"]), row["op_profile"] or None,
            sentinel.slowdown(row["host_facts"], reference),
        )
        for row, row_key in kept
    ]  # fmt: skip


def signature(rows: Sequence[Timed]) -> str:
    """What a fit depends on (the rows' fingerprints, keys, medians and profiles' presence)."""
    return sha256_hex(
        sorted(
            [
                r.fingerprint,
                sha256_hex(r.key.to_dict()),
                round(r.median_ms, 6),
                bool(r.op_profile),
                sentinel.is_slowed(r.slowdown),
            ]
            for r in rows
        )
    )


def _best(rows: list[Timed]) -> Timed:
    # The cache's own order (most runs, then newest), after a clean core.
    return max(rows, key=lambda r: (not sentinel.is_slowed(r.slowdown), r.runs, r.measured_at))


def training_set(
    store: Any, space: SearchSpace[Any], key: MeasurementKey, rows: Sequence[Timed] | None = None
) -> TrainingSet:
    """Every architecture of ``space`` timed under ``key``, with its kernels and profile.

    Example:
        >>> from lce_nas.latency_db import LatencyStore
        >>> from lce_nas.space import get_space
        >>> key = MeasurementKey("host", "native", "v", 1)
        >>> training_set(LatencyStore("sqlite://"), get_space("quicknet"), key).examples
        ()
    """
    rows = timed_rows(store, space, key) if rows is None else rows
    shape = DeployShape.from_label(key.deploy_shape)
    medians: dict[str, list[Timed]] = defaultdict(list)
    profiles: dict[MeasurementKey, dict[str, list[Timed]]] = defaultdict(lambda: defaultdict(list))
    slowed = 0
    for row in rows:
        # A slowed core's median is the host's state, not the model's.
        if row.key == key and sentinel.is_slowed(row.slowdown):
            slowed += 1
        elif row.key == key:
            medians[row.fingerprint].append(row)
        if row.op_profile:
            profiles[row.key][row.fingerprint].append(row)
    profile_key = _profile_key(key, profiles)
    chosen = profiles.get(profile_key, {}) if profile_key is not None else {}
    # One query for every architecture's config, not one per timed model.
    configs = {row["fingerprint"]: row["config"] for row in store.architectures(space.name)}
    examples, unaligned = [], 0
    for fingerprint, timed in medians.items():
        config = space.config_from_params(configs[fingerprint])
        kernels = tuple(space.kernels(config, shape.input_shape, shape.classes))
        kernel_ms, partitions = None, ()
        if fingerprint in chosen:
            profiled = _best(chosen[fingerprint])
            profile = partition_rows([OpTiming(**r) for r in profiled.op_profile or []])
            if any(r.op_type == DELEGATE_NODE for r in profile):
                kernel_ms, partitions = align_delegated(kernels, profile) or (None, ())
            else:
                kernel_ms = align(kernels, profile)
            total = sum(ms for ms in kernel_ms or () if not math.isnan(ms))
            total += sum(ms for _, ms in partitions)
            if kernel_ms is None:
                unaligned += 1
            elif total > 0:
                # Profile passes see more noise than the timed median of the same
                # session: keep each kernel's share, scaled to that median.
                scale = profiled.median_ms / total
                kernel_ms = tuple(ms * scale for ms in kernel_ms)
                partitions = tuple((group, ms * scale) for group, ms in partitions)
        median = _best(timed).median_ms
        examples.append(Example(fingerprint, kernels, median, kernel_ms, partitions))
    return TrainingSet(key, profile_key, tuple(examples), unaligned, slowed)


def _profile_key(
    key: MeasurementKey, profiles: dict[MeasurementKey, dict[str, list[Timed]]]
) -> MeasurementKey | None:
    """The key whose profiles train the kernels: ``key``'s own, else the profiling engine's."""
    if profiles.get(key):
        return key
    stand_ins = [k for k in profiles if k.engine == PROFILING_ENGINE]
    if not stand_ins:
        return None
    # The engine version with the most profiled architectures (newest on a tie).
    return max(stand_ins, key=lambda k: (len(profiles[k]), k.engine_version))
