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
from typing import TYPE_CHECKING, Any

from lce_nas.space.base import ArchSummary, SearchSpace, register_space
from lce_nas.space.params import (
    choice,
    int_list,
    merge_params,
    scale_channels,
    suggest_widths,
    widths,
)

if TYPE_CHECKING:
    import optuna
    import tensorflow as tf

SECTIONS = 4
BLOCKS_RANGE = (1, 12)
FILTERS_RANGE = (32, 768)
FILTERS_STEP = 32
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

_FIELDS = [f.name for f in dataclasses.fields(QuickNetConfig)]


@register_space
class QuickNetSpace(SearchSpace[QuickNetConfig]):
    """QuickNet-like BNNs (see the module docstring for the bounds and the width rule).

    Example:
        >>> space = QuickNetSpace()
        >>> space.describe(space.preset("quicknet")).parameters
        13243720
    """

    name = "quicknet"
    version = "1"
    summary = (
        "QuickNet-like BNNs: 4 sections x 1-12 binary residual blocks, 32-768 filters, "
        "stem width, transition type, binary kernel size, fused activation"
    )

    def suggest(self, trial: optuna.Trial) -> QuickNetConfig:
        """Sample a config; decreasing filters are repaired by a running maximum."""
        blocks = tuple(trial.suggest_int(f"blocks_{i}", *BLOCKS_RANGE) for i in range(SECTIONS))
        filters = suggest_widths(trial, "filters", *FILTERS_RANGE, FILTERS_STEP, SECTIONS)
        return QuickNetConfig(
            section_blocks=blocks,
            section_filters=filters,
            stem_filters=trial.suggest_categorical("stem_filters", STEM_FILTERS),
            transition=trial.suggest_categorical("transition", TRANSITIONS),
            kernel_size=trial.suggest_categorical("kernel_size", KERNEL_SIZES),
            activation=trial.suggest_categorical("activation", ACTIVATIONS),
        )

    def trial_params(self, config: QuickNetConfig) -> dict[str, Any]:
        """Optuna parameters for which :meth:`suggest` returns ``config`` (for enqueueing)."""
        params: dict[str, Any] = {}
        for i in range(SECTIONS):
            params[f"blocks_{i}"] = config.section_blocks[i]
            params[f"filters_{i}_x32"] = config.section_filters[i] // FILTERS_STEP
        params.update(
            stem_filters=config.stem_filters,
            transition=config.transition,
            kernel_size=config.kernel_size,
            activation=config.activation,
        )
        return params

    def config_from_params(self, params: dict[str, Any]) -> QuickNetConfig:
        """Validate a config given as JSON; missing fields take QuickNet's values.

        Example:
            >>> QuickNetSpace().config_from_params({"kernel_size": 5}).kernel_size
            5
        """
        values = merge_params(
            params, dataclasses.asdict(PRESETS["quicknet"]), "quicknet", '{"kernel_size": 3}'
        )
        blocks = int_list(values["section_blocks"], "section_blocks", *BLOCKS_RANGE, SECTIONS)
        filters = widths(
            values["section_filters"], "section_filters", *FILTERS_RANGE, FILTERS_STEP, SECTIONS
        )
        return QuickNetConfig(
            section_blocks=blocks,
            section_filters=filters,
            stem_filters=choice(values["stem_filters"], "stem_filters", STEM_FILTERS),
            transition=choice(values["transition"], "transition", TRANSITIONS),
            kernel_size=choice(values["kernel_size"], "kernel_size", KERNEL_SIZES),
            activation=choice(values["activation"], "activation", ACTIVATIONS),
        )

    def presets(self) -> dict[str, QuickNetConfig]:
        return dict(PRESETS)

    def build_deploy(
        self,
        config: QuickNetConfig,
        input_shape: tuple[int, int, int] = (224, 224, 3),
        classes: int = 1000,
    ) -> tf.keras.Model:
        from lce_nas.space.quicknet_keras import build_quicknet

        return build_quicknet(config, input_shape, classes, stem_strides=(2, 2))

    def build_proxy(
        self,
        config: QuickNetConfig,
        input_shape: tuple[int, int, int] = (32, 32, 1),
        classes: int = 10,
        width: float = 1.0,
    ) -> tf.keras.Model:
        """The deploy network's block structure, adapted to small images.

        Mapping from the deploy model: the same blocks per section, kernel
        size, transition type and activation; every width (stem and sections)
        times ``width``, rounded to a multiple of 4 and at least 4; the stem
        keeps its layers but drops stride-2 steps (first the depthwise
        conv's, then the first conv's) until the last section is at
        least 4x4 where the input allows it, and never below 2x2 (28-32 px
        inputs keep no stride: 32 -> 32 -> 16 -> 8 -> 4).
        """
        from lce_nas.space.quicknet_keras import build_quicknet, proxy_stem_strides

        scaled = scale_width(config, width)
        strides = proxy_stem_strides(scaled, input_shape)
        return build_quicknet(scaled, input_shape, classes, stem_strides=strides)

    def describe(
        self,
        config: QuickNetConfig,
        input_shape: tuple[int, int, int] = (224, 224, 3),
        classes: int = 1000,
    ) -> ArchSummary:
        from lce_nas.space.quicknet_cost import quicknet_summary

        return quicknet_summary(config, input_shape, classes, stem_strides=(2, 2))


def scale_width(config: QuickNetConfig, width: float) -> QuickNetConfig:
    """The config with every width times ``width`` (see :meth:`QuickNetSpace.build_proxy`).

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
