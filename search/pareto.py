"""Pareto fronts and hypervolume for (accuracy up, latency down), in two dimensions.

The hypervolume is the area that the front dominates inside the rectangle
spanned by a reference point (accuracy, latency): with accuracy in 0..1 and
latency in milliseconds it is in "accuracy x ms". A study stores its
reference point once (accuracy 0, latency twice the slowest QuickNet preset's
median, or the latency constraint when one is set), so values stay
comparable as the search goes on.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether (accuracy, latency) ``a`` is at least as good as ``b`` everywhere and better once.

    Example:
        >>> dominates((0.7, 10.0), (0.6, 12.0)), dominates((0.7, 10.0), (0.8, 12.0))
        (True, False)
    """
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated (accuracy, latency) points, fastest first.

    Ties (equal points) keep the first occurrence only.

    Example:
        >>> pareto_front([(0.6, 10.0), (0.5, 12.0), (0.7, 20.0), (0.7, 25.0)])
        [0, 2]
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][1], -points[i][0], i))
    front: list[int] = []
    best_accuracy = float("-inf")
    for i in order:
        if points[i][0] > best_accuracy:
            front.append(i)
            best_accuracy = points[i][0]
    return front


def hypervolume(points: Sequence[tuple[float, float]], reference: tuple[float, float]) -> float:
    """Area dominated by ``points`` and bounded by ``reference`` = (min accuracy, max latency).

    Points no better than the reference in either objective add nothing.

    Example:
        >>> hypervolume([(0.5, 10.0), (0.8, 30.0)], reference=(0.0, 50.0))
        26.0
    """
    ref_acc, ref_lat = reference
    useful = [p for p in points if p[0] > ref_acc and p[1] < ref_lat]
    area = 0.0
    covered = ref_acc
    # Fastest first, each front point adds the strip of accuracy it gains over
    # the faster ones, from its latency to the reference latency.
    for i in pareto_front(useful):
        acc, lat = useful[i]
        area += (acc - covered) * (ref_lat - lat)
        covered = acc
    return area


class HypervolumeTracker:
    """The hypervolume of a growing set of points, updated in O(log n) per point.

    Keeps the front of the points inside the reference box sorted by latency
    (accuracy then rises along it); a new point replaces the run of front
    points it dominates, and only the strips next to it change area.

    Example:
        >>> tracker = HypervolumeTracker((0.0, 50.0))
        >>> tracker.add((0.5, 10.0)), tracker.add((0.4, 20.0)), tracker.add((0.8, 30.0))
        (20.0, 20.0, 26.0)
    """

    def __init__(self, reference: tuple[float, float]) -> None:
        self.reference = reference
        self._latency: list[float] = []
        self._accuracy: list[float] = []
        self.volume = 0.0

    def _strip(self, index: int) -> float:
        below = self._accuracy[index - 1] if index > 0 else self.reference[0]
        return (self._accuracy[index] - below) * (self.reference[1] - self._latency[index])

    def add(self, point: tuple[float, float]) -> float:
        """Add one (accuracy, latency) point; returns the hypervolume after it."""
        acc, lat = point
        if not (acc > self.reference[0] and lat < self.reference[1]):
            return self.volume
        # Front points at least as fast as the new one: the fastest of them is
        # the most accurate that could dominate it.
        k = bisect.bisect_right(self._latency, lat)
        if k > 0 and self._accuracy[k - 1] >= acc:
            return self.volume
        # The run it dominates: as slow or slower, and no more accurate.
        end = k
        while end < len(self._latency) and self._accuracy[end] <= acc:
            end += 1
        start = k - 1 if k > 0 and self._latency[k - 1] == lat else k
        last = min(end, len(self._latency) - 1)
        before = sum(self._strip(i) for i in range(start, last + 1)) if self._latency else 0.0
        self._latency[start:end] = [lat]
        self._accuracy[start:end] = [acc]
        last = min(start + 1, len(self._latency) - 1)
        after = sum(self._strip(i) for i in range(start, last + 1))
        self.volume += after - before
        return self.volume


def hypervolume_history(
    points: Sequence[tuple[float, float] | None], reference: tuple[float, float]
) -> list[float]:
    """The hypervolume after each trial in order (``None`` for a trial with no point).

    O(n log n) in the number of trials (see :class:`HypervolumeTracker`).

    Example:
        >>> hypervolume_history([(0.5, 10.0), None, (0.8, 30.0)], (0.0, 50.0))
        [20.0, 20.0, 26.0]
    """
    tracker = HypervolumeTracker(reference)
    return [tracker.volume if p is None else tracker.add(p) for p in points]
