"""The deploy shape: the input and class count a deploy model is built and timed at."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lce_nas.errors import UserError

_SHAPE = re.compile(r"\s*(-?\d+)\s*[xX]\s*(-?\d+)\s*[xX]\s*(-?\d+)\s*")
# Below MIN_SIDE the five stride-2 steps of every space leave nothing; above MAX_SIDE
# a deploy model would not fit a device's memory: both are typos.
MIN_SIDE = 16
MAX_SIDE = 4096
MAX_CHANNELS = 64


@dataclass(frozen=True)
class DeployShape:
    """Input height, width, channels and the number of classes of a deploy model.

    ``label`` (``"224x224x3/1000"``) is what a latency is cached under.

    Example:
        >>> DeployShape(96, 96, 3, 2).label
        '96x96x3/2'
        >>> DeployShape.from_label("96x96x3/2") == DeployShape(96, 96, 3, 2)
        True
    """

    height: int = 224
    width: int = 224
    channels: int = 3
    classes: int = 1000

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)``, as the space builders take it."""
        return (self.height, self.width, self.channels)

    @property
    def label(self) -> str:
        return f"{self.height}x{self.width}x{self.channels}/{self.classes}"

    @property
    def is_default(self) -> bool:
        """Whether this is the ImageNet shape every latency had before shapes were keyed."""
        return self == DEFAULT_SHAPE

    @classmethod
    def from_label(cls, label: str) -> DeployShape:
        """Parse a :attr:`label` (``HxWxC/N``)."""
        shape, _, classes = label.partition("/")
        return parse_input_shape(shape, classes=int(classes) if classes else 1000)


#: Far above any deployable head: past it a build needs tens of GB.
MAX_CLASSES = 100_000

DEFAULT_SHAPE = DeployShape()
DEFAULT_LABEL = DEFAULT_SHAPE.label


def parse_input_shape(text: str, classes: int = 1000) -> DeployShape:
    """A deploy shape from ``HxWxC`` and a class count; bad values raise :class:`UserError`.

    Example:
        >>> parse_input_shape("96x96x1", classes=2).label
        '96x96x1/2'
        >>> parse_input_shape("96x96")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lce_nas.errors.UserError: --input-shape '96x96' is not HxWxC ...
    """
    match = _SHAPE.fullmatch(text or "")
    if match is None:
        raise UserError(
            f"--input-shape {text!r} is not HxWxC (height x width x channels), e.g. 96x96x3"
        )
    height, width, channels = (int(v) for v in match.groups())
    if min(height, width) < MIN_SIDE or max(height, width) > MAX_SIDE:
        raise UserError(
            f"--input-shape {text!r}: height and width must be in "
            f"{MIN_SIDE}..{MAX_SIDE}, e.g. 96x96x3"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise UserError(
            f"--input-shape {text!r}: channels must be in 1..{MAX_CHANNELS} "
            "(3 for RGB, 1 for grayscale)"
        )
    if isinstance(classes, bool) or not isinstance(classes, int) or not 1 <= classes <= MAX_CLASSES:
        raise UserError(f"--classes must be a whole number in 1..{MAX_CLASSES}, got {classes}")
    return DeployShape(height, width, channels, classes)
