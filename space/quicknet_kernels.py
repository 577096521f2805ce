"""The kernels a converted ``quicknet`` model runs, in run order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lce_nas.space.base import DEPLOY, Geometry
from lce_nas.space.kernels import Kernel, KernelList

if TYPE_CHECKING:
    from lce_nas.space.quicknet import QuickNetConfig


def quicknet_kernels(config: QuickNetConfig, geometry: Geometry = DEPLOY) -> list[Kernel]:
    """Kernels of a ``quicknet`` deploy model; BatchNorms and ReLUs are fused away.

    Example:
        >>> from lce_nas.space.quicknet import PRESETS
        >>> ops = [k.op for k in quicknet_kernels(PRESETS["quicknet"])]
        >>> len(ops), ops.count("LceBconv2d"), ops.count("ADD")
        (63, 16, 16)
    """
    ks = KernelList()
    x = ks.conv("CONV_2D", geometry.input_shape, config.stem_filters, 3, geometry.stem_strides[0])
    x = ks.conv("DEPTHWISE_CONV_2D", x, x[2], 3, geometry.stem_strides[1])
    x = ks.conv("CONV_2D", x, config.section_filters[0], 1)
    for section, (blocks, filters) in enumerate(
        zip(config.section_blocks, config.section_filters, strict=True)
    ):
        if section > 0:
            if config.transition == "blurpool":
                padding = "valid" if min(x[:2]) >= 2 else "same"
                x = ks.pool("MAX_POOL_2D", x, 2, 1, padding)
                x = ks.conv("DEPTHWISE_CONV_2D", x, x[2], 3, 2)
            else:
                op = "MAX_POOL_2D" if config.transition == "maxpool" else "AVERAGE_POOL_2D"
                x = ks.pool(op, x, 2, 2)
            x = ks.conv("CONV_2D", x, filters, 1)
        for _ in range(blocks):
            ks.binary_conv(x, x[2], config.kernel_size)
            x = ks.elementwise("ADD", x, inputs=2)
    ks.head(x, geometry.classes)
    return ks.kernels
