"""What the built-in spaces share: larq-zoo families with presets, a builder and a cost model.

:class:`ZooSpace` turns a family's Keras builder, closed-form cost model and
kernel model, each taking a config and a :class:`~lce_nas.space.base.Geometry`,
into the :class:`SearchSpace` interface: deploy models use stride 2 twice,
proxies the strides of :meth:`proxy_plan`.
:class:`StagedSpace` adds the search parameters of the families built of four
stages of binary blocks with non-decreasing widths (``quicknet``,
``birealnet``, ``realtobinary``).
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from lce_nas.space.base import (
    DEPLOY,
    DEPLOY_INPUT,
    HWC,
    PROXY_INPUT,
    ArchSummary,
    ConfigT,
    Geometry,
    SearchSpace,
    StemStrides,
)
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
    from lce_nas.space.kernels import Kernel

# Bounds shared by the staged families.
STAGES = 4
BLOCKS_RANGE = (1, 12)
FILTERS_RANGE = (32, 768)
FILTERS_STEP = 32

#: ``cost_model(config, geometry)``: a family's closed-form costs.
CostModel = Callable[[Any, Geometry], ArchSummary]
#: ``kernel_model(config, geometry)``: its kernels in run order.
KernelModel = Callable[[Any, Geometry], "list[Kernel]"]


def _deployed(input_shape: HWC, classes: int) -> Geometry:
    """The deploy model's geometry (both stem strides 2) for another input or class count."""
    return DEPLOY._replace(input_shape=input_shape, classes=classes)


class ZooSpace(SearchSpace[ConfigT]):
    """A family whose published members are presets, built and costed for given stem strides.

    Subclasses set :attr:`preset_table`, :attr:`default_preset`,
    :attr:`params_example`, :attr:`keras_builder` (or override :meth:`build`)
    and :attr:`cost_model`, and implement :meth:`proxy_plan`.
    """

    #: The named, published architectures.
    preset_table: ClassVar[dict[str, Any]]
    #: The preset whose values the fields missing from a user's config take.
    default_preset: ClassVar[str]
    #: Valid parameters, shown when a user's parameters are not a JSON object.
    params_example: ClassVar[str]
    #: ``module:function`` of the Keras builder, called as :meth:`build` is; a
    #: name rather than the function, so that TensorFlow loads only to build.
    keras_builder: ClassVar[str]
    #: The closed-form size and cost of a model (see :data:`CostModel`).
    cost_model: ClassVar[CostModel]
    #: The kernels a converted model runs, same arguments as :attr:`cost_model`.
    kernel_model: ClassVar[KernelModel | None] = None

    def presets(self) -> dict[str, ConfigT]:
        """A copy of :attr:`preset_table`."""
        return dict(self.preset_table)

    def merged_params(self, params: Any) -> dict[str, Any]:
        """A user's parameters over the default preset's; unknown fields raise :class:`UserError`.

        Example:
            >>> from lce_nas.space import get_space
            >>> get_space("birealnet").merged_params({"kernel_size": 5})["kernel_size"]
            5
        """
        defaults = dataclasses.asdict(self.preset_table[self.default_preset])
        return merge_params(params, defaults, self.name, self.params_example)

    def build(self, config: ConfigT, geometry: Geometry) -> tf.keras.Model:
        """The Keras model of ``config`` for ``geometry`` (see :attr:`keras_builder`)."""
        module, _, function = self.keras_builder.partition(":")
        builder = getattr(importlib.import_module(module), function)
        return builder(config, geometry)

    @abc.abstractmethod
    def proxy_plan(
        self, config: ConfigT, input_shape: HWC, width: float
    ) -> tuple[ConfigT, StemStrides]:
        """The config a proxy of ``width`` builds, and its stem strides for ``input_shape``."""

    def build_deploy(
        self, config: ConfigT, input_shape: HWC = DEPLOY_INPUT, classes: int = 1000
    ) -> tf.keras.Model:
        """The model as deployed and timed on a device: both stem strides are 2."""
        return self.build(config, _deployed(input_shape, classes))

    def build_proxy(
        self, config: ConfigT, input_shape: HWC = PROXY_INPUT, classes: int = 10, width: float = 1.0
    ) -> tf.keras.Model:
        """The deploy network's block structure, adapted to small images.

        Widths and stem strides follow :meth:`proxy_plan`.
        """
        scaled, strides = self.proxy_plan(config, input_shape, width)
        return self.build(scaled, Geometry(input_shape, classes, strides))

    def describe(
        self, config: ConfigT, input_shape: HWC = DEPLOY_INPUT, classes: int = 1000
    ) -> ArchSummary:
        """The deploy model's costs, from :attr:`cost_model` (nothing is built)."""
        return type(self).cost_model(config, _deployed(input_shape, classes))

    def kernels(
        self, config: ConfigT, input_shape: HWC = DEPLOY_INPUT, classes: int = 1000
    ) -> list[Kernel]:
        """The deploy model's kernels in run order, from :attr:`kernel_model` (nothing is built)."""
        model = type(self).kernel_model
        if model is None:
            return super().kernels(config, input_shape, classes)
        return model(config, _deployed(input_shape, classes))


class StagedSpace(ZooSpace[ConfigT]):
    """A family of 4 stages of 1-12 binary blocks, 32-768 filters that never decrease.

    A config is a frozen dataclass whose first two fields are the blocks and
    the filters of each stage; its other fields are categorical, one of
    :attr:`choices` each. Optuna proposes each stage's filters independently
    and :meth:`suggest` repairs a proposal by a running maximum
    (``(256, 128, ...)`` becomes ``(256, 256, ...)``), so every trial is a
    valid network and duplicates share a fingerprint; a config given by a
    user is validated instead.
    """

    #: The categorical fields, in the config's order, and their allowed values.
    choices: ClassVar[dict[str, tuple[Any, ...]]]

    @property
    def config_type(self) -> type:
        """The dataclass of a config (the presets')."""
        return type(self.preset_table[self.default_preset])

    @property
    def stage_fields(self) -> tuple[str, str]:
        """Names of the config's blocks and filters fields.

        Example:
            >>> from lce_nas.space import get_space
            >>> get_space("quicknet").stage_fields
            ('section_blocks', 'section_filters')
        """
        blocks, filters = dataclasses.fields(self.config_type)[:2]
        return blocks.name, filters.name

    def suggest(self, trial: optuna.Trial) -> ConfigT:
        """Sample a config; decreasing filters are repaired by a running maximum."""
        blocks = tuple(trial.suggest_int(f"blocks_{i}", *BLOCKS_RANGE) for i in range(STAGES))
        filters = suggest_widths(trial, "filters", *FILTERS_RANGE, FILTERS_STEP, STAGES)
        choices = self.choices.items()
        picked = {name: trial.suggest_categorical(name, kinds) for name, kinds in choices}
        return self.config_type(blocks, filters, **picked)

    def trial_params(self, config: ConfigT) -> dict[str, Any]:
        """Optuna parameters for which :meth:`suggest` returns ``config`` (for enqueueing)."""
        blocks, filters = (getattr(config, name) for name in self.stage_fields)
        params: dict[str, Any] = {}
        for i in range(STAGES):
            params[f"blocks_{i}"] = blocks[i]
            params[f"filters_{i}_x32"] = filters[i] // FILTERS_STEP
        params.update({name: getattr(config, name) for name in self.choices})
        return params

    def config_from_params(self, params: dict[str, Any]) -> ConfigT:
        """Validate a config given as JSON; missing fields take the default preset's values."""
        values = self.merged_params(params)
        blocks_field, filters_field = self.stage_fields
        blocks = int_list(values[blocks_field], blocks_field, *BLOCKS_RANGE, STAGES)
        filters = widths(values[filters_field], filters_field, *FILTERS_RANGE, FILTERS_STEP, STAGES)
        picked = {name: choice(values[name], name, kinds) for name, kinds in self.choices.items()}
        return self.config_type(blocks, filters, **picked)

    def least_proxy_filters(self, config: ConfigT) -> int:
        """The fewest filters a proxy's stage may have (4, the width grid)."""
        return 4

    def proxy_plan(
        self, config: ConfigT, input_shape: HWC, width: float
    ) -> tuple[ConfigT, StemStrides]:
        """Every stage width times ``width``, and the stem strides of a proxy.

        Widths are multiples of 4 and at least :meth:`least_proxy_filters`.
        The stem keeps its layers but drops stride-2 steps (the max pool's
        first, then the conv's) until the last stage is at least 4x4 where
        the input allows it, else at least 2x2.

        Example:
            >>> from lce_nas.space import get_space
            >>> space = get_space("birealnet")
            >>> scaled, strides = space.proxy_plan(space.preset("birealnet"), (32, 32, 1), 0.125)
            >>> scaled.stage_filters, strides
            ((8, 16, 32, 64), (1, 1))
        """
        from lce_nas.space.birealnet_cost import final_spatial

        least = self.least_proxy_filters(config)
        _, filters_field = self.stage_fields
        filters = tuple(
            max(least, scale_channels(f, width)) for f in getattr(config, filters_field)
        )
        scaled = dataclasses.replace(config, **{filters_field: filters})
        return scaled, proxy_stem_strides(lambda s: final_spatial(input_shape[:2], s))
