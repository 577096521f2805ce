"""The ``quicknet`` space: QuickNet-like BNNs of four sections of residual binary blocks.

A point of the space is a :class:`QuickNetConfig`. QuickNetSmall, QuickNet and
QuickNetLarge (larq-zoo) are named presets inside it.

Rule for widths: a section never has fewer filters than the section before it.
Optuna proposes each section's filters independently and :meth:`suggest`
repairs a proposal by a running maximum (``(256, 128, ...)`` becomes
``(256, 256, ...)``), so every trial is a valid network and duplicates share a
fingerprint; a config given by a user is validated instead, and a decreasing
one is rejected with an error, so nothing the user wrote is silently changed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from lce_nas.space.base import HWC, StemStrides, register_space
from lce_nas.space.params import scale_channels
from lce_nas.space.quicknet_cost import quicknet_summary
from lce_nas.space.quicknet_kernels import quicknet_kernels
from lce_nas.space.zoo import StagedSpace

STEM_FILTERS = (8, 16, 24, 32, 48, 64)
TRANSITIONS = ("blurpool", "maxpool", "avgpool")
KERNEL_SIZES = (3, 5)
ACTIVATIONS = ("relu", "relu6", "none")


@dataclass(frozen=True)
class QuickNetConfig:
    """One QuickNet-like architecture.

    Attributes:
        section_blocks: residual binary blocks in each of the 4 sections (1..12).
        section_filters: channels of each section, multiples of 32 in 32..768,
            never decreasing.
        stem_filters: channels of the stem's first full-precision 3x3 conv.
        transition: downsampling between sections: ``blurpool`` (QuickNet's
            ReLU, 2x2 max-pool stride 1, fixed blur depthwise conv stride 2,
            1x1 conv, BN), ``maxpool`` (ReLU, 2x2 max-pool stride 2, 1x1 conv,
            BN) or ``avgpool`` (ReLU, 2x2 average-pool stride 2, 1x1 conv, BN).
        kernel_size: kernel of the binary convolutions (3 or 5).
        activation: fused after each binary conv: ``relu``, ``relu6`` or ``none``.

    Example:
        >>> QuickNetConfig((4, 4, 4, 4), (64, 128, 256, 512), 16).transition
        'blurpool'
    """

    section_blocks: tuple[int, ...]
    section_filters: tuple[int, ...]
    stem_filters: int
    transition: str = "blurpool"
    kernel_size: int = 3
    activation: str = "relu"


PRESETS: dict[str, QuickNetConfig] = {
    "quicknet-small": QuickNetConfig((4, 4, 4, 4), (32, 64, 256, 512), 8),
    "quicknet": QuickNetConfig((4, 4, 4, 4), (64, 128, 256, 512), 16),
    "quicknet-large": QuickNetConfig((6, 8, 12, 6), (64, 128, 256, 512), 16),
}


@register_space
class QuickNetSpace(StagedSpace[QuickNetConfig]):
    """QuickNet-like BNNs (see the module docstring for the bounds and the width rule).

    Example:
        >>> space = QuickNetSpace()
        >>> space.describe(space.preset("quicknet")).parameters
        13243720
        >>> space.config_from_params({"kernel_size": 5}).kernel_size
        5
    """

    name = "quicknet"
    version = "1"
    summary = (
        "QuickNet-like BNNs: 4 sections x 1-12 binary residual blocks, 32-768 filters, "
        "stem width, transition type, binary kernel size, fused activation"
    )
    preset_table = PRESETS
    default_preset = "quicknet"
    params_example = '{"kernel_size": 3}'
    keras_builder = "lce_nas.space.quicknet_keras:build_quicknet"
    cost_model = quicknet_summary
    kernel_model = quicknet_kernels
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "stem_filters": STEM_FILTERS,
        "transition": TRANSITIONS,
        "kernel_size": KERNEL_SIZES,
        "activation": ACTIVATIONS,
    }

    def proxy_plan(
        self, config: QuickNetConfig, input_shape: HWC, width: float
    ) -> tuple[QuickNetConfig, StemStrides]:
        """The widths and stem strides of a proxy of ``width``.

        Mapping from the deploy model: the same blocks per section, kernel
        size, transition type and activation; every width (stem and sections)
        times ``width``, rounded to a multiple of 4 and at least 4; the stem
        keeps its layers but drops stride-2 steps (first the depthwise
        conv's, then the first conv's) until the last section is at
        least 4x4 where the input allows it, and never below 2x2 (28-32 px
        inputs keep no stride: 32 -> 32 -> 16 -> 8 -> 4).
        """
        from lce_nas.space.quicknet_keras import proxy_stem_strides

        scaled = scale_width(config, width)
        return scaled, proxy_stem_strides(scaled, input_shape)


def scale_width(config: QuickNetConfig, width: float) -> QuickNetConfig:
    """The config with every width times ``width`` (see :meth:`QuickNetSpace.proxy_plan`).

    Example:
        >>> scale_width(PRESETS["quicknet-small"], 0.25).section_filters
        (8, 16, 64, 128)
        >>> scale_width(PRESETS["quicknet"], 1 / 16).section_filters
        (4, 8, 16, 32)
    """
    # Multiples of 4, not 8: at the narrow proxy widths a coarser grid maps
    # different sections (QuickNet's 64 and QuickNetSmall's 32) to one width.
    return dataclasses.replace(
        config,
        section_filters=tuple(scale_channels(f, width) for f in config.section_filters),
        stem_filters=scale_channels(config.stem_filters, width),
    )
