"""Closed-form size and cost of ``realtobinary`` models, without building them.

Counts follow Keras' ``count_params()`` (BatchNorm's moving statistics
included); MACs count one multiply-accumulate per kernel tap and output element.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lce_nas.space.base import DEPLOY, ArchSummary, Geometry
from lce_nas.space.birealnet_cost import residual_stages_summary

if TYPE_CHECKING:
    from lce_nas.space.realtobinary import RealToBinaryConfig


def realtobinary_summary(config: RealToBinaryConfig, geometry: Geometry = DEPLOY) -> ArchSummary:
    """Parameters, binary/float MACs and packed size of a ``realtobinary`` model.

    Example:
        >>> from lce_nas.space.realtobinary import PRESETS
        >>> s = realtobinary_summary(PRESETS["realtobinary"])
        >>> s.parameters, s.float_macs // 10**6
        (11995624, 138)
    """

    def block_extra(channels: int, filters: int) -> tuple[int, int]:
        gate = (
            channels // config.scaling_r * (channels + filters) if config.scaling == "data" else 0
        )
        # BN before the conv, PReLU after it, and the gate's two Dense layers.
        return 4 * channels + filters + gate, gate

    stem = config.stage_filters[0]
    return residual_stages_summary(config, geometry, 4 * stem + stem, block_extra)
