"""The interface every search space implements, and the summary it reports."""

from __future__ import annotations

import abc
import dataclasses
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from lce_nas.canonical import canonical_json, sha256_hex
from lce_nas.errors import UserError

if TYPE_CHECKING:
    import optuna
    import tensorflow as tf
    from lce_nas.space.kernels import Kernel

ConfigT = TypeVar("ConfigT")
#: Height, width and channels of a model's input images (channels last).
HWC = tuple[int, int, int]
#: Height and width of a feature map.
HW = tuple[int, int]
#: What deploy models take unless told otherwise (ImageNet), and what proxies take.
DEPLOY_INPUT: HWC = (224, 224, 3)
PROXY_INPUT: HWC = (32, 32, 1)
#: Strides of a stem's two stride-2 steps (1 where a proxy drops one).
StemStrides = tuple[int, int]


class Geometry(NamedTuple):
    """What a model is built for: its input images, its classes and its stem's strides.

    A family's builder, cost model and kernel model take a config and one of
    these; deploy models and proxies differ only here.

    Example:
        >>> DEPLOY.input_shape, DEPLOY.classes, DEPLOY.stem_strides
        ((224, 224, 3), 1000, (2, 2))
        >>> DEPLOY._replace(classes=10).classes
        10
    """

    input_shape: HWC
    classes: int
    stem_strides: StemStrides


#: The model as deployed and timed on a device: ImageNet's input and classes,
#: both stem strides 2.
DEPLOY = Geometry(DEPLOY_INPUT, 1000, (2, 2))


@dataclass(frozen=True)
class ArchSummary:
    """Size and cost of one architecture, as deployed.

    ``packed_bytes`` counts binary weights at 1 bit and every other parameter
    at 32 bits (larq's model-size convention).

    Example:
        >>> ArchSummary(parameters=10, binary_macs=0, float_macs=5, packed_bytes=40).packed_mb
        4e-05
    """

    parameters: int
    binary_macs: int
    float_macs: int
    packed_bytes: int

    @property
    def packed_mb(self) -> float:
        """Packed model size in MB (10^6 bytes)."""
        return self.packed_bytes / 1e6

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_counts(
        cls, parameters: int, binary_parameters: int, binary_macs: int, float_macs: int
    ) -> ArchSummary:
        """A summary whose packed size follows from the binary and other parameters.

        Example:
            >>> ArchSummary.from_counts(100, 80, 0, 0).packed_bytes
            90
        """
        packed = math.ceil(binary_parameters / 8) + 4 * (parameters - binary_parameters)
        return cls(parameters, binary_macs, float_macs, packed)


class SearchSpace(abc.ABC, Generic[ConfigT]):
    """A family of BNN architectures that Optuna can sample from.

    A config is a frozen, JSON-serialisable value. Two configs with the same
    :meth:`fingerprint` build the same deploy model, on any machine.

    Example:
        >>> space = get_space("quicknet")  # doctest: +SKIP
        >>> config = space.preset("quicknet-small")  # doctest: +SKIP
        >>> space.describe(config).parameters  # doctest: +SKIP
        12664344
    """

    #: Registry name, used on the command line (``--space``).
    name: str
    #: Bumped whenever the same config would build a different model.
    version: str
    #: One line for ``lce-nas spaces``.
    summary: str

    @abc.abstractmethod
    def suggest(self, trial: optuna.Trial) -> ConfigT:
        """Sample a config with an Optuna trial's ``suggest_*`` calls."""

    @abc.abstractmethod
    def trial_params(self, config: ConfigT) -> dict[str, Any]:
        """Optuna parameters for which :meth:`suggest` returns ``config`` (to enqueue it)."""

    @abc.abstractmethod
    def config_from_params(self, params: dict[str, Any]) -> ConfigT:
        """Validate user-given parameters; a bad field raises :class:`UserError`."""

    def to_params(self, config: ConfigT) -> dict[str, Any]:
        """The config as plain JSON values (the inverse of :meth:`config_from_params`).

        This default serves dataclass configs: tuples become lists.
        """
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(config).items()
        }

    @abc.abstractmethod
    def presets(self) -> dict[str, ConfigT]:
        """Named, published architectures inside the space."""

    @abc.abstractmethod
    def build_deploy(
        self, config: ConfigT, input_shape: HWC = DEPLOY_INPUT, classes: int = 1000
    ) -> tf.keras.Model:
        """The model as deployed and timed on a device."""

    @abc.abstractmethod
    def build_proxy(
        self, config: ConfigT, input_shape: HWC = PROXY_INPUT, classes: int = 10, width: float = 1.0
    ) -> tf.keras.Model:
        """A small model with the same block structure, trained for proxy accuracy."""

    @abc.abstractmethod
    def describe(
        self, config: ConfigT, input_shape: HWC = DEPLOY_INPUT, classes: int = 1000
    ) -> ArchSummary:
        """Parameters, binary and float MACs and packed size of the deploy model."""

    def kernels(
        self, config: ConfigT, input_shape: HWC = DEPLOY_INPUT, classes: int = 1000
    ) -> list[Kernel]:
        """The kernels the converted deploy model runs, in run order (for latency prediction).

        A space that does not say raises :class:`UserError`: its latencies can
        only be measured.
        """
        raise UserError(
            f"space '{self.name}' does not list its kernels, so its latency cannot be "
            "predicted (only measured)"
        )

    def preset(self, name: str) -> ConfigT:
        """A named preset, or a :class:`UserError` listing the known ones."""
        presets = self.presets()
        if name not in presets:
            raise UserError(
                f"unknown preset '{name}' for space '{self.name}' "
                f"(choose from: {', '.join(presets)})"
            )
        return presets[name]

    def preset_name(self, config: ConfigT) -> str | None:
        """The preset that equals ``config``, if any."""
        fingerprint = self.fingerprint(config)
        for name, preset in self.presets().items():
            if self.fingerprint(preset) == fingerprint:
                return name
        return None

    def fingerprint(self, config: ConfigT) -> str:
        """sha256 of the canonical JSON of the config, the space name and its version.

        Stable across processes and machines; equal for equal configs.
        """
        return sha256_hex(
            {"space": self.name, "version": self.version, "config": self.to_params(config)}
        )

    def config_json(self, config: ConfigT) -> str:
        """Canonical JSON of the config."""
        return canonical_json(self.to_params(config))


_REGISTRY: dict[str, type[SearchSpace[Any]]] = {}
_ORIGINS: dict[str, str] = {}
_PLUGIN_FAILURES: list[Any] = []
_plugins_loaded = False


def register_space(cls: type[SearchSpace[Any]]) -> type[SearchSpace[Any]]:
    """Class decorator that makes a space available by its ``name`` (a built-in space)."""
    _REGISTRY[cls.name] = cls
    _ORIGINS[cls.name] = "built-in"
    return cls


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from lce_nas.space.plugins import PluginFailure, discover

    loaded, failures = discover()
    for cls, package, origin in loaded:
        if cls.name in _REGISTRY:
            failures.append(
                PluginFailure(cls.name, package, f"clashes with the {_ORIGINS[cls.name]} space")
            )
            continue
        _REGISTRY[cls.name] = cls
        _ORIGINS[cls.name] = origin
    _PLUGIN_FAILURES.extend(failures)


def list_spaces() -> list[SearchSpace[Any]]:
    """Every registered space, built-in and from plug-ins, by name.

    Example:
        >>> [s.name for s in list_spaces()][:4]
        ['binarydensenet', 'birealnet', 'quicknet', 'realtobinary']
    """
    _load_plugins()
    return [_REGISTRY[name]() for name in sorted(_REGISTRY)]


def space_origin(name: str) -> str:
    """Where a registered space comes from: ``built-in`` or the plug-in package and object."""
    _load_plugins()
    return _ORIGINS[name]


def plugin_failures() -> list[Any]:
    """The plug-in spaces that could not be loaded, as ``PluginFailure`` values."""
    _load_plugins()
    return list(_PLUGIN_FAILURES)


def get_space(name: str) -> SearchSpace[Any]:
    """The space registered as ``name``, or a :class:`UserError` listing the known ones.

    Example:
        >>> get_space("quicknet").name
        'quicknet'
    """
    if name not in _REGISTRY:
        _load_plugins()
    if name in _REGISTRY:
        return _REGISTRY[name]()
    for failure in _PLUGIN_FAILURES:
        if failure.name == name:
            raise UserError(str(failure))
    raise UserError(f"unknown space '{name}' (choose from: {', '.join(sorted(_REGISTRY))})")
