"""The kernels a converted ``birealnet`` model runs, in run order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lce_nas.space.base import DEPLOY, Geometry
from lce_nas.space.kernels import Kernel, KernelList

if TYPE_CHECKING:
    from lce_nas.space.birealnet import BiRealConfig


def birealnet_kernels(config: BiRealConfig, geometry: Geometry = DEPLOY) -> list[Kernel]:
    """Kernels of a ``birealnet`` deploy model.

    The stem's BatchNorm folds into its conv, except ResNet-E's second one,
    after the max pool, which stays a ``MUL`` (its offset is zero until trained).

    Example:
        >>> from lce_nas.space.birealnet import PRESETS
        >>> [k.op for k in birealnet_kernels(PRESETS["binary-resnet-e18"])[:3]]
        ['CONV_2D', 'MAX_POOL_2D', 'MUL']
    """
    ks = KernelList()
    x = ks.stem_7x7(geometry, config.stage_filters[0])
    if config.recipe == "resnet-e":
        x = ks.elementwise("MUL", x)
    for stage, (blocks, filters) in enumerate(
        zip(config.stage_blocks, config.stage_filters, strict=True)
    ):
        for index in range(blocks):
            downsample = stage > 0 and index == 0
            stride = 2 if downsample else 1
            if downsample:
                shortcut = x
                if config.shortcut != "conv":
                    op = "AVERAGE_POOL_2D" if config.shortcut == "avgpool" else "MAX_POOL_2D"
                    shortcut = ks.pool(op, x, 2, 2)
                ks.conv("CONV_2D", shortcut, filters, 1, 1 if config.shortcut != "conv" else 2)
            out = ks.binary_conv(x, filters, config.kernel_size, stride)
            x = ks.elementwise("ADD", out, inputs=2)
    ks.head(x, geometry.classes)
    return ks.kernels
