"""A latency database whose timings follow a known per-kernel cost, for the predictor's tests.

Every kernel takes ``FIXED_US`` plus time proportional to its work (with a
per-op-type rate and a few per cent of seeded noise), the way the native
engine's profiles look; the model's median is the kernels' sum plus the
engine's per-inference overhead. The rest of the path (kernel lists, the
store, alignment, fitting) is the real one.
"""

from __future__ import annotations

import math

import numpy as np
import optuna
from lce_nas.engine import native
from lce_nas.engine.measurement import Measurement, OpTiming
from lce_nas.latency_db import LatencyStore
from lce_nas.predictor.calibration import calibration_configs
from lce_nas.space import get_space
from lce_nas.space.kernels import Kernel
from lce_nas.space.shape import DeployShape

# The native engine's real key on this machine, so that `lce-nas predict --engine native` finds it.
NATIVE = dict(device="host", engine="native", engine_version=native.engine_version(), threads=1)
LCE = dict(device="host", engine="lce-interpreter", engine_version="0.16.0", threads=1,
           kernel_options={"use_xnnpack": True})  # fmt: skip
#: A Raspberry Pi timed by lce_benchmark_model with XNNPACK: float ops run in delegate partitions.
RPI4_XNNPACK = dict(device="rpi4", engine="lce_benchmark_model", engine_version="0.16.0",
                    threads=4, kernel_options={"use_xnnpack": True})  # fmt: skip
SHAPE = DeployShape()
FIXED_US = 4.0
OVERHEAD_MS = 0.05
# Picoseconds per unit of work, by op type.
RATES = {"LceBconv2d": 0.5, "CONV_2D": 20.0, "DEPTHWISE_CONV_2D": 40.0, "FULLY_CONNECTED": 30.0}
ELEMENTWISE_RATE = 150.0
#: How much slower LCE's interpreter is than the native engine on binary convs, in the data.
LCE_BINARY_FACTOR = 6.0

optuna.logging.set_verbosity(optuna.logging.WARNING)


def kernel_ms(kernel: Kernel) -> float:
    work = kernel.binary_macs or kernel.float_macs or max(kernel.in_elements, kernel.out_elements)
    rate = RATES.get(kernel.op, ELEMENTWISE_RATE)
    return (FIXED_US + rate * work / 1e6) / 1e3


def true_ms(kernels: list[Kernel], binary_factor: float = 1.0) -> float:
    return OVERHEAD_MS + sum(
        kernel_ms(k) * (binary_factor if k.op == "LceBconv2d" else 1.0) for k in kernels
    )


def _measurement(median: float, fingerprint: str, rng, profile=None, **key) -> Measurement:
    samples = list(median * (1 + 0.01 * rng.standard_normal(9)))
    return Measurement.from_samples(samples, fingerprint=fingerprint, op_profile=profile, **key)


def record_timed(store: LatencyStore, space, config, rng, noise: float = 0.02) -> float:
    """Record a native measurement with a profile and an LCE one without; the native median."""
    store.record_config(space, config)
    fingerprint = space.fingerprint(config)
    kernels = space.kernels(config, SHAPE.input_shape, SHAPE.classes)
    profile = [
        OpTiming(k.op, f"op{i}", kernel_ms(k) * (1 + noise * rng.standard_normal()))
        for i, k in enumerate(kernels)
    ]
    native = true_ms(kernels)
    store.record_measurement(_measurement(native, fingerprint, rng, profile, **NATIVE))
    lce = true_ms(kernels, LCE_BINARY_FACTOR)
    store.record_measurement(_measurement(lce, fingerprint, rng, **LCE))
    return native


def calibrated_store(url: str, n: int = 40, seed: int = 0, space_name: str = "quicknet"):
    """A store holding the presets and ``n`` calibration configs, timed as above."""
    space = get_space(space_name)
    store = LatencyStore(url)
    rng = np.random.default_rng(seed)
    configs = [*space.presets().values(), *calibration_configs(space, n, seed)]
    for config in configs:
        record_timed(store, space, config, rng)
    return store, space, configs


def within(predicted: float, measured: float, tolerance: float = 0.10) -> bool:
    return math.isclose(predicted, measured, rel_tol=tolerance)


def record_delegated(
    store: LatencyStore, space, config, rng, noise: float = 0.02, per_operator: bool = False
) -> float:
    """Record an XNNPACK-style measurement: LCE's ops profiled one by one, every run of
    float ops as one delegate node timed as the sum of its kernels; the median.

    With ``per_operator``, a run is printed as XNNPACK's own operators instead
    (``Delegate/...`` rows, as newer profilers do), each elementwise op fused
    into the operator before it, so the rows do not match the kernels one by one.
    """
    from lce_nas.predictor.training import DELEGATE_NODE, delegate_partitions

    store.record_config(space, config)
    kernels = space.kernels(config, SHAPE.input_shape, SHAPE.classes)
    starts = {group[0]: group for group in delegate_partitions(kernels)}
    inside = {i for group in starts.values() for i in group}
    profile = []
    for i, kernel in enumerate(kernels):
        jitter = 1 + noise * rng.standard_normal()
        if i in starts and per_operator:
            for j in starts[i]:
                ms = kernel_ms(kernels[j]) * jitter
                if j != i and kernels[j].op in ("ADD", "MUL"):
                    last = profile[-1]
                    profile[-1] = OpTiming(last.op_type, last.name, last.avg_ms + ms)
                else:
                    profile.append(OpTiming(f"{kernels[j].op} (F32)", f"Delegate/{j}", ms))
        elif i in starts:
            ms = sum(kernel_ms(kernels[j]) for j in starts[i]) * jitter
            profile.append(OpTiming(DELEGATE_NODE, f"partition{i}", ms))
        elif i not in inside:
            profile.append(OpTiming(kernel.op, f"op{i}", kernel_ms(kernel) * jitter))
    median = true_ms(kernels)
    fingerprint = space.fingerprint(config)
    store.record_measurement(_measurement(median, fingerprint, rng, profile, **RPI4_XNNPACK))
    return median
