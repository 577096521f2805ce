"""The one front: feasibility, dominance, reference point and hypervolume on trial records."""

from __future__ import annotations

import random

import optuna
import pytest
from lce_nas.search.front import (
    front_numbers,
    initial_reference_point,
    preset_standing,
    reference_point,
    study_front,
)
from lce_nas.search.pareto import HypervolumeTracker, hypervolume, hypervolume_history
from lce_nas.search.record import TrialRecord, record_from_frozen

PRESETS = {"quicknet-small": "a" * 64, "quicknet": "b" * 64, "quicknet-large": "c" * 64}


def test_incremental_hypervolume_equals_recomputing_it():
    rng = random.Random(7)
    for _ in range(300):
        points = [(round(rng.random(), 2), float(rng.randint(1, 40))) for _ in range(40)]
        ref = (rng.choice([0.0, 0.2]), rng.choice([30.0, 41.0]))
        history = hypervolume_history(points, ref)
        for n in (1, 7, 40):
            assert history[n - 1] == pytest.approx(hypervolume(points[:n], ref))


def test_a_dominated_point_adds_nothing_and_a_better_one_replaces_its_run():
    tracker = HypervolumeTracker((0.0, 100.0))
    assert tracker.add((0.5, 50.0)) == pytest.approx(25.0)
    assert tracker.add((0.4, 60.0)) == pytest.approx(25.0)
    assert tracker.add((0.6, 10.0)) == pytest.approx(54.0)
    assert tracker.add((0.0, 1.0)) == pytest.approx(54.0)  # on the reference accuracy


def _constrained_study():
    """Feasible, infeasible (a constraint > 0) and failed trials in an Optuna study."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    rng = random.Random(3)
    for index in range(60):
        size = rng.choice([-1.0, -0.5, 0.5])
        attrs = {"feasible": size <= 0}
        if index % 13 == 0:
            study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
            continue
        values = [round(rng.random(), 2), float(rng.randint(5, 60))]
        if size > 0:
            values = [0.0, values[1]]
        study.add_trial(
            optuna.trial.create_trial(
                values=values, user_attrs=attrs, system_attrs={"constraints:size": size}
            )
        )
    return study


def test_the_front_is_what_optuna_calls_best_trials():
    study = _constrained_study()
    records = [record_from_frozen(t) for t in study.trials]
    ours = front_numbers(records)
    # Optuna keeps every copy of an equal point; the front keeps the first.
    best, seen = [], set()
    for trial in sorted(study.best_trials, key=lambda t: (t.values[1], -t.values[0], t.number)):
        if tuple(trial.values) not in seen:
            seen.add(tuple(trial.values))
            best.append(trial.number)
    assert ours == best and len(ours) >= 3


def _preset(number, name, state="COMPLETE", values=(0.5, 10.0), feasible=True):
    return TrialRecord(
        number, state, values if state == "COMPLETE" else None, preset=name, feasible_attr=feasible
    )


def test_presets_over_a_size_limit_do_not_hold_the_reference_back():
    records = [
        _preset(0, "quicknet-small", values=(0.52, 9.5)),
        _preset(1, "quicknet", values=(0.0, float("inf")), feasible=False),
        _preset(2, "quicknet-large", values=(0.0, float("inf")), feasible=False),
        TrialRecord(3, "COMPLETE", (0.6, 30.0), feasible_attr=True),
    ]
    meta = {"presets": PRESETS, "constraints": {"max_latency_ms": None, "max_size_mb": 4.3}}
    assert initial_reference_point(meta, records) == {"accuracy": 0.0, "latency_ms": 19.0}
    front = study_front("s", meta, records)
    assert front.reference_point == {"accuracy": 0.0, "latency_ms": 19.0, "stored": False}
    assert front.hypervolume == pytest.approx(0.52 * 9.5)


def test_the_reference_waits_for_presets_still_queued_or_requeued():
    meta = {"presets": PRESETS}
    done = [_preset(0, "quicknet-small"), _preset(1, "quicknet", values=(0.6, 15.0))]
    assert initial_reference_point(meta, [*done, _preset(2, "quicknet-large", "WAITING")]) is None
    interrupted = [_preset(2, "quicknet-large", "FAIL"), _preset(5, "quicknet-large", "WAITING")]
    assert initial_reference_point(meta, done + interrupted) is None
    failed_alone = [_preset(2, "quicknet-large", "FAIL")]
    assert initial_reference_point(meta, done + failed_alone)["latency_ms"] == 30.0
    stored = {**meta, "reference_point": {"accuracy": 0.0, "latency_ms": 99.0}}
    assert reference_point(stored, done)["stored"] is True
    assert reference_point({}, done) is None


def test_only_feasible_presets_can_be_dominated():
    records = [
        _preset(0, "quicknet", values=(0.6, 20.0)),
        _preset(1, "quicknet-large", values=(0.0, 50.0), feasible=False),
        TrialRecord(2, "COMPLETE", (0.7, 15.0), feasible_attr=True),
    ]
    assert preset_standing(records)[0] == {0: [], 2: ["quicknet"]}


def test_a_study_lce_nas_did_not_make_uses_its_constraints():
    feasible = TrialRecord(0, "COMPLETE", (0.6, 20.0), constraints={"c": -1.0})
    violating = TrialRecord(1, "COMPLETE", (0.9, 10.0), constraints={"c": 1.0})
    assert feasible.feasible and not violating.feasible
    assert front_numbers([feasible, violating]) == [0]


def _top(number, accuracy, latency_ms, stderr, preset=None):
    """A contender at the top of a two-rung ladder, with its accuracy's standard error."""
    fidelity = {"rung": 1, "rungs": 2, "top1": accuracy, "stderr": stderr}
    return TrialRecord(number, "COMPLETE", (0.1, latency_ms), preset=preset, fidelity=fidelity)


def test_dominating_a_preset_takes_more_than_the_combined_uncertainty():
    preset = _top(0, 0.60, 20.0, 0.01, preset="quicknet")
    within = _top(1, 0.625, 15.0, 0.01)  # 2.5 points better; the margin is 2 x 1.41 points
    beyond = _top(2, 0.64, 15.0, 0.01)
    slower = _top(3, 0.70, 25.0, 0.01)
    worse_but_tied = _top(4, 0.58, 10.0, 0.01)
    clearly_worse = _top(5, 0.50, 10.0, 0.01)
    dominated, tied = preset_standing(
        [preset, within, beyond, slower, worse_but_tied, clearly_worse]
    )
    assert dominated == {0: [], 1: [], 2: ["quicknet"], 3: [], 4: [], 5: []}
    assert tied == {0: [], 1: ["quicknet"], 2: [], 3: [], 4: ["quicknet"], 5: []}
    rows = study_front("s", {"presets": {"quicknet": "ab"}}, [preset, within, beyond]).rows(
        every_trial=True
    )
    assert [(r["dominates_presets"], r["ties_presets"]) for r in rows][1:] == [
        ([], ["quicknet"]),
        (["quicknet"], []),
    ]


def test_without_error_bars_dominance_is_pareto_dominance():
    preset = _top(0, 0.60, 20.0, None, preset="quicknet")
    assert preset_standing([preset, _top(1, 0.601, 19.0, None)]) == (
        {0: [], 1: ["quicknet"]},
        {0: [], 1: []},
    )
