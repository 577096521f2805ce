"""``measure``: time one model on one device and return its latency distribution."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lce_nas.engine.adaptive import Progress, RunPolicy, TimingRequest
from lce_nas.engine.breakdown import classify
from lce_nas.engine.convert import model_sha256
from lce_nas.engine.devices import Device, HostDevice, RemoteDevice, get_device
from lce_nas.engine.measurement import DEFAULT_DEPLOY_SHAPE, Measurement, MeasurementKey
from lce_nas.engine.tflite_info import load_tflite


def tflite_fingerprint(tflite: bytes) -> str:
    """The fingerprint of a bare ``.tflite`` (not built from a space): ``tflite:<sha256>``.

    Example:
        >>> tflite_fingerprint(b"x")[:15]
        'tflite:2d711642'
    """
    return f"tflite:{model_sha256(tflite)}"


def _device(device: Device | str) -> Device:
    return get_device(device) if isinstance(device, str) else device


def measurement_key(
    device: Device | str, deploy_shape: str = DEFAULT_DEPLOY_SHAPE
) -> MeasurementKey:
    """The cache key a measurement on ``device`` of a model of ``deploy_shape`` will have.

    Example:
        >>> measurement_key("host").engine  # doctest: +SKIP
        'lce-interpreter'
    """
    device = _device(device)
    if isinstance(device, HostDevice):
        from lce_nas.engine.host import host_engine

        engine, version = host_engine(device)
    else:
        from lce_nas.engine.remote import REMOTE_ENGINE

        assert isinstance(device, RemoteDevice)
        engine, version = REMOTE_ENGINE, device.engine_version or "unknown"
    return MeasurementKey(
        device.name, engine, version, device.threads, device.kernel_options, deploy_shape
    )


def measure(
    tflite: bytes | str | Path,
    device: Device | str,
    *,
    profile: bool = False,
    max_seconds: float | None = None,
    fingerprint: str | None = None,
    progress: Progress | None = None,
    warn: Progress | None = None,
) -> Measurement:
    """Time a model on a device: warm up, repeat until the median is stable, summarise.

    ``tflite`` is the flatbuffer or a path to it; ``device`` a :class:`Device`
    or a profile name. ``profile=True`` adds a per-op profile and its
    breakdown (first layer, binary convs, glue, last layer); on the host it
    needs the native engine. ``max_seconds`` overrides the device's time cap.
    ``progress`` receives short status lines, ``warn`` retry notices.

    Example:
        >>> m = measure("quicknet_small.tflite", "host")  # doctest: +SKIP
        >>> round(m.median_ms), m.runs, m.kernel_options["use_indirect_bgemm"]  # doctest: +SKIP
        (24, 180, True)
    """
    data = load_tflite(tflite)
    device = _device(device)
    sha = model_sha256(data)
    policy = RunPolicy.from_device(device, max_seconds=max_seconds)
    timing = TimingRequest(policy, profile, progress)
    if isinstance(device, HostDevice):
        from lce_nas.engine.host import measure_host

        result = measure_host(data, device, timing)
    else:
        from lce_nas.engine.remote import measure_remote

        assert isinstance(device, RemoteDevice)
        transport = device.open_transport(warn=warn)
        try:
            result = measure_remote(data, sha, device, transport, timing)
        finally:
            transport.close()
    breakdown = None
    op_profile = result.op_profile
    if op_profile:
        op_profile, breakdown = classify(op_profile)
    return dataclasses.replace(
        result,
        model_sha256=sha,
        fingerprint=fingerprint or tflite_fingerprint(data),
        op_profile=op_profile,
        breakdown_ms=breakdown,
    )
