"""Searches on a real multi-node Ray cluster: placement, a lost node, a database restart, a kill.

Each test joins a cluster of real raylets on this machine (see conftest) from
``lce-nas search --ray-address`` with the cluster's token.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import optuna
import pytest
from lce_nas.latency_db import LatencyStore
from optuna.trial import TrialState
from search_support import wait_for
from timing_support import first_timings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

DEVICE = {"device:host": 1}


def _placements(output: str, stage: str) -> dict[str, int]:
    match = re.search(rf"^{stage} ran on Ray nodes: (.+)$", output, re.MULTILINE)
    assert match, output
    pairs = (item.rsplit(" ", 1) for item in match.group(1).split(", "))
    return {node: int(count) for node, count in pairs}


def _trials(db: str, study: str, state: TrialState) -> list:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        loaded = optuna.load_study(study_name=study, storage=db)
    except KeyError:
        return []
    return loaded.get_trials(deepcopy=False, states=(state,))


def _snapshot(db: str, study: str) -> dict[int, tuple]:
    return {t.number: tuple(t.values) for t in _trials(db, study, TrialState.COMPLETE)}


def _wait_for_completed(process, db: str, study: str, count: int) -> dict[int, tuple]:
    def enough() -> bool:
        assert process.poll() is None, process.communicate()
        return len(_snapshot(db, study)) >= count

    wait_for(enough, 900, f"{count} completed trial(s)")
    return _snapshot(db, study)


def _single_timings(db: str, study: str) -> None:
    """Every completed candidate was timed and trained once: nothing duplicated.

    A re-time on a core the speed sentinel found slow is not a duplicate: it
    names the measurement it re-times.
    """
    fingerprints = [t.user_attrs["fingerprint"] for t in _trials(db, study, TrialState.COMPLETE)]
    with LatencyStore(db) as store:
        for fingerprint in set(fingerprints):
            timed = [m for m in store.measurements(fingerprint=fingerprint, device="host")
                     if m.engine == "lce-interpreter"]  # fmt: skip
            assert len(first_timings(timed)) == 1, (fingerprint, [m.host_facts for m in timed])
        assert store.counts()["accuracy_evaluations"] == len(set(fingerprints))


def test_a_search_starts_its_own_local_ray_beside_a_cluster(ray_cluster, tmp_path):
    code = (
        "import ray\n"
        "from lce_nas.engine.devices import get_device\n"
        "from lce_nas.workers import Pool\n"
        f"pool = Pool(get_device('host'), 'sqlite:///{tmp_path / 'x.db'}', device_wait_s=60)\n"
        "print('GCS', ray.get_runtime_context().gcs_address, len(ray.nodes()))\n"
        "pool.shutdown()\n"
    )
    # Everything a plain ray.init() would use to join the cluster is there.
    env = {**ray_cluster.env, "RAY_ADDRESS": ray_cluster.address}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _, address, nodes = (
        re.search(r"^GCS (\S+) (\d+)$", result.stdout, re.MULTILINE).group(0).split()
    )
    assert address.startswith("127.0.0.1:") and address != ray_cluster.address
    assert nodes == "1"


def test_a_two_node_search_waits_for_the_device_then_trains_on_both(
    ray_cluster, workspace, tmp_path
):
    db = f"sqlite:///{tmp_path / 'two.db'}"
    args = workspace.search_args(db, "two-node", ray_cluster.address, "--trials", "3")
    process = workspace.start(args, ray_cluster)
    try:
        # No node owns the device yet: the search waits instead of failing.
        time.sleep(15)
        assert process.poll() is None, process.communicate()
        device_node = ray_cluster.add_node(num_cpus=1, resources=DEVICE)
        out, err = process.communicate(timeout=1200)
    finally:
        process.kill()
    assert process.returncode == 0, out + err
    assert "waiting for a Ray node that owns device 'host'" in out
    assert """--resources '{"device:host": 1}'""" in out
    assert len(_trials(db, "two-node", TrialState.COMPLETE)) == 3
    training = _placements(out, "training")
    # Two trainings in flight, one CPU per node: one on each node.
    assert set(training) == {ray_cluster.head_id[:8], device_node.node_id[:8]}
    assert sum(training.values()) == 3
    assert _placements(out, "timing") == {device_node.node_id[:8]: 3}


def test_losing_the_device_node_mid_search_loses_nothing(ray_cluster, workspace, tmp_path):
    device_node = ray_cluster.add_node(num_cpus=1, resources=DEVICE)
    db = f"sqlite:///{tmp_path / 'loss.db'}"
    args = workspace.search_args(db, "loss", ray_cluster.address, "--trials", "3")
    process = workspace.start(args, ray_cluster)
    try:
        before = _wait_for_completed(process, db, "loss", 1)
        # Its trainer and the device worker die with it; the device comes back elsewhere.
        in_flight = [t.number for t in _trials(db, "loss", TrialState.RUNNING)]
        ray_cluster.remove_node(device_node)
        replacement = ray_cluster.add_node(num_cpus=1, resources=DEVICE)
        out, err = process.communicate(timeout=900)
    finally:
        process.kill()
    assert process.returncode == 0, out + err
    after = _snapshot(db, "loss")
    assert len(after) == 3 and not _trials(db, "loss", TrialState.FAIL), out
    assert all(after[number] == values for number, values in before.items())
    assert replacement.node_id[:8] in _placements(out, "timing")
    assert in_flight and all(number in after for number in in_flight)
    _single_timings(db, "loss")
    print(f"node loss: completed {len(after)}, in flight when lost {len(in_flight)}, failed 0")


@pytest.mark.postgres
def test_a_postgres_restart_then_a_killed_driver_lose_and_duplicate_nothing(
    ray_cluster, workspace, restartable_postgres
):
    ray_cluster.add_node(num_cpus=1, resources=DEVICE)
    db = restartable_postgres.new_database()
    args = workspace.search_args(db, "pg-restart", ray_cluster.address, "--trials", "4")
    process = workspace.start(args, ray_cluster)
    try:
        before = _wait_for_completed(process, db, "pg-restart", 1)
        in_flight = [t.number for t in _trials(db, "pg-restart", TrialState.RUNNING)]
        restartable_postgres.stop()
        time.sleep(5)
        restartable_postgres.launch()
        # The search goes on; then its driver is killed (the cluster keeps running).
        before = _wait_for_completed(process, db, "pg-restart", len(before) + 1)
    finally:
        process.kill()
        process.communicate()
    result = workspace.run(args, ray_cluster, timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    after = _snapshot(db, "pg-restart")
    states = {
        t.number: (t.state.name, t.user_attrs.get("failure"))
        for t in optuna.load_study(study_name="pg-restart", storage=db).trials
    }
    assert len(after) == 4, f"{states}\n{result.stdout}"
    assert all(after[number] == values for number, values in before.items())
    # Only trials the kill left running failed (and were queued again).
    for trial in _trials(db, "pg-restart", TrialState.FAIL):
        assert trial.user_attrs["failure"].startswith("interrupted")
    _single_timings(db, "pg-restart")
    killed = len(_trials(db, "pg-restart", TrialState.FAIL))
    print(
        f"postgres restart: completed {len(after)}, in flight during the restart "
        f"{len(in_flight)}, interrupted by the kill and re-queued {killed}, lost 0"
    )
