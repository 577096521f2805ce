"""Keras/larq builders for the ``binarydensenet`` space, following larq-zoo's BinaryDenseNets."""

from __future__ import annotations

import larq as lq
import tensorflow as tf
from lce_nas.space.base import DEPLOY, Geometry
from lce_nas.space.binarydensenet import DenseNetConfig
from lce_nas.space.layers import classifier, ste_sign, stem_conv

import lce_nas  # noqa: F401  (Keras 2 must be selected before TensorFlow loads)


def _bn(x: tf.Tensor) -> tf.Tensor:
    return tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def _dense_layer(x: tf.Tensor, growth_rate: int, dilation: int) -> tf.Tensor:
    y = _bn(x)
    y = lq.layers.QuantConv2D(
        growth_rate,
        3,
        dilation_rate=dilation,
        padding="same",
        kernel_initializer="glorot_normal",
        use_bias=False,
        **ste_sign(1.3),
    )(y)
    return tf.keras.layers.concatenate([x, y])


def _transition(x: tf.Tensor, filters: int, pool: str | None) -> tf.Tensor:
    x = _bn(x)
    if pool is not None:
        # larq-zoo's 'valid' pool; 'same' only where a map is already 1 px (tiny inputs).
        padding = "valid" if min(x.shape[1:3]) >= 2 else "same"
        layer = tf.keras.layers.MaxPool2D if pool == "maxpool" else tf.keras.layers.AvgPool2D
        x = layer(2, strides=2, padding=padding)(x)
    x = tf.keras.layers.Activation("relu")(x)
    return tf.keras.layers.Conv2D(filters, 1, kernel_initializer="he_normal", use_bias=False)(x)


def build_densenet(
    config: DenseNetConfig, transition_filters: tuple[int, ...], geometry: Geometry = DEPLOY
) -> tf.keras.Model:
    """Build a BinaryDenseNet-like model with the given transition widths.

    Example:
        >>> from lce_nas.space.binarydensenet import PRESETS, transition_filters
        >>> c = PRESETS["binary-densenet28"]
        >>> build_densenet(c, transition_filters(c)).count_params()
        5150504
    """
    inputs = tf.keras.Input(shape=geometry.input_shape)
    x = stem_conv(inputs, config.initial_filters, geometry.stem_strides[0], "he_normal")
    x = _bn(x)
    x = tf.keras.layers.Activation("relu")(x)
    x = tf.keras.layers.MaxPool2D(3, strides=geometry.stem_strides[1], padding="same")(x)
    for block, (layers, dilation) in enumerate(
        zip(config.block_layers, config.dilations, strict=True)
    ):
        if block > 0:
            pooled = config.dilations[block] == 1
            x = _transition(
                x, transition_filters[block - 1], config.transition_pool if pooled else None
            )
        for _ in range(layers):
            x = _dense_layer(x, config.growth_rate, dilation)
    x = _bn(x)
    x = tf.keras.layers.Activation("relu")(x)
    x = classifier(x, geometry.classes, "he_normal")
    outputs = tf.keras.layers.Activation("softmax", dtype="float32")(x)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="binary_densenet_like")
