"""Keras/larq builders for the ``birealnet`` space, after larq-zoo's Bi-Real and ResNetE18."""

from __future__ import annotations

import larq as lq
import tensorflow as tf
from lce_nas.space.base import DEPLOY, Geometry, StemStrides
from lce_nas.space.birealnet import BiRealConfig
from lce_nas.space.layers import classifier, stages, ste_sign, stem_conv

import lce_nas  # noqa: F401  (Keras 2 must be selected before TensorFlow loads)

# Per recipe: BatchNorm arguments, binary conv quantizers and initialisers, as larq-zoo has them.
_BN = {
    "birealnet": {"momentum": 0.8},
    "resnet-e": {"momentum": 0.9, "epsilon": 1e-5},
}


def _bn(x: tf.Tensor, recipe: str) -> tf.Tensor:
    return tf.keras.layers.BatchNormalization(**_BN[recipe])(x)


def _binary_conv(x: tf.Tensor, filters: int, strides: int, config: BiRealConfig) -> tf.Tensor:
    if config.recipe == "birealnet":
        quantizers = {
            "input_quantizer": "approx_sign",
            "kernel_quantizer": "magnitude_aware_sign",
            "kernel_constraint": "weight_clip",
        }
    else:
        quantizers = ste_sign(1.25)
    return lq.layers.QuantConv2D(
        filters,
        config.kernel_size,
        strides=strides,
        padding="same",
        pad_values=float(config.pad_value),
        kernel_initializer="glorot_normal",
        use_bias=False,
        **quantizers,
    )(x)


def _shortcut(x: tf.Tensor, filters: int, config: BiRealConfig) -> tf.Tensor:
    # Pools pad only on odd maps, where larq-zoo's 'valid' pool would not match the
    # strided binary conv; on even maps (all of them at 224 px) both agree.
    padding = "same" if config.recipe == "birealnet" or x.shape[1] % 2 else "valid"
    strides = 1
    if config.shortcut == "avgpool":
        x = tf.keras.layers.AvgPool2D(2, strides=2, padding=padding)(x)
    elif config.shortcut == "maxpool":
        x = tf.keras.layers.MaxPool2D(2, strides=2, padding=padding)(x)
    else:
        strides = 2
    x = tf.keras.layers.Conv2D(
        filters, 1, strides=strides, kernel_initializer="glorot_normal", use_bias=False
    )(x)
    return _bn(x, config.recipe)


def _block(x: tf.Tensor, filters: int, downsample: bool, config: BiRealConfig) -> tf.Tensor:
    shortcut = _shortcut(x, filters, config) if downsample or x.shape[-1] != filters else x
    x = _binary_conv(x, filters, 2 if downsample else 1, config)
    x = _bn(x, config.recipe)
    return tf.keras.layers.add([x, shortcut])


def _stem(x: tf.Tensor, config: BiRealConfig, strides: StemStrides) -> tf.Tensor:
    resnet_e = config.recipe == "resnet-e"
    x = stem_conv(
        x, config.stage_filters[0], strides[0], "he_normal" if resnet_e else "glorot_normal"
    )
    x = _bn(x, config.recipe)
    if resnet_e:
        x = tf.keras.layers.Activation("relu")(x)
    x = tf.keras.layers.MaxPool2D(3, strides=strides[1], padding="same")(x)
    return _bn(x, config.recipe) if resnet_e else x


def build_birealnet(config: BiRealConfig, geometry: Geometry = DEPLOY) -> tf.keras.Model:
    """Build a Bi-Real-like model; the first block of every stage after the first downsamples.

    Example:
        >>> from lce_nas.space.birealnet import PRESETS
        >>> model = build_birealnet(PRESETS["binary-resnet-e18"])
        >>> model.name, model.count_params()
        ('resnet-e_like', 11699368)
    """
    inputs = tf.keras.Input(shape=geometry.input_shape)
    x = _stem(inputs, config, geometry.stem_strides)
    x = stages(x, config, _block)
    if config.recipe == "resnet-e":
        x = tf.keras.layers.Activation("relu")(x)
    initializer = "glorot_normal" if config.recipe == "resnet-e" else "glorot_uniform"
    x = classifier(x, geometry.classes, initializer)
    outputs = tf.keras.layers.Activation("softmax", dtype="float32")(x)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name=f"{config.recipe}_like")
