"""Closed-form size and cost of ``quicknet`` models, without building them.

Counts follow Keras' ``count_params()`` (BatchNorm's moving statistics
included) so they can be checked against the built model; MACs count one
multiply-accumulate per kernel tap and output element.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from lce_nas.space.base import DEPLOY, HW, ArchSummary, Geometry, StemStrides
from lce_nas.space.costs import final_spatial_after, strided, with_classifier

if TYPE_CHECKING:
    from lce_nas.space.quicknet import QuickNetConfig


def _transition_out(size: int, kind: str) -> int:
    if kind == "blurpool" and size >= 2:  # 2x2 max-pool stride 1 (valid), stride-2 blur
        return strided(size - 1, 2)
    return strided(size, 2)


def final_spatial(config: QuickNetConfig, input_hw: HW, stem_strides: StemStrides) -> HW:
    """Height and width of the last section's feature map.

    Example (a proxy's 32 px input keeps 4x4 only without stem strides):
        >>> from lce_nas.space.quicknet import PRESETS
        >>> [final_spatial(PRESETS["quicknet"], (32, 32), s) for s in [(1, 1), (2, 1)]]
        [(4, 4), (2, 2)]
    """
    steps = [partial(_transition_out, kind=config.transition)] * (len(config.section_filters) - 1)
    return final_spatial_after(input_hw, stem_strides, steps)


def quicknet_summary(config: QuickNetConfig, geometry: Geometry = DEPLOY) -> ArchSummary:
    """Parameters, binary/float MACs and packed size of a ``quicknet`` model.

    Example:
        >>> from lce_nas.space.quicknet import PRESETS
        >>> s = quicknet_summary(PRESETS["quicknet-small"])
        >>> s.parameters, s.binary_macs
        (12664344, 1156055040)
    """
    h, w, cin = geometry.input_shape
    stem = config.stem_filters
    f0 = config.section_filters[0]
    params = binary_params = binary_macs = float_macs = 0

    def bn(channels: int, scaled: bool = True) -> int:
        return channels * (4 if scaled else 2)

    # Stem: 3x3 conv, BN, depthwise 3x3, BN (no scale/center), 1x1 conv, BN.
    h, w = strided(h, geometry.stem_strides[0]), strided(w, geometry.stem_strides[0])
    params += 9 * cin * stem + bn(stem)
    float_macs += h * w * 9 * cin * stem
    h, w = strided(h, geometry.stem_strides[1]), strided(w, geometry.stem_strides[1])
    params += 9 * stem + bn(stem, scaled=False) + stem * f0 + bn(f0)
    float_macs += h * w * (9 * stem + stem * f0)

    channels = f0
    k2 = config.kernel_size**2
    for section, (blocks, filters) in enumerate(
        zip(config.section_blocks, config.section_filters, strict=True)
    ):
        if section > 0:
            h, w = _transition_out(h, config.transition), _transition_out(w, config.transition)
            if config.transition == "blurpool":
                params += 9 * channels
                float_macs += h * w * 9 * channels
            params += channels * filters + bn(filters)
            float_macs += h * w * channels * filters
            channels = filters
        block_binary = k2 * channels * channels
        binary_params += blocks * block_binary
        params += blocks * (block_binary + bn(channels))
        binary_macs += blocks * h * w * block_binary

    return with_classifier(
        channels, geometry.classes, params, binary_params, binary_macs, float_macs
    )
