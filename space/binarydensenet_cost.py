"""Closed-form size and cost of ``binarydensenet`` models, without building them.

Counts follow Keras' ``count_params()`` (BatchNorm's moving statistics
included); MACs count one multiply-accumulate per kernel tap and output element.
"""

from __future__ import annotations

import math

from lce_nas.space.base import ArchSummary
from lce_nas.space.binarydensenet import DenseNetConfig, transition_filters


def _pooled(size: int) -> int:
    return size // 2 if size >= 2 else 1


def final_spatial(
    config: DenseNetConfig, input_hw: tuple[int, int], stem_strides: tuple[int, int]
) -> tuple[int, int]:
    """Height and width of the last dense block's feature map.

    Example:
        >>> from lce_nas.space.binarydensenet import PRESETS
        >>> final_spatial(PRESETS["binary-densenet37-dilated"], (224, 224), (2, 2))
        (28, 28)
    """
    sizes = []
    for size in input_hw:
        size = math.ceil(math.ceil(size / stem_strides[0]) / stem_strides[1])
        for dilation in config.dilations[1:]:
            size = _pooled(size) if dilation == 1 else size
        sizes.append(size)
    return sizes[0], sizes[1]


def densenet_summary(
    config: DenseNetConfig,
    input_shape: tuple[int, int, int],
    classes: int,
    stem_strides: tuple[int, int],
) -> ArchSummary:
    """Parameters, binary/float MACs and packed size of a ``binarydensenet`` model.

    Example:
        >>> from lce_nas.space.binarydensenet import PRESETS
        >>> densenet_summary(PRESETS["binary-densenet45"], (224, 224, 3), 1000, (2, 2)).parameters
        13939240
    """
    h, w, cin = input_shape
    channels = config.initial_filters
    h, w = math.ceil(h / stem_strides[0]), math.ceil(w / stem_strides[0])
    params = 49 * cin * channels + 4 * channels
    float_macs = h * w * 49 * cin * channels
    h, w = math.ceil(h / stem_strides[1]), math.ceil(w / stem_strides[1])
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
    params += 4 * channels + channels * classes + classes
    float_macs += channels * classes
    return ArchSummary.from_counts(params, binary_params, binary_macs, float_macs)
