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

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lce_nas.space.base import ArchSummary, SearchSpace, register_space
from lce_nas.space.params import (
    choice,
    int_list,
    merge_params,
    proxy_stem_strides,
    scale_channels,
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
class BiRealSpace(SearchSpace[BiRealConfig]):
    """Bi-Real-like BNNs (see the module docstring for the downsampling and width rules).

    Example:
        >>> space = BiRealSpace()
        >>> space.describe(space.preset("birealnet")).parameters
        11699112
    """

    name = "birealnet"
    version = "1"
    summary = (
        "Bi-Real / ResNet-E-like BNNs: 4 stages x 1-12 binary convs with real-valued "
        "shortcuts, 32-768 filters, shortcut downsampling, kernel size, recipe, pad value"
    )

    def suggest(self, trial: optuna.Trial) -> BiRealConfig:
        """Sample a config; decreasing filters are repaired by a running maximum."""
        blocks = tuple(trial.suggest_int(f"blocks_{i}", *BLOCKS_RANGE) for i in range(STAGES))
        return BiRealConfig(
            stage_blocks=blocks,
            stage_filters=suggest_widths(trial, "filters", *FILTERS_RANGE, FILTERS_STEP, STAGES),
            shortcut=trial.suggest_categorical("shortcut", SHORTCUTS),
            kernel_size=trial.suggest_categorical("kernel_size", KERNEL_SIZES),
            recipe=trial.suggest_categorical("recipe", RECIPES),
            pad_value=trial.suggest_categorical("pad_value", PAD_VALUES),
        )

    def trial_params(self, config: BiRealConfig) -> dict[str, Any]:
        """Optuna parameters for which :meth:`suggest` returns ``config`` (for enqueueing)."""
        params: dict[str, Any] = {}
        for i in range(STAGES):
            params[f"blocks_{i}"] = config.stage_blocks[i]
            params[f"filters_{i}_x32"] = config.stage_filters[i] // FILTERS_STEP
        params.update(
            shortcut=config.shortcut,
            kernel_size=config.kernel_size,
            recipe=config.recipe,
            pad_value=config.pad_value,
        )
        return params

    def config_from_params(self, params: dict[str, Any]) -> BiRealConfig:
        """Validate a config given as JSON; missing fields take Bi-Real Net's values.

        Example:
            >>> BiRealSpace().config_from_params({"recipe": "resnet-e"}).recipe
            'resnet-e'
        """
        values = merge_params(
            params, dataclasses.asdict(PRESETS["birealnet"]), self.name, '{"kernel_size": 3}'
        )
        blocks = int_list(values["stage_blocks"], "stage_blocks", *BLOCKS_RANGE, STAGES)
        return BiRealConfig(
            stage_blocks=blocks,
            stage_filters=widths(
                values["stage_filters"], "stage_filters", *FILTERS_RANGE, FILTERS_STEP, STAGES
            ),
            shortcut=choice(values["shortcut"], "shortcut", SHORTCUTS),
            kernel_size=choice(values["kernel_size"], "kernel_size", KERNEL_SIZES),
            recipe=choice(values["recipe"], "recipe", RECIPES),
            pad_value=choice(values["pad_value"], "pad_value", PAD_VALUES),
        )

    def presets(self) -> dict[str, BiRealConfig]:
        return dict(PRESETS)

    def build_deploy(
        self,
        config: BiRealConfig,
        input_shape: tuple[int, int, int] = (224, 224, 3),
        classes: int = 1000,
    ) -> tf.keras.Model:
        from lce_nas.space.birealnet_keras import build_birealnet

        return build_birealnet(config, input_shape, classes, stem_strides=(2, 2))

    def build_proxy(
        self,
        config: BiRealConfig,
        input_shape: tuple[int, int, int] = (32, 32, 1),
        classes: int = 10,
        width: float = 1.0,
    ) -> tf.keras.Model:
        """The deploy network's block structure, adapted to small images.

        Every stage width times ``width`` (multiples of 4, at least 4); the
        stem keeps its layers but drops stride-2 steps (the max pool's first,
        then the conv's) until the last stage is at least 4x4 where the
        input allows it, else at least 2x2.
        """
        from lce_nas.space.birealnet_keras import build_birealnet

        scaled, strides = proxy_plan(config, input_shape, width)
        return build_birealnet(scaled, input_shape, classes, stem_strides=strides)

    def describe(
        self,
        config: BiRealConfig,
        input_shape: tuple[int, int, int] = (224, 224, 3),
        classes: int = 1000,
    ) -> ArchSummary:
        from lce_nas.space.birealnet_cost import birealnet_summary

        return birealnet_summary(config, input_shape, classes, stem_strides=(2, 2))


def proxy_plan(
    config: Any, input_shape: tuple[int, int, int], width: float, least: int = 4
) -> tuple[Any, tuple[int, int]]:
    """A staged config (``birealnet``, ``realtobinary``) scaled for a proxy, and its stem strides.

    Stage widths are times ``width`` in multiples of 4 and at least ``least``.

    Example:
        >>> proxy_plan(PRESETS["birealnet"], (32, 32, 1), 0.125)
        ... # doctest: +NORMALIZE_WHITESPACE
        (BiRealConfig(stage_blocks=(4, 4, 4, 4), stage_filters=(8, 16, 32, 64),
         shortcut='avgpool', kernel_size=3, recipe='birealnet', pad_value=0), (1, 1))
    """
    from lce_nas.space.birealnet_cost import final_spatial

    scaled = dataclasses.replace(
        config,
        stage_filters=tuple(max(least, scale_channels(f, width)) for f in config.stage_filters),
    )
    return scaled, proxy_stem_strides(lambda s: final_spatial(input_shape[:2], s))
