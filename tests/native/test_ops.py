"""Single-op grids: every LceBconv2d option and the float glue ops against LCE's interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from lce_nas.engine import native
from lce_nas.engine.native.plan import read_plan
from native_models import BCONV_INPUTS, bconv_grid_model, common_bnns_model, float_ops_model
from native_support import assert_close, convert, inputs_for, lce_run, native_run, run_kernel_sets

_cache: dict[object, bytes] = {}


def _bconv(shape) -> bytes:
    if shape not in _cache:
        _cache[shape] = convert(bconv_grid_model(shape), seed=sum(shape))
    return _cache[shape]


@pytest.fixture(scope="session")
def float_ops() -> bytes:
    return convert(float_ops_model(), seed=7)


@pytest.mark.parametrize("shape", BCONV_INPUTS, ids=lambda s: "x".join(map(str, s)))
def test_bconv_grid_matches_lce(shape):
    tflite = _bconv(shape)
    plan = read_plan(tflite)
    bconvs = [op for op in plan.ops if op.type == "LceBconv2d"]
    # The grid really covers what it claims (the converter could fuse differently).
    assert {op.options["fused_activation_function"] for op in bconvs} == {0, 1, 2, 3}
    assert {op.options["pad_values"] for op in bconvs} == {0, 1}
    assert {op.options["padding"] for op in bconvs} == {0, 1}
    assert {op.options["stride_height"] for op in bconvs} == {1, 2}
    assert {op.options["dilation_height_factor"] for op in bconvs} == {1, 2}
    assert any(plan.tensors[op.outputs[0]].dtype == "int32" for op in bconvs)
    for seed in (1, 2):
        x = inputs_for(tflite, seed)
        assert_close(native_run(tflite, x), lce_run(tflite, x))


@pytest.mark.parametrize("shape", BCONV_INPUTS[:2], ids=lambda s: "x".join(map(str, s)))
def test_bconv_grid_identical_on_every_kernel_set(shape):
    tflite = _bconv(shape)
    x = inputs_for(tflite)
    baseline = native_run(tflite, x, kernels="portable")
    for kernels in native.available_kernels()[1:]:
        for got, want in zip(native_run(tflite, x, kernels=kernels), baseline, strict=True):
            np.testing.assert_array_equal(got, want)


def test_bitpacked_intermediates_bit_exact_across_kernel_sets():
    tflite = _bconv(BCONV_INPUTS[0])
    plan = read_plan(tflite)
    x = inputs_for(tflite)
    models = run_kernel_sets(tflite, x)
    packed = [t.name for t in plan.tensors if t.dtype == "int32" and t.data is None]
    assert len(packed) >= 4
    for name in packed:
        want = models["portable"].tensor(name)
        for m in models.values():
            np.testing.assert_array_equal(m.tensor(name), want)


def test_float_ops_match_lce(float_ops):
    types = {op.type for op in read_plan(float_ops).ops}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN"} <= types
    assert {"ADD", "MUL", "SUB", "CONCATENATION", "PAD", "SOFTMAX", "LOGISTIC"} <= types
    assert {"MAXIMUM", "SUM", "REDUCE_MAX", "PADV2"} <= types
    x = inputs_for(float_ops)
    expected = lce_run(float_ops, x)
    for kernels in native.available_kernels():
        assert_close(native_run(float_ops, x, kernels=kernels), expected)


def test_two_threads_give_the_same_outputs(float_ops):
    for tflite in (float_ops, _bconv(BCONV_INPUTS[2])):
        x = inputs_for(tflite)
        one = native_run(tflite, x, num_threads=1)
        two = native_run(tflite, x, num_threads=2)
        for a, b in zip(one, two, strict=True):
            np.testing.assert_array_equal(a, b)


def test_common_bnn_blocks_match_lce():
    tflite = convert(common_bnns_model(), seed=4)
    types = {op.type for op in read_plan(tflite).ops}
    assert {"LceBMaxPool2d", "LceDequantize", "CONCATENATION", "AVERAGE_POOL_2D", "MUL"} <= types
    x = inputs_for(tflite)
    expected = lce_run(tflite, x)
    for kernels in native.available_kernels():
        assert_close(native_run(tflite, x, kernels=kernels), expected)


def test_where_quantizers_and_comparisons_match_lce():
    from native_models import where_quantizer_model

    tflite = convert(where_quantizer_model(), seed=5)
    plan = read_plan(tflite)
    types = {op.type for op in plan.ops}
    assert {"GREATER_EQUAL", "SELECT", "CONV_2D"} <= types
    assert {"GREATER", "LESS", "EQUAL", "NOT_EQUAL", "SELECT_V2"} <= types, types
    assert any(t.dtype == "bool" for t in plan.tensors)
    x = inputs_for(tflite)
    # Values exactly at a threshold pick the ">=" side, as LCE's does.
    x[0, 0, 0, :3] = [0.0, 0.25, -0.5]
    expected = lce_run(tflite, x)
    for kernels in native.available_kernels():
        got = native_run(tflite, x, kernels=kernels)
        assert_close(got, expected)
    # The quantizer's output is exactly +-1: the float convolution sums integers.
    model = native.load(tflite, keep_intermediates=True)
    model.run(x)
    conv = next(op for op in plan.ops if op.type == "CONV_2D")
    signs = model.tensor(plan.tensors[conv.inputs[0]].name)
    np.testing.assert_array_equal(signs, np.where(x >= 0, 1.0, -1.0))


def test_layout_ops_match_lce_and_numpy():
    from native_models import layout_ops_model

    tflite = convert(layout_ops_model(), seed=6)
    plan = read_plan(tflite)
    assert {"TRANSPOSE", "STRIDED_SLICE"} <= {op.type for op in plan.ops}
    x = inputs_for(tflite)
    expected = lce_run(tflite, x)
    conv = next(op for op in plan.ops if op.type == "CONV_2D")
    for kernels in native.available_kernels():
        assert_close(native_run(tflite, x, kernels=kernels), expected)
        # Exactly NumPy's moves of the native convolution's output (float32 arithmetic
        # after them rounds the same everywhere).
        model = native.load(tflite, kernels=kernels, keep_intermediates=True)
        got = {out.shape: out for out in model.run(x)}
        t = model.tensor(plan.tensors[conv.outputs[0]].name)
        for want in (
            np.transpose(t, [0, 3, 1, 2]) * np.float32(2.0),
            t[:, 1:8:2, ::-1, 3:13] + np.float32(1.0),
            t[:, -2:-9:-3, 1:, ::4] - np.float32(1.0),
            t[:, 4, :, :] * np.float32(0.5),
        ):
            np.testing.assert_array_equal(got[want.shape], want)
