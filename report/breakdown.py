"""The three models of the LCE paper's latency breakdown, as presets of the search spaces.

The split itself (first layer, binary convolutions, glue, last layer) is the
project's one classification of a per-op profile,
:func:`lce_nas.engine.breakdown.classify`, which ``measure(profile=True)``
applies; this module only scales that split to a measured median.
"""

from __future__ import annotations

from dataclasses import dataclass

from lce_nas.engine.breakdown import CATEGORIES


@dataclass(frozen=True)
class BreakdownModel:
    """A model of the breakdown figure: its display name and the preset that builds it.

    Example:
        >>> BREAKDOWN_MODELS[0].space, BREAKDOWN_MODELS[0].preset
        ('quicknet', 'quicknet-large')
    """

    name: str
    space: str
    preset: str


BREAKDOWN_MODELS = (
    BreakdownModel("QuickNetLarge", "quicknet", "quicknet-large"),
    BreakdownModel("Real-to-Binary Net", "realtobinary", "realtobinary"),
    BreakdownModel("BinaryDenseNet28", "binarydensenet", "binary-densenet28"),
)


def scaled_split(breakdown_ms: dict[str, float], median_ms: float) -> dict[str, float]:
    """Per-category milliseconds that add up to ``median_ms``, in the profile's proportions.

    A per-op profile runs with timers around every op, so its sum is not the
    latency; the proportions are what it measures, the median what the
    timer measures.

    Example:
        >>> scaled_split({"first_layer": 1.0, "binary_conv": 3.0, "glue": 0.0,
        ...               "last_layer": 0.0}, 8.0)
        {'first_layer': 2.0, 'binary_conv': 6.0, 'glue': 0.0, 'last_layer': 0.0}
    """
    total = sum(breakdown_ms.get(c, 0.0) for c in CATEGORIES)
    if total <= 0:
        raise ValueError("a breakdown needs a profile with some time in it")
    return {c: breakdown_ms.get(c, 0.0) / total * median_ms for c in CATEGORIES}
