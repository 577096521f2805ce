"""Closed-form size and cost of ``realtobinary`` models, without building them.

Counts follow Keras' ``count_params()`` (BatchNorm's moving statistics
included); MACs count one multiply-accumulate per kernel tap and output element.
"""

from __future__ import annotations

import math

from lce_nas.space.base import ArchSummary
from lce_nas.space.realtobinary import RealToBinaryConfig


def realtobinary_summary(
    config: RealToBinaryConfig,
    input_shape: tuple[int, int, int],
    classes: int,
    stem_strides: tuple[int, int],
) -> ArchSummary:
    """Parameters, binary/float MACs and packed size of a ``realtobinary`` model.

    Example:
        >>> from lce_nas.space.realtobinary import PRESETS
        >>> realtobinary_summary(PRESETS["realtobinary"], (224, 224, 3), 1000, (2, 2)).parameters
        11995624
    """
    h, w, cin = input_shape
    channels = config.stage_filters[0]
    h, w = math.ceil(h / stem_strides[0]), math.ceil(w / stem_strides[0])
    params = 49 * cin * channels + 4 * channels + channels  # conv, BN, PReLU
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
            params += 4 * channels + binary + filters  # BN before the conv, conv, PReLU
            if config.scaling == "data":
                gate = channels // config.scaling_r * (channels + filters)
                params += gate
                float_macs += gate
            channels = filters
    params += channels * classes + classes
    float_macs += channels * classes
    return ArchSummary(
        parameters=params,
        binary_macs=binary_macs,
        float_macs=float_macs,
        packed_bytes=math.ceil(binary_params / 8) + 4 * (params - binary_params),
    )
