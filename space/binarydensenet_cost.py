"""Closed-form size and cost of ``binarydensenet`` models, without building them.

Counts follow Keras' ``count_params()`` (BatchNorm's moving statistics
included); MACs count one multiply-accumulate per kernel tap and output element.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lce_nas.space.base import DEPLOY, HW, ArchSummary, Geometry, StemStrides
from lce_nas.space.costs import final_spatial_after, stem_7x7, with_classifier

if TYPE_CHECKING:
    from lce_nas.space.binarydensenet import DenseNetConfig


def transition_filters(config: DenseNetConfig) -> tuple[int, ...]:
    """Output channels of the 3 transitions, by larq-zoo's rule (see ``binarydensenet``).

    Example:
        >>> from lce_nas.space.binarydensenet import PRESETS
        >>> transition_filters(PRESETS["binary-densenet28"])
        (160, 192, 256)
    """
    channels = config.initial_filters
    out = []
    for layers, reduction in zip(config.block_layers, config.reductions, strict=False):
        channels += layers * config.growth_rate
        channels = max(32, round(channels // reduction / 32) * 32)
        out.append(channels)
    return tuple(out)


def _pooled(size: int) -> int:
    return size // 2 if size >= 2 else 1


def _unchanged(size: int) -> int:
    return size


def final_spatial(config: DenseNetConfig, input_hw: HW, stem_strides: StemStrides) -> HW:
    """Height and width of the last dense block's feature map.

    Example:
        >>> from lce_nas.space.binarydensenet import PRESETS
        >>> final_spatial(PRESETS["binary-densenet37-dilated"], (224, 224), (2, 2))
        (28, 28)
    """
    steps = [_pooled if dilation == 1 else _unchanged for dilation in config.dilations[1:]]
    return final_spatial_after(input_hw, stem_strides, steps)


def densenet_summary(config: DenseNetConfig, geometry: Geometry = DEPLOY) -> ArchSummary:
    """Parameters, binary/float MACs and packed size of a ``binarydensenet`` model.

    Example:
        >>> from lce_nas.space.binarydensenet import PRESETS
        >>> round(densenet_summary(PRESETS["binary-densenet45"]).binary_macs / 1e9, 2)
        6.43
    """
    channels = config.initial_filters
    h, w, params, float_macs = stem_7x7(geometry, channels)
    params += 4 * channels
    binary_params = binary_macs = 0
    transitions = transition_filters(config)
    for block, (layers, dilation) in enumerate(
        zip(config.block_layers, config.dilations, strict=True)
    ):
        if block > 0:
            if dilation == 1:
                h, w = _pooled(h), _pooled(w)
            out = transitions[block - 1]
            params += 4 * channels + channels * out
            float_macs += h * w * channels * out
            channels = out
        for _ in range(layers):
            binary = 9 * channels * config.growth_rate
            binary_params += binary
            params += 4 * channels + binary
            binary_macs += h * w * binary
            channels += config.growth_rate
    params += 4 * channels
    return with_classifier(
        channels, geometry.classes, params, binary_params, binary_macs, float_macs
    )
