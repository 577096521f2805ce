"""Checks of user-given architecture parameters and width scaling, shared by the spaces."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lce_nas.errors import UserError

if TYPE_CHECKING:
    import optuna


def merge_params(
    params: Any, defaults: dict[str, Any], space_name: str, example: str
) -> dict[str, Any]:
    """``params`` over ``defaults``; a non-object or an unknown field raises :class:`UserError`.

    Example:
        >>> merge_params({"a": 2}, {"a": 1, "b": 3}, "demo", '{"a": 2}')
        {'a': 2, 'b': 3}
    """
    if not isinstance(params, dict):
        raise UserError(f"parameters must be a JSON object, e.g. {example}")
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise UserError(
            f"unknown parameter '{unknown[0]}' for space '{space_name}' "
            f"(allowed: {', '.join(defaults)})"
        )
    return {**defaults, **params}


def int_list(value: Any, field: str, low: int, high: int, length: int) -> tuple[int, ...]:
    """``value`` as a tuple of ``length`` integers in ``low..high``, or a :class:`UserError`.

    Example:
        >>> int_list([1, 2], "blocks", 1, 4, 2)
        (1, 2)
    """
    ok = (
        isinstance(value, list | tuple)
        and len(value) == length
        and all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in value)
    )
    if not ok:
        raise UserError(
            f"{field} must be a list of {length} integers in {low}..{high}, got {json.dumps(value)}"
        )
    return tuple(value)


def choice(value: Any, field: str, allowed: tuple[Any, ...]) -> Any:
    """``value`` if it is one of ``allowed``, else a :class:`UserError` listing them.

    Example:
        >>> choice(3, "kernel_size", (3, 5))
        3
    """
    if value not in allowed or isinstance(value, bool):
        raise UserError(
            f"{field} must be one of {', '.join(map(str, allowed))}, got {json.dumps(value)}"
        )
    return value


def choice_list(value: Any, field: str, allowed: tuple[Any, ...], length: int) -> tuple[Any, ...]:
    """``value`` as a tuple of ``length`` items, each one of ``allowed``.

    Example:
        >>> choice_list([2.7, 4.0], "reductions", (2.7, 4.0), 2)
        (2.7, 4.0)
    """
    ok = (
        isinstance(value, list | tuple)
        and len(value) == length
        and all(v in allowed and not isinstance(v, bool) for v in value)
    )
    if not ok:
        raise UserError(
            f"{field} must be a list of {length} values, each one of "
            f"{', '.join(map(str, allowed))}, got {json.dumps(value)}"
        )
    return tuple(value)


def non_decreasing(values: tuple[int, ...], field: str) -> tuple[int, ...]:
    """``values`` if no item is smaller than the one before, else a :class:`UserError`.

    Example:
        >>> non_decreasing((32, 64), "filters")
        (32, 64)
    """
    if any(b < a for a, b in itertools.pairwise(values)):
        raise UserError(
            f"{field} must not decrease from one section to the next, got {list(values)}"
        )
    return values


def scale_channels(value: int, width: float, multiple: int = 4) -> int:
    """``value`` times ``width``, rounded to a multiple of ``multiple`` and at least that.

    Example:
        >>> scale_channels(64, 0.25), scale_channels(8, 0.25)
        (16, 4)
    """
    if width <= 0:
        raise UserError(f"width must be positive, got {width}")
    return max(multiple, round(value * width / multiple) * multiple)


def proxy_stem_strides(
    final_spatial: Callable[[tuple[int, int]], tuple[int, int]],
) -> tuple[int, int]:
    """The stem's two strides for a proxy on small images.

    Stride-2 steps are dropped, the second first, until the last section is
    at least 4x4 (the deploy models have 7x7 at 224 px); where no choice
    reaches 4x4, the first that keeps at least 2x2, else no strides.
    ``final_spatial`` maps stem strides to the last section's size.

    Example:
        >>> proxy_stem_strides(lambda s: (32 // (s[0] * s[1] * 8),) * 2)
        (1, 1)
    """
    candidates = ((2, 2), (2, 1), (1, 1))
    for minimum in (4, 2):
        for strides in candidates:
            if min(final_spatial(strides)) >= minimum:
                return strides
    return (1, 1)


def widths(value: Any, field: str, low: int, high: int, step: int, length: int) -> tuple[int, ...]:
    """``length`` non-decreasing multiples of ``step`` in ``low..high``, or a :class:`UserError`.

    Example:
        >>> widths([64, 128], "filters", 32, 768, 32, 2)
        (64, 128)
    """
    values = int_list(value, field, low, high, length)
    if any(v % step for v in values):
        raise UserError(f"{field} must be multiples of {step} in {low}..{high}, got {list(values)}")
    return non_decreasing(values, field)


def suggest_widths(
    trial: optuna.Trial, prefix: str, low: int, high: int, step: int, length: int
) -> tuple[int, ...]:
    """Sample ``length`` widths, log-uniform in units of ``step``, repaired by a running maximum.

    The cost grows with the square of the width and most of a front lies at
    small ones, hence log-uniform; the repair keeps every trial a valid
    network, and duplicates share a fingerprint.
    """
    proposed = [
        trial.suggest_int(f"{prefix}_{i}_x{step}", low // step, high // step, log=True) * step
        for i in range(length)
    ]
    return tuple(max(proposed[: i + 1]) for i in range(length))
