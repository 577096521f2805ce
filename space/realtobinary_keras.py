"""Keras/larq builders for the ``realtobinary`` space, after larq-zoo's Real-to-Binary Net (BNN)."""

from __future__ import annotations

import larq as lq
import tensorflow as tf
from lce_nas.space.base import DEPLOY, Geometry
from lce_nas.space.layers import classifier, global_pool, stages, stem_conv
from lce_nas.space.realtobinary import RealToBinaryConfig

import lce_nas  # noqa: F401  (Keras 2 must be selected before TensorFlow loads)


def _bn(x: tf.Tensor) -> tf.Tensor:
    return tf.keras.layers.BatchNormalization(momentum=0.99)(x)


def _gate(conv_input: tf.Tensor, conv_output: tf.Tensor, reduction: int) -> tf.Tensor:
    channels = conv_output.shape[-1]
    z = global_pool(conv_input)
    z = tf.keras.layers.Dense(
        conv_input.shape[-1] // reduction,
        activation="relu",
        kernel_initializer="he_normal",
        use_bias=False,
    )(z)
    z = tf.keras.layers.Dense(
        channels, activation="sigmoid", kernel_initializer="he_normal", use_bias=False
    )(z)
    z = tf.keras.layers.Reshape((1, 1, channels))(z)
    return tf.keras.layers.Multiply()([conv_output, z])


def _half_block(
    x: tf.Tensor, filters: int, downsample: bool, config: RealToBinaryConfig
) -> tf.Tensor:
    shortcut = x
    if downsample or x.shape[-1] != filters:
        shortcut = tf.keras.layers.AvgPool2D(2, strides=2 if downsample else 1, padding="same")(x)
        shortcut = tf.keras.layers.Conv2D(
            filters, 1, kernel_initializer="glorot_normal", use_bias=False
        )(shortcut)
        shortcut = _bn(shortcut)
    conv_input = _bn(x)
    y = lq.layers.QuantConv2D(
        filters,
        config.kernel_size,
        strides=2 if downsample else 1,
        padding="same",
        input_quantizer="ste_sign",
        kernel_quantizer="ste_sign",
        kernel_constraint="weight_clip",
        kernel_initializer="glorot_normal",
        use_bias=False,
    )(conv_input)
    if config.scaling == "data":
        y = _gate(conv_input, y, config.scaling_r)
    y = tf.keras.layers.PReLU(shared_axes=[1, 2])(y)
    return tf.keras.layers.add([y, shortcut])


def build_realtobinary(config: RealToBinaryConfig, geometry: Geometry = DEPLOY) -> tf.keras.Model:
    """Build a Real-to-Binary-like model; each later stage's first binary conv downsamples.

    Example:
        >>> from lce_nas.space.realtobinary import PRESETS
        >>> from lce_nas.space.base import DEPLOY
        >>> build_realtobinary(PRESETS["realtobinary"], DEPLOY._replace(classes=10)).output_shape
        (None, 10)
    """
    inputs = tf.keras.Input(shape=geometry.input_shape)
    x = stem_conv(inputs, config.stage_filters[0], geometry.stem_strides[0], "glorot_normal")
    x = _bn(x)
    x = tf.keras.layers.PReLU(shared_axes=[1, 2])(x)
    x = tf.keras.layers.MaxPool2D(3, strides=geometry.stem_strides[1], padding="same")(x)
    x = stages(x, config, _half_block)
    x = classifier(x, geometry.classes, "glorot_uniform")
    outputs = tf.keras.layers.Softmax(dtype="float32")(x)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="realtobinary_like")
