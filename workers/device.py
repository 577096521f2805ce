"""Device workers: one Ray actor per physical device, so two timings never share it.

The actor builds the deploy model, converts it with LCE, times it with the
engine and records architecture and measurement in the latency database; a
known key is answered from the database without touching the device.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lce_nas.engine.devices import Device, HostDevice
from lce_nas.engine.measurement import DEFAULT_DEPLOY_SHAPE, Measurement

#: Extra timings of a candidate whose speed sentinel says the core ran slow.
SLOWED_RETIMES = 1


@dataclass
class LatencyResult:
    """What a device worker returns for one candidate.

    ``cached`` says the measurement came from the database; ``convert_s`` and
    ``measure_s`` are the time spent building + converting and timing (zero
    for a cached answer); ``started``/``finished`` are wall-clock stamps.
    """

    fingerprint: str
    measurement: Measurement
    measurement_id: int | None
    cached: bool
    convert_s: float = 0.0
    measure_s: float = 0.0
    started: float = 0.0
    finished: float = 0.0
    worker_pid: int = field(default_factory=os.getpid)
    node_id: str = ""


def time_candidate(
    space_name: str,
    params: dict[str, Any],
    device: Device,
    store_url: str,
    *,
    fresh: bool = False,
    profile: bool | None = None,
    lookup: bool = True,
    deploy_shape: str = DEFAULT_DEPLOY_SHAPE,
    predicted: dict[str, Any] | None = None,
) -> LatencyResult:
    """Latency of one architecture on ``device``: from the cache, or built, converted and timed.

    The deploy model is built at ``deploy_shape`` (``HxWxC/classes``), which is
    part of the latency's key: a latency of another shape never answers.
    ``lookup=False`` is for a caller that has looked the cache up already (a
    miss) and stored the architecture (the search loop). The worker still
    checks the latency cache once more right before timing, on the device's
    own queue: a second driver (a resumed search, another search on the same
    cluster) may have timed the model since, and one model is never timed
    twice. ``fresh`` measures again even on a hit. ``predicted`` (the latency
    predictor's estimate) is stored with a new measurement, beside what it measured.

    Every timed candidate also gets a per-op latency breakdown where one can be
    had (``profile=None``): remote devices profile with ``lce_benchmark_model``
    in one extra call, the native host engine profiles itself, and for LCE's
    interpreter on the host (which has no per-op timers) the native engine
    profiles the same flatbuffer on the same pinned core, stored as its own
    measurement under the native engine's key.

    Example:
        >>> r = time_candidate("quicknet", {"section_blocks": [1, 1, 1, 1]},
        ...                    get_device("host"), "sqlite:///lce-nas.db")  # doctest: +SKIP
        >>> r.cached, round(r.measurement.median_ms)  # doctest: +SKIP
        (False, 9)
    """
    from lce_nas.engine import measure, measurement_key
    from lce_nas.latency_db import open_store
    from lce_nas.space import get_space
    from lce_nas.space.shape import DeployShape

    started = time.time()
    space = get_space(space_name)
    config = space.config_from_params(params)
    fingerprint = space.fingerprint(config)
    store = open_store(store_url)
    if not fresh:
        row = store.lookup_measurement_row(fingerprint, measurement_key(device, deploy_shape))
        if row is not None:
            from lce_nas.latency_db.records import measurement_from_row

            return LatencyResult(
                fingerprint,
                measurement_from_row(row),
                row["id"],
                True,
                started=started,
                finished=time.time(),
            )
    if lookup:
        store.record_config(space, config)
    from lce_nas.engine.convert import convert_deploy

    t0 = time.perf_counter()
    _, tflite = convert_deploy(space, config, DeployShape.from_label(deploy_shape))
    t1 = time.perf_counter()
    companion = None
    if profile is None:
        companion = _native_profiler(device)
        profile = companion is None and device.times_ops
    measurement, measurement_id = _measure_and_record(
        store,
        lambda: measure(tflite, device, profile=profile, fingerprint=fingerprint),
        deploy_shape=deploy_shape,
        predicted=predicted,
    )
    t2 = time.perf_counter()
    if companion is not None:
        # Only a breakdown: a failure here must not lose the latency above.
        try:
            breakdown = measure(tflite, companion, profile=True, fingerprint=fingerprint)
            breakdown.deploy_shape = deploy_shape
            store.record_measurement(breakdown)
        except Exception as err:
            logging.getLogger(__name__).warning(
                "no latency breakdown for %s: %s", fingerprint[:12], err
            )
    return LatencyResult(
        fingerprint,
        measurement,
        measurement_id,
        False,
        convert_s=t1 - t0,
        measure_s=t2 - t1,
        started=started,
        finished=time.time(),
    )


def _measure_and_record(
    store: Any, timing: Callable[[], Measurement], *, deploy_shape: str, predicted: Any
) -> tuple[Measurement, int]:
    """Time and record a candidate; once more when the speed sentinel says the core was slow.

    Both measurements are recorded (none is discarded); the one timed on the
    faster core is returned. See :mod:`lce_nas.engine.sentinel`.
    """
    from lce_nas.engine.sentinel import is_slowed

    timed: list[tuple[float, Measurement, int]] = []
    for attempt in range(1 + SLOWED_RETIMES):
        measurement = timing()
        measurement.deploy_shape = deploy_shape
        measurement.predicted = predicted
        if timed:
            # Names the slowed measurement it re-times: an audit (or a test) can tell
            # a re-time on a slow core from a model timed twice.
            measurement.host_facts["retime_of"] = timed[-1][2]
        factor = store.slowdown(measurement)
        timed.append((factor or 1.0, measurement, store.record_measurement(measurement)))
        if not is_slowed(factor):
            break
        logging.getLogger(__name__).warning(
            "%s: the timing core ran %.2fx slower than usual while this was timed%s",
            (measurement.fingerprint or "model")[:12],
            factor,
            "; timing it again" if attempt < SLOWED_RETIMES else "",
        )
    _, measurement, measurement_id = min(timed, key=lambda t: t[0])
    return measurement, measurement_id


def _native_profiler(device: Device) -> Device | None:
    """The host device on the native engine, for breakdowns of LCE-interpreter timings."""
    if not isinstance(device, HostDevice) or device.engine != "lce":
        return None
    from lce_nas.engine import native

    if not native.is_available():
        return None
    import dataclasses

    # A short run: the profile, not the median, is what this measurement is for.
    return dataclasses.replace(device, engine="native", max_seconds=min(device.max_seconds, 5.0))


class DeviceWorker:
    """The body of the per-device Ray actor (see :class:`lce_nas.workers.Pool`).

    Ray runs one method call at a time on an actor, which is what serialises
    the timings on its device. On the host, the actor's own work (building
    and converting) stays off the cores reserved for timing.
    """

    def __init__(self, device: Device, store_url: str, avoid_cpus: tuple[int, ...] = ()) -> None:
        import ray
        from lce_nas.latency_db.connect import expect_reachable

        self.device = device
        self.store_url = store_url
        self.node_id = ray.get_runtime_context().get_node_id()
        # The search reached this database: a refused connection is a restart to wait out.
        expect_reachable(store_url)
        self._device_recorded = False
        if avoid_cpus:
            allowed = set(os.sched_getaffinity(0)) - set(avoid_cpus)
            if allowed:
                os.sched_setaffinity(0, allowed)

    def latency(self, space_name: str, params: dict[str, Any], **options: Any) -> LatencyResult:
        """Time one candidate; ``options`` are :func:`time_candidate`'s keywords."""
        if not self._device_recorded:
            from lce_nas.latency_db import open_store

            # Once per actor, not per candidate: the device's spec does not change under it.
            store = open_store(self.store_url)
            store.record_device(self.device.name, self.device.kind, self.device.to_spec())
            self._device_recorded = True
        result = time_candidate(space_name, params, self.device, self.store_url, **options)
        result.node_id = self.node_id
        return result

    def placement(self) -> tuple[str, int]:
        """The actor's Ray node and the number of cores of that machine (or container)."""
        from lce_nas.engine.devices import machine_cpus

        return self.node_id, len(machine_cpus())

    def pid(self) -> int:
        """The actor's process id (tests kill it to check restarts)."""
        return os.getpid()
