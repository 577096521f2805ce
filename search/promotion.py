"""Asynchronous successive halving for (accuracy up, latency down): who climbs a rung.

The rule is MO-ASHA's (Schmucker et al. 2021) in its stopping form, as Syne
Tune's stopping rung system applies it: when a candidate finishes rung k, it
is ranked among every candidate that has reached rung k so far, and it goes
on to rung k+1 when it is in the top ``ceil(n / eta)`` of those ``n``. The
decision is taken at once and is final, so no worker ever waits for a rung
to fill (the first candidate to reach a rung always goes on), and a
candidate stopped at a rung keeps its ladder but never reaches the front.
Presets always climb: they anchor the front and its reference.

Ranking: non-dominated sorting of (accuracy at rung k, measured latency);
within one front, NSGA-II's crowding distance (wider gaps first, the front's
two ends before anything else), so that the climbers spread along the front
instead of bunching at its accurate end; then the earlier trial.

Example:
    >>> board = PromotionBoard(eta=3)
    >>> board.report(0, number=0, accuracy=0.50, latency_ms=10.0)
    True
    >>> board.report(0, number=1, accuracy=0.40, latency_ms=12.0)
    False
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

from lce_nas.search.record import TrialRecord, finite

Point = tuple[float, float]


def nondominated_fronts(points: Sequence[Point]) -> list[int]:
    """Front index of each (accuracy, latency) point: 0 for the non-dominated ones.

    O(n log n) for two objectives: in order of falling accuracy, a point joins
    the first front whose fastest member is slower than it.

    Example:
        >>> nondominated_fronts([(0.6, 10.0), (0.5, 12.0), (0.7, 20.0), (0.4, 30.0)])
        [0, 1, 0, 2]
    """
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], points[i][1]))
    fastest: list[float] = []  # per front, its fastest latency so far (increasing by front)
    ranks = [0] * len(points)
    for i in order:
        latency = points[i][1]
        # Right of equals: a point as fast as a more accurate one is dominated by it.
        front = bisect.bisect_right(fastest, latency)
        if front == len(fastest):
            fastest.append(latency)
        else:
            fastest[front] = latency
        ranks[i] = front
    return ranks


def crowding_distances(points: Sequence[Point]) -> list[float]:
    """NSGA-II's crowding distance of each point within its set (the ends: infinity).

    Example:
        >>> crowding_distances([(0.5, 10.0), (0.6, 20.0), (0.7, 40.0)])
        [inf, 2.0, inf]
    """
    n = len(points)
    distance = [0.0] * n
    if n <= 2:
        return [math.inf] * n
    for axis in (0, 1):
        order = sorted(range(n), key=lambda i: points[i][axis])
        low, high = points[order[0]][axis], points[order[-1]][axis]
        distance[order[0]] = distance[order[-1]] = math.inf
        if high == low:
            continue
        for before, i, after in zip(order, order[1:], order[2:], strict=False):
            distance[i] += (points[after][axis] - points[before][axis]) / (high - low)
    return distance


def priority(points: Sequence[Point], numbers: Sequence[int]) -> list[int]:
    """Positions of ``points`` best first: by front, then crowding (wider first), then number.

    Example:
        >>> priority([(0.5, 10.0), (0.4, 12.0), (0.7, 20.0)], [0, 1, 2])
        [0, 2, 1]
    """
    fronts = nondominated_fronts(points)
    crowding = [0.0] * len(points)
    members: dict[int, list[int]] = {}
    for i, front in enumerate(fronts):
        members.setdefault(front, []).append(i)
    for group in members.values():
        for i, d in zip(group, crowding_distances([points[i] for i in group]), strict=True):
            crowding[i] = d
    return sorted(range(len(points)), key=lambda i: (fronts[i], -crowding[i], numbers[i]))


def continues(points: Sequence[Point], numbers: Sequence[int], number: int, eta: float) -> bool:
    """Whether trial ``number`` is in the top ``ceil(n / eta)`` of the ``n`` points at a rung.

    Example:
        >>> continues([(0.5, 10.0), (0.6, 20.0), (0.4, 30.0)], [0, 1, 2], 2, eta=3)
        False
    """
    keep = math.ceil(len(points) / eta)
    ranked = priority(points, numbers)
    return numbers.index(number) in ranked[:keep]


class PromotionBoard:
    """Every (trial, accuracy, latency) that reached each rung, and the stopping decisions.

    Example:
        >>> board = PromotionBoard(eta=2)
        >>> board.report(0, number=4, accuracy=0.3, latency_ms=50.0, preset=True)
        True
        >>> board.reached(0)
        1
    """

    def __init__(self, eta: float) -> None:
        self.eta = eta
        self._points: dict[int, list[Point]] = {}
        self._numbers: dict[int, list[int]] = {}

    def reached(self, rung: int) -> int:
        """How many trials have finished rung ``rung``."""
        return len(self._numbers.get(rung, []))

    def members(self, rung: int) -> list[int]:
        """The trials that have finished rung ``rung``, in the order they reported."""
        return list(self._numbers.get(rung, []))

    def add(self, rung: int, number: int, accuracy: float, latency_ms: float) -> None:
        """Record a trial's result at a rung (once per trial and rung) without a decision."""
        numbers = self._numbers.setdefault(rung, [])
        if number in numbers:
            return
        numbers.append(number)
        self._points.setdefault(rung, []).append((accuracy, latency_ms))

    def report(
        self,
        rung: int,
        *,
        number: int,
        accuracy: float,
        latency_ms: float,
        preset: bool = False,
    ) -> bool:
        """Record a trial's result at ``rung`` and say whether it climbs to the next."""
        self.add(rung, number, accuracy, latency_ms)
        if preset:
            return True
        return continues(self._points[rung], self._numbers[rung], number, self.eta)


def promotion_board(eta: float, records: Iterable[TrialRecord]) -> PromotionBoard:
    """The board of a study's finished trials: every rung each reached, at its latency.

    A resumed search decides its promotions among everything earlier runs settled.
    """
    board = PromotionBoard(eta)
    for record in records:
        latency = record.median_ms
        if latency is None:
            continue
        for row in record.ladder:
            rung, top1 = row.get("rung"), finite(row.get("top1"))
            if isinstance(rung, int) and top1 is not None:
                board.add(rung, record.number, top1, latency)
    return board
