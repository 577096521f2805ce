"""Closed-form size and cost of ``birealnet`` models, without building them.

Counts follow Keras' ``count_params()`` (BatchNorm's moving statistics
included); MACs count one multiply-accumulate per kernel tap and output element.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lce_nas.space.base import ArchSummary
from lce_nas.space.birealnet import STAGES, BiRealConfig


def final_spatial(input_hw: tuple[int, int], stem_strides: tuple[int, int]) -> tuple[int, int]:
    """Height and width of the last stage's feature map (stride 2 at each later stage).

    Example:
        >>> final_spatial((224, 224), (2, 2))
        (7, 7)
    """
    sizes = []
    for size in input_hw:
        size = math.ceil(math.ceil(size / stem_strides[0]) / stem_strides[1])
        for _ in range(STAGES - 1):
            size = math.ceil(size / 2)
        sizes.append(size)
    return sizes[0], sizes[1]


def residual_stages_summary(
    config: Any,
    input_shape: tuple[int, int, int],
    classes: int,
    stem_strides: tuple[int, int],
    stem_extra: int,
    block_extra: Callable[[int, int], tuple[int, int]],
) -> ArchSummary:
    """Costs of a 7x7-stem, 4-stage network with a shortcut around every binary conv.

    ``config`` has ``stage_blocks``, ``stage_filters`` and ``kernel_size``
    (``birealnet`` and ``realtobinary``); ``stem_extra`` counts the stem's
    parameters besides its conv, and ``block_extra(channels_in, channels_out)``
    the parameters and float MACs each block has besides its binary conv and
    downsampling shortcut (pool, 1x1 conv, BN).
    """
    h, w, cin = input_shape
    channels = config.stage_filters[0]
    h, w = math.ceil(h / stem_strides[0]), math.ceil(w / stem_strides[0])
    params = 49 * cin * channels + stem_extra
    float_macs = h * w * 49 * cin * channels
    h, w = math.ceil(h / stem_strides[1]), math.ceil(w / stem_strides[1])
    binary_params = binary_macs = 0
    k2 = config.kernel_size**2
    for stage, (blocks, filters) in enumerate(
        zip(config.stage_blocks, config.stage_filters, strict=True)
    ):
        for block in range(blocks):
            downsample = stage > 0 and block == 0
            if downsample:
                h, w = math.ceil(h / 2), math.ceil(w / 2)
            if downsample or channels != filters:
                params += channels * filters + 4 * filters
                float_macs += h * w * channels * filters
            binary = k2 * channels * filters
            binary_params += binary
            binary_macs += h * w * binary
            extra_params, extra_macs = block_extra(channels, filters)
            params += binary + extra_params
            float_macs += extra_macs
            channels = filters
    params += channels * classes + classes
    float_macs += channels * classes
    return ArchSummary.from_counts(params, binary_params, binary_macs, float_macs)


def birealnet_summary(
    config: BiRealConfig,
    input_shape: tuple[int, int, int],
    classes: int,
    stem_strides: tuple[int, int],
) -> ArchSummary:
    """Parameters, binary/float MACs and packed size of a ``birealnet`` model.

    Example:
        >>> from lce_nas.space.birealnet import PRESETS
        >>> birealnet_summary(PRESETS["binary-resnet-e18"], (224, 224, 3), 1000, (2, 2)).parameters
        11699368
    """
    stem_bns = 2 if config.recipe == "resnet-e" else 1
    return residual_stages_summary(
        config,
        input_shape,
        classes,
        stem_strides,
        stem_extra=stem_bns * 4 * config.stage_filters[0],
        block_extra=lambda _, filters: (4 * filters, 0),  # BN after the conv
    )
