"""Pieces of the closed-form cost models that the families share.

Counts follow Keras' ``count_params()`` (BatchNorm's moving statistics
included); MACs count one multiply-accumulate per kernel tap and output element.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from lce_nas.space.base import HW, ArchSummary, Geometry, StemStrides


def strided(size: int, stride: int) -> int:
    """A 'same'-padded feature map's size after a layer of ``stride``.

    Example:
        >>> strided(7, 2)
        4
    """
    return math.ceil(size / stride)


def final_spatial_after(
    input_hw: HW, stem_strides: StemStrides, stage_steps: Sequence[Callable[[int], int]]
) -> HW:
    """Height and width after the stem's two strides and each later stage's downsampling.

    Example:
        >>> halve = lambda size: strided(size, 2)
        >>> final_spatial_after((224, 160), (2, 2), [halve] * 3)
        (7, 5)
    """
    sizes = []
    for size in input_hw:
        size = strided(strided(size, stem_strides[0]), stem_strides[1])
        for step in stage_steps:
            size = step(size)
        sizes.append(size)
    return sizes[0], sizes[1]


def stem_7x7(geometry: Geometry, filters: int) -> tuple[int, int, int, int]:
    """The 7x7 full-precision stem conv (no bias): its params and MACs, and the map after the stem.

    Returns height and width after both stem strides (the conv's, then the
    pool's), the conv's parameters and its multiply-accumulates.

    Example:
        >>> from lce_nas.space.base import DEPLOY
        >>> stem_7x7(DEPLOY, 64)
        (56, 56, 9408, 118013952)
    """
    h, w, cin = geometry.input_shape
    h, w = strided(h, geometry.stem_strides[0]), strided(w, geometry.stem_strides[0])
    params = 49 * cin * filters
    macs = h * w * params
    second = geometry.stem_strides[1]
    return strided(h, second), strided(w, second), params, macs


def with_classifier(
    channels: int, classes: int, params: int, binary_params: int, binary_macs: int, float_macs: int
) -> ArchSummary:
    """The summary of a network whose ``channels`` pooled features feed a Dense classifier.

    ``params`` and the MACs count everything before the classifier.

    Example:
        >>> with_classifier(512, 1000, 0, 0, 0, 0).parameters
        513000
    """
    params += channels * classes + classes
    float_macs += channels * classes
    return ArchSummary.from_counts(params, binary_params, binary_macs, float_macs)
