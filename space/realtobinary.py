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

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lce_nas.space.base import ArchSummary, SearchSpace, register_space
from lce_nas.space.params import (
    choice,
    int_list,
    merge_params,
    suggest_widths,
    widths,
)

if TYPE_CHECKING:
    import optuna
    import tensorflow as tf

STAGES = 4
BLOCKS_RANGE = (1, 12)
FILTERS_RANGE = (32, 768)
FILTERS_STEP = 32
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
class RealToBinarySpace(SearchSpace[RealToBinaryConfig]):
    """Real-to-Binary-like BNNs (see the module docstring for the block).

    Example:
        >>> space = RealToBinarySpace()
        >>> space.describe(space.preset("realtobinary")).parameters
        11995624
    """

    name = "realtobinary"
    version = "1"
    summary = (
        "Real-to-Binary-like BNNs: 4 stages x 1-12 binary convs with data-dependent "
        "scaling and PReLU, 32-768 filters, scaling kind and reduction, kernel size"
    )

    def suggest(self, trial: optuna.Trial) -> RealToBinaryConfig:
        """Sample a config; decreasing filters are repaired by a running maximum."""
        return RealToBinaryConfig(
            stage_blocks=tuple(
                trial.suggest_int(f"blocks_{i}", *BLOCKS_RANGE) for i in range(STAGES)
            ),
            stage_filters=suggest_widths(trial, "filters", *FILTERS_RANGE, FILTERS_STEP, STAGES),
            scaling=trial.suggest_categorical("scaling", SCALINGS),
            scaling_r=trial.suggest_categorical("scaling_r", SCALING_REDUCTIONS),
            kernel_size=trial.suggest_categorical("kernel_size", KERNEL_SIZES),
        )

    def trial_params(self, config: RealToBinaryConfig) -> dict[str, Any]:
        """Optuna parameters for which :meth:`suggest` returns ``config`` (for enqueueing)."""
        params: dict[str, Any] = {}
        for i in range(STAGES):
            params[f"blocks_{i}"] = config.stage_blocks[i]
            params[f"filters_{i}_x32"] = config.stage_filters[i] // FILTERS_STEP
        params.update(
            scaling=config.scaling, scaling_r=config.scaling_r, kernel_size=config.kernel_size
        )
        return params

    def config_from_params(self, params: dict[str, Any]) -> RealToBinaryConfig:
        """Validate a config given as JSON; missing fields take Real-to-Binary Net's values.

        Example:
            >>> RealToBinarySpace().config_from_params({"scaling": "none"}).scaling
            'none'
        """
        values = merge_params(
            params, dataclasses.asdict(PRESETS["realtobinary"]), self.name, '{"scaling": "data"}'
        )
        return RealToBinaryConfig(
            stage_blocks=int_list(values["stage_blocks"], "stage_blocks", *BLOCKS_RANGE, STAGES),
            stage_filters=widths(
                values["stage_filters"], "stage_filters", *FILTERS_RANGE, FILTERS_STEP, STAGES
            ),
            scaling=choice(values["scaling"], "scaling", SCALINGS),
            scaling_r=choice(values["scaling_r"], "scaling_r", SCALING_REDUCTIONS),
            kernel_size=choice(values["kernel_size"], "kernel_size", KERNEL_SIZES),
        )

    def presets(self) -> dict[str, RealToBinaryConfig]:
        return dict(PRESETS)

    def build_deploy(
        self,
        config: RealToBinaryConfig,
        input_shape: tuple[int, int, int] = (224, 224, 3),
        classes: int = 1000,
    ) -> tf.keras.Model:
        from lce_nas.space.realtobinary_keras import build_realtobinary

        return build_realtobinary(config, input_shape, classes, stem_strides=(2, 2))

    def build_proxy(
        self,
        config: RealToBinaryConfig,
        input_shape: tuple[int, int, int] = (32, 32, 1),
        classes: int = 10,
        width: float = 1.0,
    ) -> tf.keras.Model:
        """The deploy network's block structure, adapted to small images (as ``birealnet``)."""
        from lce_nas.space.birealnet import proxy_plan
        from lce_nas.space.realtobinary_keras import build_realtobinary

        # At least scaling_r channels per stage keep the gate's reduced Dense non-empty.
        scaled, strides = proxy_plan(config, input_shape, width, least=config.scaling_r)
        return build_realtobinary(scaled, input_shape, classes, stem_strides=strides)

    def describe(
        self,
        config: RealToBinaryConfig,
        input_shape: tuple[int, int, int] = (224, 224, 3),
        classes: int = 1000,
    ) -> ArchSummary:
        from lce_nas.space.realtobinary_cost import realtobinary_summary

        return realtobinary_summary(config, input_shape, classes, stem_strides=(2, 2))
