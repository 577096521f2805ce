"""Full-integer (int8) models: each int8 op against LCE's interpreter, on several scales
and zero points, and whole int8 BNNs.

TFLite's integer kernels round twice (a fixed-point multiply, then a shift), LCE's optimised
ones sometimes once, and a few int8 activations come from tables built differently; so an
int8 result may be one unit (one step of its scale) away from LCE's, never more.
"""

from __future__ import annotations

import numpy as np
import pytest
from lce_nas.engine import native
from lce_nas.engine.native.plan import NativeModelError, read_plan
from native_models import INT8_RANGES, int8_ops_model
from native_support import convert_int8, inputs_for, lce_run, native_run

INT8_OPS = {
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MAX_POOL_2D",
    "AVERAGE_POOL_2D", "MEAN", "SOFTMAX", "CONCATENATION", "PAD", "QUANTIZE", "SUB", "RELU",
    "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "LceQuantize", "LceBconv2d", "LceDequantize",
}  # fmt: skip


def _random_ranges(seed: int) -> list[tuple[float, float]]:
    """Fake-quantization ranges with random widths and offsets (so random zero points)."""
    rng = np.random.default_rng(seed)
    lows = -rng.uniform(0.5, 6.0, 5)
    return [(float(low), float(low + rng.uniform(2.0, 10.0))) for low in lows]


_GRIDS = {
    "fixed-int8": (INT8_RANGES, "int8"),
    "fixed-float-io": (INT8_RANGES, "float32"),
    "random-int8": (_random_ranges(11), "int8"),
}
_cache: dict[str, bytes] = {}


def _grid(name: str) -> bytes:
    if name not in _cache:
        ranges, io = _GRIDS[name]
        _cache[name] = convert_int8(int8_ops_model(ranges=ranges), seed=7, io=io)
    return _cache[name]


def _units_apart(plan, index: int, got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """How many steps of the int8 tensor behind output ``index`` two outputs differ by."""
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    if got.dtype == np.int8:
        return diff
    # A float output is a DEQUANTIZE of an int8 tensor: count in its steps.
    dequantize = next(op for op in plan.ops if op.outputs[0] == plan.outputs[index])
    step = plan.tensors[dequantize.inputs[0]].quantization.scales[0]
    return np.round(diff / step, 3)


@pytest.mark.parametrize("name", sorted(_GRIDS))
def test_every_int8_op_is_within_one_unit_of_lce(name):
    tflite = _grid(name)
    plan = read_plan(tflite)
    assert {op.type for op in plan.ops} >= INT8_OPS
    # Non-zero zero points are in play on inputs and outputs.
    assert any(t.quantization and t.quantization.zero_points[0] != 0 for t in plan.tensors)
    x = inputs_for(tflite, seed=3)
    if x.dtype == np.float32:
        x = x * np.float32(2.0)  # spread over the input's range, saturating some values
    want = lce_run(tflite, x)
    outputs = {}
    for kernels in native.available_kernels():
        got = native_run(tflite, x, kernels=kernels)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert g.dtype == w.dtype and g.shape == w.shape
            units = _units_apart(plan, i, g, w)
            assert units.max() <= 1, (kernels, plan.tensors[plan.outputs[i]].name, units.max())
        outputs[kernels] = got
    # The binary convolutions' int8 output goes through each kernel set's output
    # transform: every set gives the portable reference's bytes.
    for got in outputs.values():
        for g, p in zip(got, outputs["portable"], strict=True):
            np.testing.assert_array_equal(g, p)


def test_most_int8_results_equal_lce_exactly():
    """One unit is the allowance, not the rule: a systematic error (a wrong zero point, a
    rounding off by half) would move far more than a few values."""
    tflite = _grid("fixed-int8")
    x = inputs_for(tflite, seed=5)
    got, want = native_run(tflite, x), lce_run(tflite, x)
    differing = sum(int((g != w).sum()) for g, w in zip(got, want, strict=True))
    total = sum(w.size for w in want)
    assert differing / total < 0.02, f"{differing} of {total} values differ"


def test_an_int8_bnn_runs_end_to_end_like_lce():
    """LCE's own int8 end-to-end model (fake-quantized binary convolutions, int8 in and
    out): int8 CONV_2D-free, LceQuantize on int8, LceBconv2d writing int8, MEAN."""
    import tensorflow as tf
    from native_models import lce_int8_toy_model

    tflite = convert_int8(lce_int8_toy_model(), seed=2)
    plan = read_plan(tflite)
    assert plan.tensors[plan.inputs[0]].dtype == "int8"
    assert {"LceQuantize", "LceBconv2d", "MEAN"} <= {op.type for op in plan.ops}
    x = inputs_for(tflite, seed=4)
    got, want = native_run(tflite, x), lce_run(tflite, x)
    assert np.abs(got[0].astype(int) - want[0].astype(int)).max() <= 1
    tf.keras.backend.clear_session()


def test_int8_zero_padding_binary_convolution_is_refused_as_lce_does():
    """LCE's optimised kernels run pad_values=0 only with float output; so does the engine."""
    import tensorflow as tf
    from native_models import int8_zero_padding_model

    tflite = convert_int8(int8_zero_padding_model(), seed=1)
    with pytest.raises(NativeModelError, match=r"LceBconv2d.*pad_values=0"):
        native.load(tflite)
    tf.keras.backend.clear_session()
