"""Keras/larq builders for the ``quicknet`` space, following larq-zoo's QuickNet.

Layer choices follow LCE's advice so that everything fuses on conversion:
binary conv -> fused activation -> BatchNorm, pad_values=1, no bias.
"""

from __future__ import annotations

import larq as lq
import numpy as np
import tensorflow as tf
from lce_nas.space.base import DEPLOY, HWC, Geometry, StemStrides
from lce_nas.space.layers import classifier, ste_sign
from lce_nas.space.quicknet import QuickNetConfig

import lce_nas  # noqa: F401  (Keras 2 must be selected before TensorFlow loads)


def _bn(x: tf.Tensor, **kwargs: bool) -> tf.Tensor:
    return tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, **kwargs)(x)


class BlurInitializer(tf.keras.initializers.Initializer):
    """A fixed [1,2,1] x [1,2,1] / 16 blur for every channel of a depthwise kernel."""

    def __call__(self, shape, dtype=None):
        row = np.array([1.0, 2.0, 1.0])
        kernel = np.outer(row, row) / 16.0
        tiled = np.tile(kernel[:, :, None, None], (1, 1, shape[2], shape[3]))
        return tf.constant(tiled, dtype=dtype or tf.float32)

    def get_config(self) -> dict:
        return {}


def _stem(x: tf.Tensor, config: QuickNetConfig, strides: StemStrides) -> tf.Tensor:
    x = lq.layers.QuantConv2D(
        config.stem_filters,
        (3, 3),
        strides=strides[0],
        padding="same",
        kernel_initializer="he_normal",
        use_bias=False,
    )(x)
    x = _bn(x)
    x = tf.keras.layers.Activation("relu")(x)
    x = lq.layers.QuantDepthwiseConv2D((3, 3), strides=strides[1], padding="same", use_bias=False)(
        x
    )
    x = _bn(x, scale=False, center=False)
    x = lq.layers.QuantConv2D(
        config.section_filters[0], (1, 1), kernel_initializer="he_normal", use_bias=False
    )(x)
    return _bn(x)


def _residual_block(x: tf.Tensor, config: QuickNetConfig) -> tf.Tensor:
    channels = x.shape[-1]
    shortcut = x
    x = lq.layers.QuantConv2D(
        channels,
        (config.kernel_size, config.kernel_size),
        padding="same",
        pad_values=1.0,
        activation=None if config.activation == "none" else config.activation,
        kernel_initializer="glorot_normal",
        use_bias=False,
        **ste_sign(1.25),
    )(x)
    x = _bn(x)
    return tf.keras.layers.add([x, shortcut])


def _transition(x: tf.Tensor, filters: int, kind: str) -> tf.Tensor:
    x = tf.keras.layers.Activation("relu")(x)
    if kind == "blurpool":
        # larq-zoo's 'valid' pool; 'same' only where a map is already 1 px
        # (tiny inputs), so deploy models still build at 28 px.
        padding = "valid" if min(x.shape[1:3]) >= 2 else "same"
        x = tf.keras.layers.MaxPool2D(pool_size=2, strides=1, padding=padding)(x)
        x = tf.keras.layers.DepthwiseConv2D(
            (3, 3),
            strides=2,
            padding="same",
            depthwise_initializer=BlurInitializer(),
            trainable=False,
            use_bias=False,
        )(x)
    elif kind == "maxpool":
        x = tf.keras.layers.MaxPool2D(pool_size=2, strides=2, padding="same")(x)
    elif kind == "avgpool":
        x = tf.keras.layers.AveragePooling2D(pool_size=2, strides=2, padding="same")(x)
    else:
        raise ValueError(f"unknown transition {kind!r}")
    x = tf.keras.layers.Conv2D(filters, (1, 1), kernel_initializer="glorot_normal", use_bias=False)(
        x
    )
    return _bn(x)


def build_quicknet(config: QuickNetConfig, geometry: Geometry = DEPLOY) -> tf.keras.Model:
    """Build a QuickNet-like model; every section after the first starts with a transition.

    Example:
        >>> from lce_nas.space.quicknet import PRESETS
        >>> build_quicknet(PRESETS["quicknet"]).count_params()
        13243720
    """
    inputs = tf.keras.Input(shape=geometry.input_shape)
    x = _stem(inputs, config, geometry.stem_strides)
    for section, (blocks, filters) in enumerate(
        zip(config.section_blocks, config.section_filters, strict=True)
    ):
        if section > 0:
            x = _transition(x, filters, config.transition)
        for _ in range(blocks):
            x = _residual_block(x, config)
    x = tf.keras.layers.Activation("relu")(x)
    x = classifier(x, geometry.classes, "glorot_normal")
    outputs = tf.keras.layers.Activation("softmax", dtype="float32")(x)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="quicknet_like")


def proxy_stem_strides(config: QuickNetConfig, input_shape: HWC) -> StemStrides:
    """The stem strides for a proxy on small images.

    Stride-2 steps are dropped, the depthwise conv's first, until the last
    section is at least 4x4 (QuickNet has 7x7 at 224 px); where no choice
    reaches 4x4, the first that keeps at least 2x2, else no strides.

    Example:
        >>> from lce_nas.space.quicknet import PRESETS
        >>> proxy_stem_strides(PRESETS["quicknet"], (32, 32, 1))
        (1, 1)
        >>> proxy_stem_strides(PRESETS["quicknet"], (64, 64, 3))
        (2, 1)
    """
    from lce_nas.space.params import proxy_stem_strides as choose
    from lce_nas.space.quicknet_cost import final_spatial

    return choose(lambda strides: final_spatial(config, input_shape[:2], strides))
