"""The ``realtobinary`` space: ResNet-18-shaped BNNs with Real-to-Binary Net's scaled binary convs.

A point of the space is a :class:`RealToBinaryConfig`. Real-to-Binary Net
(larq-zoo ``literature/real_to_bin_nets.py``, the BNN variant) is the named
preset. Each binary conv is larq-zoo's "half block": BN -> binary conv ->
scaling -> PReLU -> add a real-valued shortcut. The scaling branch is
expressible in Keras and converts with LCE: ``data`` is Real-to-Binary Net's
data-dependent gate (global average pool of the conv's input, Dense to
channels/r with ReLU, Dense to the output channels with sigmoid, multiply),
``none`` leaves the conv unscaled. (The strong baseline's learned static
rescale is not offered: it is a custom layer whose weights depend on the
feature map size, so it would not carry over to another deploy shape.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from lce_nas.space.base import register_space
from lce_nas.space.realtobinary_cost import realtobinary_summary
from lce_nas.space.realtobinary_kernels import realtobinary_kernels
from lce_nas.space.zoo import StagedSpace

SCALINGS = ("data", "none")
SCALING_REDUCTIONS = (4, 8, 16)
KERNEL_SIZES = (3, 5)


@dataclass(frozen=True)
class RealToBinaryConfig:
    """One Real-to-Binary-like architecture.

    Attributes:
        stage_blocks: binary convs ("half blocks") in each of the 4 stages (1..12;
            Real-to-Binary Net has 4).
        stage_filters: channels of each stage (the stem has the first stage's),
            multiples of 32 in 32..768, never decreasing.
        scaling: ``data`` (Real-to-Binary Net's gate) or ``none``.
        scaling_r: the gate's channel reduction (8 in Real-to-Binary Net).
        kernel_size: kernel of the binary convolutions (3 or 5).

    Example:
        >>> RealToBinaryConfig((4, 4, 4, 4), (64, 128, 256, 512)).scaling
        'data'
    """

    stage_blocks: tuple[int, ...]
    stage_filters: tuple[int, ...]
    scaling: str = "data"
    scaling_r: int = 8
    kernel_size: int = 3


PRESETS: dict[str, RealToBinaryConfig] = {
    "realtobinary": RealToBinaryConfig((4, 4, 4, 4), (64, 128, 256, 512)),
}


@register_space
class RealToBinarySpace(StagedSpace[RealToBinaryConfig]):
    """Real-to-Binary-like BNNs (see the module docstring for the block).

    Example:
        >>> RealToBinarySpace().config_from_params({"scaling": "none"}).scaling
        'none'
    """

    name = "realtobinary"
    version = "1"
    summary = (
        "Real-to-Binary-like BNNs: 4 stages x 1-12 binary convs with data-dependent "
        "scaling and PReLU, 32-768 filters, scaling kind and reduction, kernel size"
    )
    preset_table = PRESETS
    default_preset = "realtobinary"
    params_example = '{"scaling": "data"}'
    keras_builder = "lce_nas.space.realtobinary_keras:build_realtobinary"
    cost_model = realtobinary_summary
    kernel_model = realtobinary_kernels
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "scaling": SCALINGS,
        "scaling_r": SCALING_REDUCTIONS,
        "kernel_size": KERNEL_SIZES,
    }

    def least_proxy_filters(self, config: RealToBinaryConfig) -> int:
        """``scaling_r``: fewer channels would leave the gate's reduced Dense empty."""
        return config.scaling_r
