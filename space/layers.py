"""Keras building blocks shared by the larq-zoo builders: stem conv, stages and classifier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import larq as lq
import tensorflow as tf

import lce_nas  # noqa: F401  (Keras 2 must be selected before TensorFlow loads)


def stem_conv(x: tf.Tensor, filters: int, strides: int, kernel_initializer: str) -> tf.Tensor:
    """The full-precision 7x7 'same' conv without bias that opens a network.

    Example:
        >>> x = tf.keras.Input(shape=(32, 32, 3))
        >>> stem_conv(x, 16, 2, "he_normal").shape
        TensorShape([None, 16, 16, 16])
    """
    return tf.keras.layers.Conv2D(
        filters,
        7,
        strides=strides,
        padding="same",
        kernel_initializer=kernel_initializer,
        use_bias=False,
    )(x)


def binary_conv(filters: int, kernel_size: int, **options: Any) -> lq.layers.QuantConv2D:
    """A binary conv as LCE converts it to one ``LceBconv2d``: SteSign on inputs and
    weights, clipped latent weights, padded with +1 (LCE's fast path), no bias.

    ``options`` go to ``QuantConv2D`` and override these defaults.

    Example:
        >>> layer = binary_conv(32, 3, strides=2)
        >>> layer.strides, layer.pad_values, layer.use_bias
        ((2, 2), 1.0, False)
    """
    defaults: dict[str, Any] = {
        "padding": "same",
        "pad_values": 1.0,
        "input_quantizer": "ste_sign",
        "kernel_quantizer": "ste_sign",
        "kernel_constraint": "weight_clip",
        "use_bias": False,
    }
    return lq.layers.QuantConv2D(filters, kernel_size, **{**defaults, **options})


def ste_sign(clip_value: float) -> dict[str, Any]:
    """Keyword arguments of a ``QuantConv2D`` that binarizes with SteSign clipped at ``clip_value``.

    Inputs and weights both pass SteSign; the latent weights are clipped too.

    Example:
        >>> sorted(ste_sign(1.25))
        ['input_quantizer', 'kernel_constraint', 'kernel_quantizer']
    """
    return {
        "input_quantizer": lq.quantizers.SteSign(clip_value=clip_value),
        "kernel_quantizer": lq.quantizers.SteSign(clip_value=clip_value),
        "kernel_constraint": lq.constraints.WeightClip(clip_value=clip_value),
    }


def global_pool(x: tf.Tensor) -> tf.Tensor:
    """A feature map averaged to one value per channel, flattened.

    A full-size average pool (larq-zoo's) rather than GlobalAveragePooling2D:
    it converts to AVERAGE_POOL_2D, which LCE runs faster than MEAN.

    Example:
        >>> global_pool(tf.keras.Input(shape=(7, 7, 64))).shape
        TensorShape([None, 64])
    """
    x = tf.keras.layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]))(x)
    return tf.keras.layers.Flatten()(x)


def classifier(x: tf.Tensor, classes: int, kernel_initializer: str) -> tf.Tensor:
    """The logits: the global pool, then a Dense layer of ``classes`` units.

    Example:
        >>> classifier(tf.keras.Input(shape=(7, 7, 64)), 10, "glorot_normal").shape
        TensorShape([None, 10])
    """
    x = global_pool(x)
    return tf.keras.layers.Dense(classes, kernel_initializer=kernel_initializer)(x)


def stages(
    x: tf.Tensor,
    config: Any,
    block: Callable[[tf.Tensor, int, bool, Any], tf.Tensor],
) -> tf.Tensor:
    """``block(x, filters, downsample, config)`` for every block of a staged config.

    ``config`` has ``stage_blocks`` and ``stage_filters``; the first block of
    every stage after the first downsamples.
    """
    for stage, (blocks, filters) in enumerate(
        zip(config.stage_blocks, config.stage_filters, strict=True)
    ):
        for index in range(blocks):
            x = block(x, filters, stage > 0 and index == 0, config)
    return x
