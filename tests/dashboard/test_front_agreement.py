"""`lce-nas front` and the dashboard answer one front: same rows, hypervolume, reference."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import optuna
import pytest
from dashboard_support import Api, DashboardProcess
from lce_nas.search.record import write_candidate, write_failure, write_fidelity, write_result
from lce_nas.search.study import META_KEY

PRESETS = {"quicknet-small": "a" * 64, "quicknet": "b" * 64, "quicknet-large": "c" * 64}


class _Summary:
    def __init__(self, mb: float) -> None:
        self.packed_bytes = int(mb * 1e6)

    def to_dict(self):
        return {
            "parameters": self.packed_bytes * 8,
            "binary_macs": 1,
            "float_macs": 1,
            "packed_bytes": self.packed_bytes,
        }


class _Latency:
    def __init__(self, median: float) -> None:
        self.median_ms, self.p10_ms, self.p90_ms = median, 0.97 * median, 1.04 * median
        self.mean_ms, self.std_ms, self.cv, self.runs = median, 0.01, 0.01, 20


class _Accuracy:
    def __init__(self, top1: float) -> None:
        self.top1, self.loss, self.epochs, self.train_seconds = top1, 1.0, 1, 3.0


class _Rung:
    def __init__(self, rung: int, top1: float) -> None:
        self.rung, self.top1, self.stderr = rung, top1, None


def _size_limited_study(url: str, name: str) -> None:
    """As `search --max-size-mb 4.3` leaves it: two presets too big, one failure, one trial
    stopped below the top rung, one running."""
    study = optuna.create_study(study_name=name, storage=url, directions=["maximize", "minimize"])
    study.set_user_attr(
        META_KEY,
        {
            "space": "quicknet",
            "presets": PRESETS,
            "constraints": {"max_latency_ms": None, "max_size_mb": 4.3},
        },
    )
    plan = [
        ("quicknet-small", 1.6, 9.4, 0.52),
        ("quicknet", 5.1, None, None),
        ("quicknet-large", 6.0, None, None),
        (None, 2.0, 7.5, 0.48),
        (None, 3.9, 14.0, 0.58),
        (None, 1.0, 20.0, 0.40),  # dominated
        (None, 2.2, None, "fail"),
    ]
    for index, (preset, mb, latency, top1) in enumerate(plan):
        trial = study.ask()
        if preset:
            trial.set_user_attr("preset", preset)
        write_candidate(trial, f"{index:064x}", {"section_blocks": [index + 1] * 4}, _Summary(mb))
        trial.set_constraint("size", mb - 4.3)
        cached = {"latency": False, "accuracy": False}
        if top1 == "fail":
            write_failure(study, trial, "training failed: RuntimeError: boom")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        elif latency is None:
            write_result(trial, feasible=False, cached=cached)
            study.tell(trial, [0.0, float("inf")])
        else:
            write_result(
                trial,
                feasible=True,
                cached=cached,
                measurement=_Latency(latency),
                measurement_id=index + 1,
                evaluation=_Accuracy(top1),
            )
            study.tell(trial, [top1, latency])
    # Stopped at rung 0 of 2 by successive halving: its rung-0 accuracy would top the
    # front, but an accuracy of a cheaper fidelity never stands on it.
    stopped = study.ask()
    write_candidate(stopped, "e" * 64, {"section_blocks": [8] * 4}, _Summary(1.0))
    stopped.set_constraint("size", 1.0 - 4.3)
    write_result(
        stopped,
        feasible=True,
        cached={"latency": False, "accuracy": False},
        measurement=_Latency(5.0),
        measurement_id=99,
        evaluation=_Accuracy(0.9),
    )
    write_fidelity(stopped, _Rung(0, 0.9), rungs=2)
    study.tell(stopped, [0.9, 5.0])
    running = study.ask()
    write_candidate(running, "f" * 64, {"section_blocks": [9] * 4}, _Summary(1.0))


@pytest.fixture(scope="module")
def agreement_db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('agree') / 'lce-nas.db'}"
    _size_limited_study(url, "limited")
    return url


def _cli_front(url: str, *extra: str) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lce_nas.cli",
            "front",
            "--study",
            "limited",
            "--json",
            *extra,
            "--db",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)


def test_cli_and_dashboard_agree_on_front_and_hypervolume(agreement_db):
    cli = _cli_front(agreement_db)
    cli_all = _cli_front(agreement_db, "--all")
    server = DashboardProcess("--db", agreement_db, "--port", "0")
    try:
        api = Api(server.url)
        front = api.get("/api/studies/limited/front")
        listed = {s["name"]: s for s in api.get("/api/studies")}["limited"]
        rows = api.get("/api/studies/limited/trials")
        history = api.get("/api/studies/limited/hypervolume")
    finally:
        server.stop()
    assert cli == front
    assert cli_all["trials"] == rows
    # The presets over the size limit were never timed: the reference is fixed by the one timed.
    assert front["reference_point"] == {"accuracy": 0.0, "latency_ms": 18.8, "stored": False}
    assert [r["number"] for r in front["trials"]] == [3, 0, 4]
    expected = 0.48 * (18.8 - 7.5) + (0.52 - 0.48) * (18.8 - 9.4) + (0.58 - 0.52) * (18.8 - 14.0)
    assert front["hypervolume"] == pytest.approx(expected)
    assert listed["hypervolume"] == front["hypervolume"]
    assert listed["infeasible"] == 2 and listed["failed"] == 1 and listed["running"] == 1
    assert history[-1]["hypervolume"] == pytest.approx(expected)
    assert {r["state"] for r in rows} == {"COMPLETE", "FAIL", "RUNNING"}
    (stopped,) = [r for r in rows if r["rung"] is not None]
    assert stopped["feasible"] and not stopped["at_top"] and not stopped["on_front"]
    assert stopped["accuracy"] == 0.9 and stopped["dominates_presets"] == []


def test_a_poll_of_an_unchanged_study_is_answered_not_modified(tmp_path):
    url = f"sqlite:///{tmp_path / 'poll.db'}"
    _size_limited_study(url, "limited")
    server = DashboardProcess("--db", url, "--port", "0")
    try:
        path = server.url.rstrip("/") + "/api/studies/limited/front"
        table = server.url.rstrip("/") + "/api/studies/limited/trials"
        with urllib.request.urlopen(path, timeout=30) as response:
            etag = response.headers["ETag"]
        with urllib.request.urlopen(table, timeout=30) as response:
            before = {r["number"]: r for r in json.loads(response.read())}
        request = urllib.request.Request(path, headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=30)
        assert answer.value.code == 304
        # A new trial changes the answer and its tag.
        study = optuna.load_study(study_name="limited", storage=url)
        study.add_trial(optuna.trial.create_trial(values=[0.7, 7.0], user_attrs={"feasible": True}))
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200 and response.headers["ETag"] != etag
            assert [r["latency_ms"] for r in json.loads(response.read())["trials"]] == [7.0]
        # Rows are kept per trial between answers; their place on the front is not.
        with urllib.request.urlopen(table, timeout=30) as response:
            after = {r["number"]: r for r in json.loads(response.read())}
    finally:
        server.stop()
    assert [n for n, r in before.items() if r["on_front"]] == [0, 3, 4]
    assert [n for n, r in after.items() if r["on_front"]] == [max(after)]
    assert {n: r for n, r in after.items() if n in before and n not in (0, 3, 4)} == {
        n: r for n, r in before.items() if n not in (0, 3, 4)
    }
