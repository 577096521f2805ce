"""MO-ASHA's stopping rule on synthetic rungs: who climbs, and that nobody waits."""

from __future__ import annotations

import math
import random

import pytest
from lce_nas.search.pareto import dominates
from lce_nas.search.promotion import (
    PromotionBoard,
    continues,
    crowding_distances,
    nondominated_fronts,
    priority,
)


def _brute_fronts(points):
    """Front index by peeling: the reference the O(n log n) sort must agree with."""
    ranks, left, front = [None] * len(points), set(range(len(points))), 0
    while left:
        top = {i for i in left if not any(dominates(points[j], points[i]) for j in left if j != i)}
        for i in top:
            ranks[i] = front
        left -= top
        front += 1
    return ranks


@pytest.mark.parametrize("seed", range(20))
def test_nondominated_sorting_agrees_with_peeling(seed):
    rng = random.Random(seed)
    # Few distinct values, so ties in either objective are common.
    points = [(rng.choice([0.3, 0.4, 0.5, 0.6]), rng.choice([5.0, 8.0, 13.0])) for _ in range(25)]
    points = list(dict.fromkeys(points))  # exact duplicates: see the next test
    assert nondominated_fronts(points) == _brute_fronts(points)


def test_an_exact_duplicate_ranks_behind_its_twin():
    assert nondominated_fronts([(0.5, 10.0), (0.5, 10.0)]) == [0, 1]


def test_crowding_puts_the_ends_first_and_wide_gaps_before_narrow():
    front = [(0.40, 5.0), (0.50, 6.0), (0.55, 6.5), (0.70, 20.0)]
    distance = crowding_distances(front)
    assert math.isinf(distance[0]) and math.isinf(distance[3])
    assert distance[2] > distance[1]  # (0.55, 6.5) sits in the wider gap
    assert priority(front, [0, 1, 2, 3]) == [0, 3, 2, 1]


def test_the_non_dominated_climb_and_the_dominated_stop():
    # Nine candidates at a rung, three of them non-dominated: eta 3 keeps exactly those.
    good = [(0.70, 30.0), (0.60, 12.0), (0.50, 6.0)]
    bad = [(0.65, 31.0), (0.55, 13.0), (0.45, 7.0), (0.40, 35.0), (0.30, 20.0), (0.20, 9.0)]
    points = bad[:3] + good + bad[3:]
    numbers = list(range(len(points)))
    climbing = {n for n in numbers if continues(points, numbers, n, eta=3)}
    assert climbing == {3, 4, 5}


def test_the_first_to_reach_a_rung_climbs_without_waiting_for_others():
    board = PromotionBoard(eta=3)
    assert board.report(1, number=7, accuracy=0.10, latency_ms=500.0)  # alone: top 1 of 1
    # The decision was taken at once: nobody had to reach rung 1 first.
    assert board.reached(1) == 1


def test_decisions_are_final_and_follow_arrival():
    board = PromotionBoard(eta=2)
    # A weak early candidate climbs (top 1 of 1), a weaker second one does not (1 of 2).
    assert board.report(0, number=0, accuracy=0.40, latency_ms=20.0)
    assert not board.report(0, number=1, accuracy=0.30, latency_ms=25.0)
    # A dominating later arrival climbs; reporting again changes nothing of the first two.
    assert board.report(0, number=2, accuracy=0.60, latency_ms=10.0)
    assert board.reached(0) == 3
    board.add(0, number=2, accuracy=0.60, latency_ms=10.0)
    assert board.reached(0) == 3


def test_presets_always_climb():
    board = PromotionBoard(eta=3)
    for number in range(6):
        board.report(0, number=number, accuracy=0.9 - number / 100, latency_ms=1.0 + number)
    assert not board.report(0, number=10, accuracy=0.01, latency_ms=900.0)
    assert board.report(0, number=11, accuracy=0.01, latency_ms=900.0, preset=True)


@pytest.mark.parametrize("eta", [2, 3, 4])
def test_about_one_in_eta_climbs_a_rung(eta):
    rng = random.Random(eta)
    points = [(rng.random(), rng.uniform(1, 100)) for _ in range(60)]
    numbers = list(range(60))
    ranked = priority(points, numbers)
    keep = math.ceil(60 / eta)
    assert sum(continues(points, numbers, n, eta) for n in numbers) == keep
    # Whole fronts first: no kept candidate lies on a worse front than a stopped one.
    fronts = nondominated_fronts(points)
    assert max(fronts[i] for i in ranked[:keep]) <= min(fronts[i] for i in ranked[keep:])
