"""The kernels a converted ``realtobinary`` model runs, in run order."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lce_nas.space.base import DEPLOY, Geometry
from lce_nas.space.kernels import Kernel, KernelList

if TYPE_CHECKING:
    from lce_nas.space.realtobinary import RealToBinaryConfig


def realtobinary_kernels(config: RealToBinaryConfig, geometry: Geometry = DEPLOY) -> list[Kernel]:
    """Kernels of a ``realtobinary`` deploy model.

    The BatchNorm before each binary conv stays a ``MUL`` (its offset is zero
    until trained); the data-driven gate is a global pool, two dense layers,
    a sigmoid and a broadcast ``MUL``.

    Example:
        >>> from lce_nas.space.realtobinary import PRESETS
        >>> sum(k.op == "LOGISTIC" for k in realtobinary_kernels(PRESETS["realtobinary"]))
        16
    """
    ks = KernelList()
    x = ks.stem_7x7(geometry, config.stage_filters[0], activation="PRELU")
    for stage, (blocks, filters) in enumerate(
        zip(config.stage_blocks, config.stage_filters, strict=True)
    ):
        for index in range(blocks):
            stride = 2 if stage > 0 and index == 0 else 1
            if stride == 2 or x[2] != filters:
                shortcut = ks.pool("AVERAGE_POOL_2D", x, 2, stride)
                ks.conv("CONV_2D", shortcut, filters, 1)
            conv_input = ks.elementwise("MUL", x)
            if config.scaling == "data":
                z = ks.add(Kernel("AVERAGE_POOL_2D", x, (1, 1, x[2]), x[:2], x[0]))
                z = ks.add(Kernel("FULLY_CONNECTED", z, (1, 1, x[2] // config.scaling_r)))
                z = ks.add(Kernel("FULLY_CONNECTED", z, (1, 1, filters)))
                ks.add(Kernel("LOGISTIC", z, z))
            y = ks.binary_conv(conv_input, filters, config.kernel_size, stride)
            if config.scaling == "data":
                ks.add(Kernel("MUL", y, y, in_elements=math.prod(y) + filters))
            ks.elementwise("PRELU", y)
            x = ks.elementwise("ADD", y, inputs=2)
    ks.head(x, geometry.classes)
    return ks.kernels
