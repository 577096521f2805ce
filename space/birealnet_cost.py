"""Closed-form size and cost of ``birealnet`` models, without building them.

Counts follow Keras' ``count_params()`` (BatchNorm's moving statistics
included); MACs count one multiply-accumulate per kernel tap and output element.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lce_nas.space.base import DEPLOY, HW, ArchSummary, Geometry, StemStrides
from lce_nas.space.costs import final_spatial_after, stem_7x7, strided, with_classifier
from lce_nas.space.zoo import STAGES

if TYPE_CHECKING:
    from lce_nas.space.birealnet import BiRealConfig


def _halved(size: int) -> int:
    return strided(size, 2)


def final_spatial(input_hw: HW, stem_strides: StemStrides) -> HW:
    """Height and width of the last stage's feature map (stride 2 at each later stage).

    Example:
        >>> final_spatial((224, 224), (2, 2))
        (7, 7)
    """
    return final_spatial_after(input_hw, stem_strides, [_halved] * (STAGES - 1))


def residual_stages_summary(
    config: Any,
    geometry: Geometry,
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
    channels = config.stage_filters[0]
    h, w, params, float_macs = stem_7x7(geometry, channels)
    params += stem_extra
    binary_params = binary_macs = 0
    k2 = config.kernel_size**2
    for stage, (blocks, filters) in enumerate(
        zip(config.stage_blocks, config.stage_filters, strict=True)
    ):
        for block in range(blocks):
            downsample = stage > 0 and block == 0
            if downsample:
                h, w = _halved(h), _halved(w)
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
    return with_classifier(
        channels, geometry.classes, params, binary_params, binary_macs, float_macs
    )


def birealnet_summary(config: BiRealConfig, geometry: Geometry = DEPLOY) -> ArchSummary:
    """Parameters, binary/float MACs and packed size of a ``birealnet`` model.

    Example:
        >>> from lce_nas.space.birealnet import PRESETS
        >>> birealnet_summary(PRESETS["binary-resnet-e18"]).parameters
        11699368
    """
    stem_bns = 2 if config.recipe == "resnet-e" else 1
    return residual_stages_summary(
        config,
        geometry,
        stem_extra=stem_bns * 4 * config.stage_filters[0],
        block_extra=lambda _, filters: (4 * filters, 0),  # BN after the conv
    )
