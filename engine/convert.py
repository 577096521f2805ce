"""Conversion of Keras BNNs to TFLite flatbuffers with Larq Compute Engine."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lce_nas.space.shape import DeployShape

if TYPE_CHECKING:
    import tensorflow as tf


def convert_model(model: tf.keras.Model) -> bytes:
    """Convert a Keras model with larq layers to an LCE ``.tflite`` flatbuffer.

    Binary convolutions become ``LceBconv2d`` ops with bitpacked weights and
    BatchNorm folded in; the input and output stay float32.

    Example:
        >>> tflite = convert_model(space.build_deploy(config))  # doctest: +SKIP
        >>> tflite[4:8]  # doctest: +SKIP
        b'TFL3'
    """
    import larq_compute_engine as lce

    # LCE exports a SavedModel first and converts from the frozen graph when a
    # model cannot be saved. The export is most of a conversion's time and the
    # frozen graph gives the same ops, shapes and weights (benchmarks/conversion_paths.py),
    # so the model is made unsaveable for the call. LCE traces the model with
    # AutoGraph, which rewrites every layer's call and spends 4-8x the rest of the
    # conversion on it; a Keras graph of larq layers has no tensor-dependent Python
    # control flow, so it is traced without, to the same bytes. A model that fails
    # either shortcut converts the usual way.
    try:
        with _unsaveable(model), _traced_without_autograph():
            return bytes(lce.convert_keras_model(model))
    except Exception:  # any failure of the fast path: take LCE's own
        return bytes(lce.convert_keras_model(model))


@contextmanager
def _unsaveable(model: tf.keras.Model) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise NotImplementedError("converted from the frozen graph")

    model.save = refuse
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Saved-model conversion failed")
            yield
    finally:
        del model.save


@contextmanager
def _traced_without_autograph() -> Iterator[None]:
    from larq_compute_engine.mlir.python import converter

    lce_trace = converter.concrete_function_from_keras_model
    converter.concrete_function_from_keras_model = _concrete_function
    try:
        yield
    finally:
        converter.concrete_function_from_keras_model = lce_trace


def _concrete_function(model: tf.keras.Model) -> tf.types.experimental.ConcreteFunction:
    """LCE's trace of ``model`` (inference mode, batch size kept), without AutoGraph."""
    import tensorflow as tf
    from tensorflow.python.keras.engine import base_layer_utils
    from tensorflow.python.keras.saving import saving_utils

    signature = saving_utils.model_input_signature(model, keep_original_batch_size=True)

    @tf.function(input_signature=signature, autograph=False)
    def call(*args: tf.Tensor) -> dict[str, tf.Tensor]:
        inputs = args[0] if len(signature) == 1 else list(args)
        with base_layer_utils.call_context().enter(
            model, inputs=inputs, build_graph=False, training=False, saving=True
        ):
            outputs = model(inputs, training=False)
        return dict(zip(model.output_names, tf.nest.flatten(outputs), strict=True))

    return call.get_concrete_function()


def engine_version() -> str:
    """The installed Larq Compute Engine version (part of every latency key)."""
    import larq_compute_engine as lce

    return lce.__version__


def model_sha256(tflite: bytes) -> str:
    """Content address of a flatbuffer: the name it gets on remote devices."""
    return hashlib.sha256(tflite).hexdigest()


def op_counts(tflite: bytes) -> dict[str, int]:
    """How many times each op (builtin or LCE custom) appears in a flatbuffer.

    Example:
        >>> op_counts(tflite)["LceBconv2d"]  # doctest: +SKIP
        16
    """
    from collections import Counter

    import tensorflow as tf

    details = tf.lite.Interpreter(model_content=tflite)._get_ops_details()
    return dict(Counter(op["op_name"] for op in details))


# Deploy models are built with a fixed seed, so the same config always converts
# to the same flatbuffer: an export is byte-identical to what was timed.
DEPLOY_SEED = 0


def convert_deploy(space, config, shape: DeployShape | None = None) -> tuple[tf.keras.Model, bytes]:
    """Build a config's deploy model (at ``shape``, default 224x224x3/1000) and convert it.

    The initial weights are fixed, so the flatbuffer is the same on every call.

    Example:
        >>> model, tflite = convert_deploy(space, space.preset("quicknet"))  # doctest: +SKIP
        >>> again = convert_deploy(space, space.preset("quicknet"))[1]  # doctest: +SKIP
        >>> model_sha256(tflite) == model_sha256(again)  # doctest: +SKIP
        True
    """
    import tensorflow as tf

    # Fresh layer names too: they end up as tensor names in the flatbuffer.
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(DEPLOY_SEED)
    shape = shape or DeployShape()
    model = space.build_deploy(config, shape.input_shape, shape.classes)
    return model, convert_model(model)
