"""Multi-fidelity search: rung by rung, MO-ASHA's stopping rule, seeds at the top, resume.

The pool is a stand-in (its trainings answer with an accuracy that grows
with the steps, from the candidate's fingerprint; see ``stand_in_pool``);
the loop, the promotion board, the study, the space and the SQLite store are
the real ones. The search with real Ray and real trainings is in
``test_search.py`` (slow).
"""

from __future__ import annotations

from concurrent.futures import Future

import optuna
import pytest
from lce_nas.latency_db import LatencyStore
from lce_nas.search.fidelity import proxy_steps
from lce_nas.search.front import front_numbers
from lce_nas.search.loop import SearchLoop
from lce_nas.search.promotion import PromotionBoard
from lce_nas.search.record import record_from_frozen
from lce_nas.search.run import SearchSettings
from lce_nas.search.study import enqueue_presets
from lce_nas.space import get_space
from stand_in_pool import (
    KEY,
    Quiet,
    StandInPool,
    ladder_search,
    ladder_settings,
    ladder_study,
    latency_ms,
    top1,
)

SPACE = get_space("quicknet")


def _records(url: str, name: str):
    study = optuna.load_study(study_name=name, storage=url)
    return [record_from_frozen(t) for t in study.get_trials()]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('fidelity') / 'search.db'}"
    pool, stats, loop = ladder_search(url, "ladder", trials=18)
    return url, pool, stats, loop.ladder, loop


def test_every_trial_climbs_from_rung_zero_and_optuna_sees_rung_zero(searched):
    url, _, stats, ladder, _ = searched
    records = [r for r in _records(url, "ladder") if r.state == "COMPLETE"]
    assert len(records) == 18 and [r.steps for r in ladder.rungs] == [10, 30, 90]
    for record in records:
        rungs = [row["rung"] for row in record.ladder]
        assert rungs == list(range(len(rungs))) and rungs
        assert record.rung == rungs[-1] and record.fidelity["rungs"] == 3
        assert record.values[0] == record.ladder[0]["top1"]  # what the sampler was told
        assert record.point[0] == record.ladder[-1]["top1"]  # what the front stands on
    assert stats.stopped == sum(not r.at_top for r in records) > 0
    assert stats.promoted == sum(len(r.ladder) - 1 for r in records)


def test_presets_always_reach_the_top_with_three_seeds_others_with_two(searched):
    url, pool, *_ = searched
    records = [r for r in _records(url, "ladder") if r.state == "COMPLETE"]
    presets = [r for r in records if r.preset]
    assert sorted(r.preset for r in presets) == sorted(SPACE.presets())
    assert all(r.at_top and r.ladder[-1]["seeds"] == 3 for r in presets)
    others = [r for r in records if not r.preset and r.at_top]
    assert others and all(r.ladder[-1]["seeds"] == 2 for r in others)
    assert all(r.accuracy_stderr is not None for r in presets + others)
    # Each training the pool got is one rung's budget with one of its seeds.
    assert {(proxy_steps(s), s.seed) for s in pool.settings} == {
        (10, 0), (30, 0), (90, 0), (90, 1), (90, 2)
    }  # fmt: skip


def test_promotions_follow_the_non_dominated_ranking_in_arrival_order(searched):
    url, _, _, ladder, _ = searched
    records = [r for r in _records(url, "ladder") if r.state == "COMPLETE"]
    # The stand-in answers at once, so every candidate climbs as far as it goes when
    # it starts: replaying the board in trial order must give the same decisions.
    board = PromotionBoard(ladder.eta)
    for record in sorted(records, key=lambda r: r.number):
        for row in record.ladder[:-1] if record.at_top else record.ladder:
            climbs = board.report(
                row["rung"],
                number=record.number,
                accuracy=row["top1"],
                latency_ms=record.median_ms,
                preset=record.preset is not None,
            )
            assert climbs == (row is not record.ladder[-1]), record.number


def test_only_top_rung_trials_stand_on_the_front(searched):
    url, *_ = searched
    records = _records(url, "ladder")
    front = set(front_numbers(records))
    stopped = [r for r in records if r.state == "COMPLETE" and not r.at_top]
    assert front and all(r.at_top for r in records if r.number in front)
    # A stopped trial's low-rung accuracy may be high; it is still left off.
    assert stopped and not front & {r.number for r in stopped}


def test_a_resumed_search_rebuilds_the_board_and_trains_nothing_twice(searched):
    url, _, _, ladder, loop = searched
    study = ladder_study(url, "ladder")
    again = StandInPool(LatencyStore(url), SPACE, KEY, latency_ms, top1=top1)
    resumed = SearchLoop(
        study, SPACE, again, LatencyStore(url), ladder_settings("ladder", 18), KEY, Quiet()
    )
    # Below the top, where decisions are taken, the board is the one the first run built.
    for rung in range(len(ladder.rungs) - 1):
        assert sorted(resumed.board.members(rung)) == sorted(loop.board.members(rung))
    assert resumed.board.reached(0) == 18
    # The same candidates in another study come from the accuracy cache, rung by rung.
    other = ladder_study(url, "ladder-again")
    enqueue_presets(other, SPACE, SPACE.presets())
    stats = SearchLoop(other, SPACE, again, LatencyStore(url), ladder_settings("ladder-again", 3),
                       KEY, Quiet()).run()  # fmt: skip
    assert again.trained == [] and stats.trained == 0 and stats.cache_hits > 3


def test_a_settled_rung_is_decided_at_once_and_never_leaves_a_slot_idle(tmp_path):
    url = f"sqlite:///{tmp_path / 'held.db'}"
    held: list[tuple[Future, object]] = []

    def hold(result):
        future: Future = Future()
        held.append((future, result))
        return future

    study = ladder_study(url, "held")
    pool = StandInPool(LatencyStore(url), SPACE, KEY, latency_ms, top1=top1, answer=hold)
    settings = ladder_settings("held", 50)
    loop = SearchLoop(study, SPACE, pool, LatencyStore(url), settings, KEY, Quiet())
    decided = {"climbed": 0, "stopped": 0}
    while sum(decided.values()) < 12:
        while loop._may_ask():
            loop._start(study.ask())
        assert len(loop.inflight) == 2  # both slots always hold a candidate
        # Every candidate in flight has a training out: nobody waits for a rung to fill.
        assert all(c.climb.pending for c in loop.inflight.values())
        future, result = held.pop(0)
        owner = next(c for c in loop.inflight.values() if future in c.futures())
        rung = owner.climb.rung
        future.set_result(result)
        loop._advance(owner)
        if owner.trial.number in loop.inflight:
            # Either it climbed and trains the next rung, or another seed of this rung is out.
            assert owner.climb.rung in (rung, rung + 1) and owner.climb.pending
            decided["climbed"] += owner.climb.rung > rung
        else:
            decided["stopped"] += rung < 2
    assert decided["climbed"] and decided["stopped"]


def test_one_rung_is_single_fidelity_as_before(tmp_path):
    url = f"sqlite:///{tmp_path / 'single.db'}"
    study = ladder_study(url, "single")
    pool = StandInPool(LatencyStore(url), SPACE, KEY, latency_ms, top1=top1)
    settings = SearchSettings("single", trials=4, parallel=2)
    assert settings.ladder().is_single
    SearchLoop(study, SPACE, pool, LatencyStore(url), settings, KEY, Quiet()).run()
    records = [r for r in _records(url, "single") if r.state == "COMPLETE"]
    assert len(records) == 4 and pool.settings == [settings.proxy] * 4
    for record in records:
        assert record.fidelity is None and record.ladder == [] and record.at_top
        assert set(record.accuracy) == {"top1", "loss", "epochs", "train_seconds"}
        assert record.values[0] == record.accuracy["top1"] == record.point[0]


def test_a_study_refuses_to_resume_with_another_ladder(tmp_path):
    from lce_nas.errors import UserError

    url = f"sqlite:///{tmp_path / 'resume.db'}"
    ladder_study(url, "fixed", ladder_settings("fixed", 1))
    ladder_study(url, "fixed", ladder_settings("fixed", 1))  # the same ladder resumes
    for other in ({"min_steps": 10, "max_steps": 270, "eta": 3}, {}):
        settings = SearchSettings("fixed", trials=1, **other)
        with pytest.raises(UserError, match="was made with ladder"):
            ladder_study(url, "fixed", settings)


def test_once_the_time_budget_is_spent_only_presets_climb(tmp_path):
    url = f"sqlite:///{tmp_path / 'budget.db'}"
    held: dict[int, list[tuple[Future, object]]] = {}

    study = ladder_study(url, "budget")
    preset = SPACE.presets()["quicknet"]
    study.enqueue_trial(SPACE.trial_params(preset), user_attrs={"preset": "quicknet"})
    settings = SearchSettings("budget", trials=2, time_budget_s=3600, parallel=2, min_steps=10,
                              max_steps=90, eta=3)  # fmt: skip

    def hold(result):
        future: Future = Future()
        held.setdefault(len(held), []).append((future, result))
        return future

    pool = StandInPool(LatencyStore(url), SPACE, KEY, latency_ms, top1=top1, answer=hold)
    loop = SearchLoop(study, SPACE, pool, LatencyStore(url), settings, KEY, Quiet())
    first, second = study.ask(), study.ask()
    loop._start(first)
    loop._start(second)
    sampled, kept = loop.inflight[second.number], loop.inflight[first.number]
    assert kept.preset == "quicknet" and sampled.preset is None
    loop.started -= 2 * 3600  # the budget is spent while both train rung 0
    for (future, result), candidate in zip(
        [held[1][0], held[0][0]], [sampled, kept], strict=True
    ):  # the sampled one first: alone at rung 0, it would climb
        future.set_result(result)
        loop._advance(candidate)
    assert second.number not in loop.inflight and loop.stats.stopped == 1
    assert loop.inflight[first.number].climb.rung == 1 and loop.stats.promoted == 1
