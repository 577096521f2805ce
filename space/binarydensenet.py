"""The ``binarydensenet`` space: BNNs of four dense blocks that concatenate binary convs' outputs.

A point of the space is a :class:`DenseNetConfig`. BinaryDenseNet28, 37,
37Dilated and 45 (larq-zoo ``literature/densenet.py``) are named presets.

Each layer of a dense block is BN -> binary 3x3 conv (``growth_rate``
channels, the block's dilation) -> concatenation with its input. Between
blocks a transition (BN, a 2x2 pool stride 2 unless the next block is
dilated, ReLU, full-precision 1x1 conv) divides the channels by the block's
reduction, rounded to a multiple of 32 (larq-zoo's rule; at least 32 here,
so that a narrow block never loses every channel).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lce_nas.space.base import HWC, PROXY_INPUT, Geometry, StemStrides, register_space

# transition_filters lives with the cost model, which needs it; it is imported from here too.
from lce_nas.space.binarydensenet_cost import densenet_summary, final_spatial, transition_filters
from lce_nas.space.binarydensenet_kernels import densenet_kernels
from lce_nas.space.params import choice, choice_list, int_list, proxy_stem_strides, scale_channels
from lce_nas.space.zoo import ZooSpace

if TYPE_CHECKING:
    import optuna
    import tensorflow as tf

BLOCKS = 4
LAYERS_RANGE = (1, 16)
GROWTH_RATES = (32, 48, 64, 96, 128)
INITIAL_FILTERS = (32, 64, 96, 128)
REDUCTIONS = (1.4, 2.0, 2.2, 2.7, 3.3, 4.0)
DILATIONS = (1, 2, 4)
POOLS = ("maxpool", "avgpool")


@dataclass(frozen=True)
class DenseNetConfig:
    """One BinaryDenseNet-like architecture.

    Attributes:
        block_layers: binary conv layers in each of the 4 dense blocks (1..16).
        growth_rate: channels each layer adds.
        initial_filters: channels of the full-precision 7x7 stem conv.
        reductions: channel divisor of each of the 3 transitions.
        dilations: dilation of each block's binary convs; a dilated block
            keeps the previous block's resolution (its transition has no pool).
        transition_pool: ``maxpool`` (larq-zoo's) or ``avgpool``.

    Example:
        >>> DenseNetConfig((6, 6, 6, 5), reductions=(2.7, 2.7, 2.2)).growth_rate
        64
    """

    block_layers: tuple[int, ...]
    growth_rate: int = 64
    initial_filters: int = 64
    reductions: tuple[float, ...] = (2.7, 2.7, 2.2)
    dilations: tuple[int, ...] = (1, 1, 1, 1)
    transition_pool: str = "maxpool"


PRESETS: dict[str, DenseNetConfig] = {
    "binary-densenet28": DenseNetConfig((6, 6, 6, 5), reductions=(2.7, 2.7, 2.2)),
    "binary-densenet37": DenseNetConfig((6, 8, 12, 6), reductions=(3.3, 3.3, 4.0)),
    "binary-densenet37-dilated": DenseNetConfig(
        (6, 8, 12, 6), reductions=(3.3, 3.3, 4.0), dilations=(1, 1, 2, 4)
    ),
    "binary-densenet45": DenseNetConfig((6, 12, 14, 8), reductions=(2.7, 3.3, 4.0)),
}


@register_space
class DenseNetSpace(ZooSpace[DenseNetConfig]):
    """BinaryDenseNet-like BNNs (see the module docstring for the block and transition rules).

    Example:
        >>> sorted(DenseNetSpace().presets())  # doctest: +NORMALIZE_WHITESPACE
        ['binary-densenet28', 'binary-densenet37', 'binary-densenet37-dilated',
         'binary-densenet45']
    """

    name = "binarydensenet"
    version = "1"
    summary = (
        "BinaryDenseNet-like BNNs: 4 dense blocks x 1-16 binary convs, growth rate, stem "
        "width, transition reductions, dilations, transition pooling"
    )
    preset_table = PRESETS
    default_preset = "binary-densenet28"
    params_example = '{"growth_rate": 64}'
    cost_model = densenet_summary
    kernel_model = densenet_kernels

    def suggest(self, trial: optuna.Trial) -> DenseNetConfig:
        """Sample a config; every combination is a valid network."""
        return DenseNetConfig(
            block_layers=tuple(
                trial.suggest_int(f"layers_{i}", *LAYERS_RANGE) for i in range(BLOCKS)
            ),
            growth_rate=trial.suggest_categorical("growth_rate", GROWTH_RATES),
            initial_filters=trial.suggest_categorical("initial_filters", INITIAL_FILTERS),
            reductions=tuple(
                trial.suggest_categorical(f"reduction_{i}", REDUCTIONS) for i in range(BLOCKS - 1)
            ),
            dilations=tuple(
                trial.suggest_categorical(f"dilation_{i}", DILATIONS) for i in range(BLOCKS)
            ),
            transition_pool=trial.suggest_categorical("transition_pool", POOLS),
        )

    def trial_params(self, config: DenseNetConfig) -> dict[str, Any]:
        """Optuna parameters for which :meth:`suggest` returns ``config`` (for enqueueing)."""
        params: dict[str, Any] = {f"layers_{i}": n for i, n in enumerate(config.block_layers)}
        params.update({f"reduction_{i}": r for i, r in enumerate(config.reductions)})
        params.update({f"dilation_{i}": d for i, d in enumerate(config.dilations)})
        params.update(
            growth_rate=config.growth_rate,
            initial_filters=config.initial_filters,
            transition_pool=config.transition_pool,
        )
        return params

    def config_from_params(self, params: dict[str, Any]) -> DenseNetConfig:
        """Validate a config given as JSON; missing fields take BinaryDenseNet28's values."""
        values = self.merged_params(params)
        return DenseNetConfig(
            block_layers=int_list(values["block_layers"], "block_layers", *LAYERS_RANGE, BLOCKS),
            growth_rate=choice(values["growth_rate"], "growth_rate", GROWTH_RATES),
            initial_filters=choice(values["initial_filters"], "initial_filters", INITIAL_FILTERS),
            reductions=tuple(
                float(r)
                for r in choice_list(values["reductions"], "reductions", REDUCTIONS, BLOCKS - 1)
            ),
            dilations=choice_list(values["dilations"], "dilations", DILATIONS, BLOCKS),
            transition_pool=choice(values["transition_pool"], "transition_pool", POOLS),
        )

    def build(self, config: DenseNetConfig, geometry: Geometry) -> tf.keras.Model:
        """The Keras model of ``config`` for ``geometry``, its transitions at full width."""
        from lce_nas.space.binarydensenet_keras import build_densenet

        return build_densenet(config, transition_filters(config), geometry)

    def proxy_plan(
        self, config: DenseNetConfig, input_shape: HWC, width: float
    ) -> tuple[DenseNetConfig, StemStrides]:
        """Growth rate and stem times ``width`` (multiples of 4, at least 4), and the stem strides.

        The stem drops stride-2 steps (the max pool's first, then the
        conv's) until the last block is at least 4x4 where the input allows
        it, else at least 2x2.
        """
        scaled = dataclasses.replace(
            config,
            growth_rate=scale_channels(config.growth_rate, width),
            initial_filters=scale_channels(config.initial_filters, width),
        )
        return scaled, proxy_stem_strides(lambda s: final_spatial(config, input_shape[:2], s))

    def build_proxy(
        self,
        config: DenseNetConfig,
        input_shape: HWC = PROXY_INPUT,
        classes: int = 10,
        width: float = 1.0,
    ) -> tf.keras.Model:
        """The deploy network's block structure, adapted to small images.

        Widths and stem strides follow :meth:`proxy_plan`; the transitions
        keep the deploy model's widths times ``width`` (multiples of 4, at
        least 4), not those the narrower blocks would give.
        """
        from lce_nas.space.binarydensenet_keras import build_densenet

        scaled, strides = self.proxy_plan(config, input_shape, width)
        transitions = tuple(scale_channels(c, width) for c in transition_filters(config))
        return build_densenet(scaled, transitions, Geometry(input_shape, classes, strides))
