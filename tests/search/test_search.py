"""`lce-nas search` end to end: a real local Ray, real LCE timing, real training."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time

import numpy as np
import pytest
from lce_nas.latency_db import LatencyStore
from optuna.trial import TrialState
from timing_support import first_timings

# Each search starts a local Ray and times real models: minutes, not seconds.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _counts(output: str) -> dict[str, int]:
    match = re.search(r"trained (\d+), timed (\d+), (\d+) answers from the database", output)
    assert match, output
    trained, timed, hits = map(int, match.groups())
    return {"trained": trained, "timed": timed, "hits": hits}


def _completed(study) -> list:
    return [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]


def test_search_end_to_end_then_front_and_export(workspace, tmp_path):
    result = workspace.run(workspace.search_args("e2e", "--trials", "4", "--parallel", "2"))
    assert result.returncode == 0, result.stdout + result.stderr
    study = workspace.study("e2e")
    completed = _completed(study)
    assert len(completed) == 4
    presets = {t.user_attrs.get("preset") for t in completed} - {None}
    assert presets == {"quicknet-small", "quicknet", "quicknet-large"}
    with LatencyStore(workspace.db) as store:
        for trial in completed:
            fingerprint = trial.user_attrs["fingerprint"]
            assert trial.user_attrs["latency"]["median_ms"] == pytest.approx(trial.values[1])
            assert trial.user_attrs["accuracy"]["top1"] == pytest.approx(trial.values[0])
            assert store.measurements(fingerprint=fingerprint)
            assert store.architecture(fingerprint)["space"] == "quicknet"

    front = workspace.run(workspace.command("front", "--study", "e2e", "--json"))
    assert front.returncode == 0, front.stderr
    shown = json.loads(front.stdout)
    assert shown["study"] == "e2e" and shown["reference_point"]["stored"] is True
    rows = shown["trials"]
    assert rows and all(r["on_front"] and r["feasible"] for r in rows)
    latencies = [r["latency_ms"] for r in rows]
    accuracies = [r["accuracy"] for r in rows]
    assert latencies == sorted(latencies) and accuracies == sorted(accuracies)

    out = tmp_path / "exports"
    exported = workspace.run(
        workspace.command(
            "export", "--study", "e2e", "--trial", str(rows[0]["number"]), "-o", str(out)
        ),
    )
    assert exported.returncode == 0, exported.stderr
    (folder,) = list((out / "e2e").iterdir())
    card = json.loads((folder / "model_card.json").read_text())
    assert card["fingerprint"] == rows[0]["fingerprint"]
    assert card["latency"]["median_ms"] == rows[0]["latency_ms"]
    # The exported flatbuffer is the one that was timed.
    assert card["tflite_sha256"] == card["timed_model_sha256"]
    assert (folder / "model.h5").stat().st_size > 0

    from larq_compute_engine.tflite.python.interpreter import Interpreter

    tflite = (folder / "model.tflite").read_bytes()
    probs = Interpreter(tflite).predict(np.random.rand(1, 224, 224, 3).astype(np.float32))
    assert probs.shape == (1, 1000)
    assert np.isclose(probs.sum(), 1.0, atol=1e-3)


def test_duplicate_proposals_reuse_stored_results(workspace):
    first = workspace.run(workspace.search_args("dup-a", "--trials", "3"))
    assert first.returncode == 0, first.stdout + first.stderr
    second = workspace.run(workspace.search_args("dup-b", "--trials", "3"))
    assert second.returncode == 0, second.stdout + second.stderr
    counts = _counts(second.stdout)
    assert counts["trained"] == 0 and counts["timed"] == 0
    assert counts["hits"] == 6  # three presets, each latency and accuracy
    values = lambda name: sorted(tuple(t.values) for t in _completed(workspace.study(name)))  # noqa: E731
    assert values("dup-a") == values("dup-b")


def _kill_when(workspace, args: list[str], ready, timeout_s: float = 900):
    """Start a search, SIGKILL it with its local Ray once ``ready()`` returns something
    (polled; a study not there yet is not ready), and return what it returned (or None)."""
    import os

    process = subprocess.Popen(
        args,
        cwd=workspace.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
            try:
                found = ready()
            except KeyError:
                continue
            if found is not None:
                return found
        return None
    finally:
        # The whole process group: the search and the local Ray it started.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_resume_after_the_process_is_killed(workspace):
    args = workspace.search_args("resume", "--trials", "4", "--parallel", "2")

    def two_completed():
        done = _completed(workspace.study("resume"))
        if len(done) >= 2:
            return {t.number: (tuple(t.values), t.user_attrs["fingerprint"]) for t in done}
        return None

    before = _kill_when(workspace, args, two_completed) or {}
    assert len(before) >= 2, "the search never completed two trials"

    result = workspace.run(args)
    assert result.returncode == 0, result.stdout + result.stderr
    study = workspace.study("resume")
    completed = _completed(study)
    assert len(completed) == 4
    after = {t.number: (tuple(t.values), t.user_attrs["fingerprint"]) for t in completed}
    for number, kept in before.items():
        assert after[number] == kept
    counts = _counts(result.stdout)
    remaining = 4 - len(before)
    assert counts["trained"] <= remaining and counts["timed"] <= remaining
    # Nothing completed before the kill was timed again.
    with LatencyStore(workspace.db) as store:
        for _, fingerprint in before.values():
            timings = store.measurements(fingerprint=fingerprint, device="fast-host")
            timed = [m for m in timings if m.engine == "lce-interpreter"]
            assert len(first_timings(timed)) == 1, [m.host_facts for m in timed]
    # Trials the kill left running were failed and their candidates queued again.
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        assert trial.user_attrs["failure"].startswith("interrupted")


def test_failed_training_becomes_a_failed_trial_and_the_search_goes_on(workspace):
    # A proxy setting nobody used yet, so every candidate really goes to a trainer.
    args = workspace.search_args("failing", "--trials", "2", "--subset", "300")
    result = workspace.run(args, fail_training="all")
    assert result.returncode == 0, result.stdout + result.stderr
    failed = workspace.study("failing").get_trials(deepcopy=False, states=(TrialState.FAIL,))
    assert len(failed) == 2
    for trial in failed:
        assert "training failed" in trial.user_attrs["failure"]
        assert "InjectedTrainingFailure" in trial.user_attrs["failure"]


def test_consecutive_failures_stop_the_search_with_a_summary(workspace):
    args = workspace.search_args(
        "stopping", "--trials", "5", "--subset", "300", "--max-failures", "2", "--parallel", "1"
    )
    result = workspace.run(args, fail_training="all")
    assert result.returncode == 1
    assert "stopped after 2 failed trials in a row" in result.stdout
    study = workspace.study("stopping")
    assert len(study.get_trials(states=(TrialState.FAIL,))) == 2
    assert not study.get_trials(states=(TrialState.COMPLETE, TrialState.RUNNING))


def test_latency_limit_below_every_preset_trains_nothing(workspace):
    result = workspace.run(
        workspace.search_args("too-fast", "--trials", "3", "--max-latency-ms", "0.001")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _counts(result.stdout)["trained"] == 0
    assert "the front of 'too-fast' is empty: no feasible trial under 0.001 ms" in result.stdout
    for trial in _completed(workspace.study("too-fast")):
        assert trial.user_attrs["feasible"] is False
        assert "accuracy" not in trial.user_attrs
        assert trial.constraints["latency"] > 0


def _ladder_trainings(trials) -> set[tuple[str, int, int]]:
    """(fingerprint, subset, seed) of every training the trials' ladders stand on."""
    wanted = set()
    for trial in trials:
        for row in trial.user_attrs["accuracy"]["ladder"]:
            subset = row["steps"] * 16  # one epoch of batch 16 at these small budgets
            wanted |= {(trial.user_attrs["fingerprint"], subset, s) for s in range(row["seeds"])}
    return wanted


def _stored_trainings(db: str) -> set[tuple[str, int, int]]:
    with LatencyStore(db) as store:
        return {
            (e.fingerprint, e.proxy_settings["subset"], e.proxy_settings["seed"])
            for e in store.accuracies(dataset="fashion-mnist")
            if e.proxy_settings["width"] == 0.125 and e.proxy_settings["subset"] in (128, 384)
        }


def test_multi_fidelity_search_resumes_mid_rung_and_fronts_the_top_rung_only(workspace):
    # Two rungs, 8 and 24 steps at width 1/8; 2 seeds at the top, 3 for the presets.
    ladder = ["--width", "0.125", "--min-steps", "8", "--max-steps", "24", "--eta", "3"]
    args = workspace.command(
        "search", "--device", "fast-host", "--study-name", "ladder", "--trials", "5", *ladder
    )

    def mid_climb():
        # Some rungs' trainings stored while their trials are still running.
        running = workspace.study("ladder").get_trials(states=(TrialState.RUNNING,))
        stored = _stored_trainings(workspace.db)
        return stored if running and len(stored) >= 3 else None

    before = _kill_when(workspace, args, mid_climb) or set()
    assert len(before) >= 3, "the search never stored three rung trainings"

    result = workspace.run(args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "accuracy: top rung of 2: 24 steps at width 0.125" in result.stdout
    completed = _completed(workspace.study("ladder"))
    assert len(completed) == 5
    # The resumed run trained only what the kill had not stored.
    needed = _ladder_trainings(completed)
    assert _counts(result.stdout)["trained"] <= len(needed - before)
    for trial in completed:
        rows = trial.user_attrs["accuracy"]["ladder"]
        assert [r["rung"] for r in rows] == list(range(len(rows)))
        assert trial.values[0] == pytest.approx(rows[0]["top1"])  # Optuna sees rung 0
        if trial.user_attrs.get("preset"):
            assert len(rows) == 2 and rows[-1]["seeds"] == 3

    shown = json.loads(
        workspace.run(workspace.command("front", "--study", "ladder", "--json", "--all")).stdout
    )
    front = [r for r in shown["trials"] if r["on_front"]]
    assert front and all(r["at_top"] and r["accuracy_stderr"] is not None for r in front)
    for row in shown["trials"]:
        if row["state"] == "COMPLETE" and not row["at_top"]:
            assert not row["on_front"] and row["rung"] == 0
