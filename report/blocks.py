"""The four 3x3 convolutional blocks of a ResNet-18, as float32, int8 and binary models.

The LCE paper (Bannink et al., MLSys 2021, "Larq Compute Engine: Design,
Benchmark, and Deploy State-of-the-Art Binarized Neural Networks", the figure
on binarization's effect on latency, reproduced in Plumerai's blog post
"MLSys 2021: Design, Benchmark, and Deploy Binarized Neural Networks with
LCE") times the four kinds of 3x3 convolution a ResNet-18 has. Their shapes
are ResNet-18's stages conv2_x to conv5_x (He et al., 2016, "Deep Residual
Learning for Image Recognition", Table 1): 3x3, stride 1, as many output
channels as input channels, at 56x56x64, 28x28x128, 14x14x256 and 7x7x512.

Each block is one convolution followed by BatchNorm (folded into the
convolution by both converters):

- ``float32``: Keras ``Conv2D``, converted by TensorFlow's TFLite converter;
- ``int8``: the same model, full-integer post-training quantization through
  the TFLite converter with a representative dataset (int8 weights,
  activations, input and output);
- ``binary``: larq ``QuantConv2D`` (sign of inputs and weights, pad value 1),
  converted by LCE into ``LceQuantize`` + ``LceBconv2d``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lce_nas.space.shape import DeployShape

from lce_nas.canonical import canonical_json

if TYPE_CHECKING:
    import tensorflow as tf

PRECISIONS = ("float32", "int8", "binary")
# Bumped whenever a builder changes, so an old latency is never taken for a new model.
BUILDER_VERSION = "1"
_SEED = 0
# Enough calibration batches for stable int8 ranges of one convolution.
_CALIBRATION_SAMPLES = 8


@dataclass(frozen=True)
class Block:
    """One 3x3 convolution of a ResNet-18 stage: input side, channels in and out.

    Example:
        >>> Block("conv3_x", 28, 128).label
        '28x28x128/128'
    """

    name: str
    side: int
    channels: int

    @property
    def shape(self) -> DeployShape:
        """Its deploy shape: as many "classes" (output channels) as input channels."""
        return DeployShape(self.side, self.side, self.channels, self.channels)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of the block's input."""
        return self.shape.input_shape

    @property
    def label(self) -> str:
        """``HxWxC/filters``: the deploy shape its latencies are keyed under."""
        return self.shape.label

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the convolution (3x3, stride 1, same padding)."""
        return self.side * self.side * self.channels * self.channels * 9

    def fingerprint(self, precision: str) -> str:
        """The key its measurements are stored under: sha256 of the shape, precision, builder.

        The same 64 hex digits as an architecture fingerprint, so ``db export``
        and ``db import`` carry block latencies like any other; ``kind`` keeps
        it apart from every search space's configs.

        Example:
            >>> len(Block("conv2_x", 56, 64).fingerprint("binary"))
            64
        """
        check_precision(precision)
        spec = {
            "kind": "resnet18-block",
            "block": self.name,
            "input": list(self.input_shape),
            "filters": self.channels,
            "kernel": 3,
            "precision": precision,
            "builder": BUILDER_VERSION,
        }
        return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


RESNET18_BLOCKS = (
    Block("conv2_x", 56, 64),
    Block("conv3_x", 28, 128),
    Block("conv4_x", 14, 256),
    Block("conv5_x", 7, 512),
)


def check_precision(precision: str) -> None:
    """Raise ``ValueError`` for a precision that is not one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def build_block(block: Block, precision: str) -> tf.keras.Model:
    """The Keras model of ``block`` at ``precision`` (int8 is the float model, quantized later).

    Example:
        >>> build_block(RESNET18_BLOCKS[3], "binary").output_shape  # doctest: +SKIP
        (None, 7, 7, 512)
    """
    import tensorflow as tf

    check_precision(precision)
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(_SEED)
    x = inputs = tf.keras.Input(block.input_shape)
    if precision == "binary":
        from lce_nas.space.layers import binary_conv

        x = binary_conv(block.channels, 3)(x)
    else:
        x = tf.keras.layers.Conv2D(block.channels, 3, padding="same", use_bias=False)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    return tf.keras.Model(inputs, x, name=f"{block.name}_{precision}")


def _calibration(block: Block) -> Iterator[list]:
    import numpy as np

    rng = np.random.default_rng(_SEED)
    for _ in range(_CALIBRATION_SAMPLES):
        yield [rng.standard_normal((1, *block.input_shape)).astype("float32")]


def convert_block(block: Block, precision: str) -> bytes:
    """The ``.tflite`` flatbuffer of ``block`` at ``precision``.

    float32 and int8 go through ``tf.lite.TFLiteConverter`` (int8: full-integer
    post-training quantization, calibrated on a representative dataset);
    binary goes through LCE's converter.

    Example:
        >>> convert_block(RESNET18_BLOCKS[3], "int8")[4:8]  # doctest: +SKIP
        b'TFL3'
    """
    import tensorflow as tf

    model = build_block(block, precision)
    if precision == "binary":
        from lce_nas.engine.convert import convert_model

        return convert_model(model)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: _calibration(block)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return bytes(converter.convert())
