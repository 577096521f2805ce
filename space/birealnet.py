"""The ``birealnet`` space: ResNet-18-shaped BNNs, a real-valued shortcut around each binary conv.

A point of the space is a :class:`BiRealConfig`. Bi-Real Net and
BinaryResNetE18 (larq-zoo ``literature/birealnet.py`` and
``literature/resnet_e.py``) are named presets inside it; they differ only in
their ``recipe`` (quantizers, BatchNorm settings, stem and head).

The first binary conv of every stage after the first has stride 2, and its
shortcut is downsampled by ``shortcut`` (a pool and a full-precision 1x1
conv with BatchNorm, as larq-zoo does, or a strided 1x1 conv). Stage widths
never decrease: :meth:`BiRealSpace.suggest` repairs a proposal by a running
maximum, a config given by a user is validated instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from lce_nas.space.base import register_space
from lce_nas.space.birealnet_cost import birealnet_summary
from lce_nas.space.birealnet_kernels import birealnet_kernels
from lce_nas.space.zoo import StagedSpace

SHORTCUTS = ("avgpool", "maxpool", "conv")
KERNEL_SIZES = (3, 5)
RECIPES = ("birealnet", "resnet-e")
PAD_VALUES = (0, 1)


@dataclass(frozen=True)
class BiRealConfig:
    """One Bi-Real-like architecture.

    Attributes:
        stage_blocks: binary convs, each with its own shortcut, in each of the
            4 stages (1..12; ResNet-18 has 4).
        stage_filters: channels of each stage (the stem has the first stage's),
            multiples of 32 in 32..768, never decreasing.
        shortcut: how a downsampling block's shortcut is reduced: ``avgpool``
            (2x2 average pool stride 2, 1x1 conv, BN: larq-zoo's), ``maxpool``
            (2x2 max pool stride 2, 1x1 conv, BN) or ``conv`` (1x1 conv
            stride 2, BN).
        kernel_size: kernel of the binary convolutions (3 or 5).
        recipe: ``birealnet`` (ApproxSign inputs, magnitude-aware sign
            weights clipped at 1, BN momentum 0.8; 7x7 stem conv, BN, 3x3
            max pool) or ``resnet-e`` (SteSign clipped at 1.25, BN momentum
            0.9 / eps 1e-5; stem conv, BN, ReLU, max pool, BN; ReLU before
            the head).
        pad_value: what the binary convs pad with, 0 (larq-zoo's) or 1
            (LCE's advice; it needs no padding correction).

    Example:
        >>> BiRealConfig((4, 4, 4, 4), (64, 128, 256, 512)).shortcut
        'avgpool'
    """

    stage_blocks: tuple[int, ...]
    stage_filters: tuple[int, ...]
    shortcut: str = "avgpool"
    kernel_size: int = 3
    recipe: str = "birealnet"
    pad_value: int = 0


PRESETS: dict[str, BiRealConfig] = {
    "birealnet": BiRealConfig((4, 4, 4, 4), (64, 128, 256, 512)),
    "binary-resnet-e18": BiRealConfig((4, 4, 4, 4), (64, 128, 256, 512), recipe="resnet-e"),
}


@register_space
class BiRealSpace(StagedSpace[BiRealConfig]):
    """Bi-Real-like BNNs (see the module docstring for the downsampling and width rules).

    Example:
        >>> space = BiRealSpace()
        >>> space.config_from_params({"recipe": "resnet-e"}) == space.preset("binary-resnet-e18")
        True
    """

    name = "birealnet"
    version = "1"
    summary = (
        "Bi-Real / ResNet-E-like BNNs: 4 stages x 1-12 binary convs with real-valued "
        "shortcuts, 32-768 filters, shortcut downsampling, kernel size, recipe, pad value"
    )
    preset_table = PRESETS
    default_preset = "birealnet"
    params_example = '{"kernel_size": 3}'
    keras_builder = "lce_nas.space.birealnet_keras:build_birealnet"
    cost_model = birealnet_summary
    kernel_model = birealnet_kernels
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "shortcut": SHORTCUTS,
        "kernel_size": KERNEL_SIZES,
        "recipe": RECIPES,
        "pad_value": PAD_VALUES,
    }
