"""Helpers for the native engine tests: conversion with non-trivial statistics, and the
oracle (LCE's own interpreter) to compare against."""

from __future__ import annotations

import numpy as np

import lce_nas  # noqa: F401  (Keras 2 before TensorFlow)


def randomize(model, seed: int = 0) -> None:
    """Give BatchNorm layers non-trivial statistics (negative scales too) and biases noise,
    so folded multipliers, biases and thresholds are all exercised. Every other weight
    is drawn as Keras' default (Glorot uniform) draws it, but from ``seed``: a model is
    then the same in every run, and a comparison that fails fails again. (Unseeded,
    the kernels differed from run to run, and one rare mismatch was never reproduced.)"""
    rng = np.random.RandomState(seed)
    for w in model.weights:
        name = w.name
        shape = tuple(w.shape)
        if "moving_variance" in name:
            w.assign(rng.uniform(0.5, 2.0, shape).astype(np.float32))
        elif "moving_mean" in name or "beta" in name or "bias" in name:
            w.assign(rng.normal(0.0, 0.5, shape).astype(np.float32))
        elif "gamma" in name:
            sign = np.where(rng.uniform(size=shape) < 0.2, -1.0, 1.0)
            w.assign((sign * rng.uniform(0.5, 1.5, shape)).astype(np.float32))
        else:
            receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
            fan_in = receptive * (shape[-2] if len(shape) > 1 else 1)
            fan_out = receptive * (shape[-1] if shape else 1)
            limit = np.sqrt(6.0 / max(1, fan_in + fan_out))
            w.assign(rng.uniform(-limit, limit, shape).astype(np.float32))


def convert(model, seed: int = 0) -> bytes:
    """Randomise statistics, then convert with LCE."""
    from lce_nas.engine.convert import convert_model

    randomize(model, seed)
    return convert_model(model)


def convert_int8(model, seed: int = 0, io: str = "int8") -> bytes:
    """Randomise statistics, then convert a model with fake-quantized tensors to a full-integer
    LCE model whose input and output are ``io`` ("int8" or "float32")."""
    import larq_compute_engine as lce
    import tensorflow as tf

    randomize(model, seed)
    kind = tf.int8 if io == "int8" else tf.float32
    return bytes(
        lce.convert_keras_model(model, inference_input_type=kind, inference_output_type=kind)
    )


def lce_run(tflite: bytes, x: np.ndarray) -> list[np.ndarray]:
    """Outputs of LCE's interpreter (default kernels), always as a list."""
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    out = Interpreter(tflite, num_threads=1).predict(x)
    return list(out) if isinstance(out, list) else [out]


def native_run(tflite: bytes, x: np.ndarray, **kwargs) -> list[np.ndarray]:
    """Outputs of the native engine, always as a list."""
    from lce_nas.engine import native

    out = native.load(tflite, **kwargs).run(x)
    return list(out) if isinstance(out, list) else [out]


def assert_close(actual: list[np.ndarray], expected: list[np.ndarray]) -> None:
    """Float outputs within 1e-5 relative to each output's scale."""
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert a.shape == e.shape
        scale = max(1.0, float(np.abs(e).max()))
        np.testing.assert_allclose(a, e, rtol=0, atol=1e-5 * scale)


def float_depth(plan) -> int:
    """How many float roundings a value can meet from the input to an output, at most.

    Each op adds the length of its float sums: a float convolution or FULLY_CONNECTED its
    weights' fan-in, a pool or MEAN its window, anything else (an elementwise op, a binary
    convolution's output transform: its integer sum is exact) two roundings. Summed over
    every op, this bounds the depth of any one path through the graph.
    """
    depth = 0
    for op in plan.ops:
        first = plan.tensors[op.inputs[0]] if op.inputs else None
        weights = plan.tensors[op.inputs[1]] if len(op.inputs) > 1 else None
        if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            depth += int(np.prod(weights.shape[1:])) + 1
        elif op.type in ("AVERAGE_POOL_2D", "MEAN") and first is not None:
            out = plan.tensors[op.outputs[0]]
            depth += int(np.prod(first.shape)) // max(1, int(np.prod(out.shape)))
        else:
            depth += 2
    return depth


def logits_and_bound(tflite: bytes, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The native engine's logits (a final FULLY_CONNECTED), LCE's, and the bound of
    float summation in any order that their difference must stay within, per logit.

    Two implementations that sum the same D terms in different orders (or fuse a multiply
    and an add) each stay within gamma_D * sum|terms| of the exact value, gamma_D =
    D*u/(1 - D*u) with u = 2**-24 (Higham, *Accuracy and Stability of Numerical
    Algorithms*, Thm 3.1), so they differ by at most twice that. For logit j the terms'
    magnitude is (|W| @ |x|)_j + |b_j|, x being the classifier's input; D is
    ``float_depth`` of the whole graph, which also covers the rounding carried in x (x is
    a mean of ReLU outputs, so has no cancellation of its own). A fixed atol, by
    contrast, is either loose for small logits or fails on a CPU whose float kernels
    sum in another order. Binary paths are exact, so a wrong kernel still shows: its
    error is of the order of the logits themselves.
    """
    from lce_nas.engine import native
    from lce_nas.engine.native.plan import read_plan

    plan = read_plan(tflite)
    fc = plan.ops[-1]
    assert fc.type == "FULLY_CONNECTED", f"the graph ends in {fc.type}, not its logits"
    # The logits of the model as it is deployed (residual ADDs fused); the classifier's
    # input from a copy that keeps every tensor readable.
    got = native_run(tflite, x)[0].reshape(-1)
    kept = native.load(tflite, keep_intermediates=True)
    kept.run(x)
    features = kept.tensor(plan.tensors[fc.inputs[0]].name).reshape(-1)
    weights = plan.tensors[fc.inputs[1]]
    # Constant data is stored flat.
    magnitude = np.abs(weights.data.astype(np.float64).reshape(weights.shape)) @ np.abs(features)
    if len(fc.inputs) > 2 and plan.tensors[fc.inputs[2]].data is not None:
        magnitude += np.abs(plan.tensors[fc.inputs[2]].data.astype(np.float64))
    depth = float_depth(plan)
    gamma = depth * 2.0**-24 / (1.0 - depth * 2.0**-24)
    want = lce_run(tflite, x)[0].reshape(-1)
    return got, want, 2.0 * gamma * magnitude + np.finfo(np.float32).tiny


def assert_logits_close(tflite: bytes, x: np.ndarray) -> None:
    """The logits agree within ``logits_and_bound``'s bound, and that bound is tight
    enough to see a wrong result: the logits in reverse order would break it."""
    got, want, bound = logits_and_bound(tflite, x)
    np.testing.assert_array_less(np.abs(got - want), bound)
    assert np.any(np.abs(got[::-1] - want) > bound), "the bound is too loose to see anything"


def logits_of(model):
    """The Keras model without its final softmax: its logits."""
    import tensorflow as tf

    return tf.keras.Model(model.input, model.layers[-1].input)


def inputs_for(tflite: bytes, seed: int = 1) -> np.ndarray:
    """A random input of the model's input shape and type (normal floats, or any int8)."""
    from lce_nas.engine.native.plan import read_plan

    plan = read_plan(tflite)
    spec = plan.tensors[plan.inputs[0]]
    rng = np.random.RandomState(seed)
    if spec.dtype == "int8":
        return rng.randint(-128, 128, spec.shape).astype(np.int8)
    return rng.normal(0.0, 1.0, spec.shape).astype(np.float32)


def run_kernel_sets(tflite: bytes, x: np.ndarray) -> dict:
    """The model loaded once per kernel set on this CPU, keeping every tensor, and run on
    ``x``: kernel set name -> NativeModel, to compare intermediates with ``portable``."""
    from lce_nas.engine import native

    models = {
        k: native.load(tflite, kernels=k, keep_intermediates=True)
        for k in native.available_kernels()
    }
    for m in models.values():
        m.run(x)
    return models
