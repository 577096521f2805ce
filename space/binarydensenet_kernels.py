"""The kernels a converted ``binarydensenet`` model runs, in run order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lce_nas.space.base import DEPLOY, Geometry
from lce_nas.space.binarydensenet_cost import transition_filters
from lce_nas.space.kernels import Kernel, KernelList

if TYPE_CHECKING:
    from lce_nas.space.binarydensenet import DenseNetConfig


def densenet_kernels(config: DenseNetConfig, geometry: Geometry = DEPLOY) -> list[Kernel]:
    """Kernels of a ``binarydensenet`` deploy model.

    Every BatchNorm that follows a concatenation or a pool stays a ``MUL``
    (its offset is zero until trained); the stem's folds into its conv.

    Example:
        >>> from lce_nas.space.binarydensenet import PRESETS
        >>> ks = densenet_kernels(PRESETS["binary-densenet28"])
        >>> len(ks), sum(k.op == "CONCATENATION" for k in ks)
        (107, 23)
    """
    ks = KernelList()
    x = ks.stem_7x7(geometry, config.initial_filters)
    widths = transition_filters(config)
    for block, (layers, dilation) in enumerate(
        zip(config.block_layers, config.dilations, strict=True)
    ):
        if block > 0:
            x = ks.elementwise("MUL", x)
            if dilation == 1:
                padding = "valid" if min(x[:2]) >= 2 else "same"
                op = "MAX_POOL_2D" if config.transition_pool == "maxpool" else "AVERAGE_POOL_2D"
                x = ks.pool(op, x, 2, 2, padding)
            x = ks.conv("CONV_2D", x, widths[block - 1], 1)
        for _ in range(layers):
            y = ks.elementwise("MUL", x)
            y = ks.binary_conv(y, config.growth_rate, 3, dilation=dilation)
            x = ks.concat([x, y])
    x = ks.elementwise("MUL", x)
    ks.head(x, geometry.classes)
    return ks.kernels
