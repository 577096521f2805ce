"""Closed-form size and cost of ``realtobinary`` models, without building them.

Counts follow Keras' ``count_params()`` (BatchNorm's moving statistics
included); MACs count one multiply-accumulate per kernel tap and output element.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lce_nas.space.base import HWC, ArchSummary, StemStrides
from lce_nas.space.birealnet_cost import residual_stages_summary

if TYPE_CHECKING:
    from lce_nas.space.realtobinary import RealToBinaryConfig


def realtobinary_summary(
    config: RealToBinaryConfig, input_shape: HWC, classes: int, stem_strides: StemStrides
) -> ArchSummary:
    """Parameters, binary/float MACs and packed size of a ``realtobinary`` model.

    Example:
        >>> from lce_nas.space.realtobinary import PRESETS
        >>> realtobinary_summary(PRESETS["realtobinary"], (224, 224, 3), 1000, (2, 2)).parameters
        11995624
    """

    def block_extra(channels: int, filters: int) -> tuple[int, int]:
        gate = (
            channels // config.scaling_r * (channels + filters) if config.scaling == "data" else 0
        )
        # BN before the conv, PReLU after it, and the gate's two Dense layers.
        return 4 * channels + filters + gate, gate

    stem = config.stage_filters[0]
    return residual_stages_summary(
        config, input_shape, classes, stem_strides, 4 * stem + stem, block_extra
    )
