"""Engines: LCE conversion and latency measurement on the host and on remote devices.

The public names load lazily, so ``import lce_nas.engine`` stays cheap:

    from lce_nas.engine import measure, get_device
    m = measure("model.tflite", get_device("host"))
"""

from __future__ import annotations

from lce_nas.lazy import lazy_exports

_EXPORTS = {
    "measure": "lce_nas.engine.measuring",
    "measurement_key": "lce_nas.engine.measuring",
    "tflite_fingerprint": "lce_nas.engine.measuring",
    "Device": "lce_nas.engine.devices",
    "HostDevice": "lce_nas.engine.devices",
    "SshDevice": "lce_nas.engine.devices",
    "AdbDevice": "lce_nas.engine.devices",
    "get_device": "lce_nas.engine.devices",
    "list_devices": "lce_nas.engine.devices",
    "Measurement": "lce_nas.engine.measurement",
    "MeasurementKey": "lce_nas.engine.measurement",
    "OpTiming": "lce_nas.engine.measurement",
}

# Lazy, so that importing the package loads nothing heavy.
__getattr__, __all__ = lazy_exports("lce_nas.engine", _EXPORTS)
