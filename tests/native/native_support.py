"""Helpers for the native engine tests: conversion with non-trivial statistics, and the
oracle (LCE's own interpreter) to compare against."""

from __future__ import annotations

import numpy as np

import lce_nas  # noqa: F401  (Keras 2 before TensorFlow)


def randomize(model, seed: int = 0) -> None:
    """Give BatchNorm layers non-trivial statistics (negative scales too) and biases noise,
    so folded multipliers, biases and thresholds are all exercised."""
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


def convert(model, seed: int = 0) -> bytes:
    """Randomise statistics, then convert with LCE."""
    from lce_nas.engine.convert import convert_model

    randomize(model, seed)
    return convert_model(model)


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


def inputs_for(tflite: bytes, seed: int = 1) -> np.ndarray:
    """A random float input of the model's input shape."""
    from lce_nas.engine.native.plan import read_plan

    plan = read_plan(tflite)
    shape = plan.tensors[plan.inputs[0]].shape
    return np.random.RandomState(seed).normal(0.0, 1.0, shape).astype(np.float32)


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
