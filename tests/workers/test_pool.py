"""The Ray pool: training and timing overlap, results land in the database, retries."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time

import pytest
from lce_nas.engine.devices import get_device
from lce_nas.latency_db import LatencyStore
from lce_nas.workers import Pool
from lce_nas.workers.trainer import ProxySettings
from timing_support import first_timings

pytestmark = pytest.mark.slow

TINY_PROXY = ProxySettings(epochs=1, subset=256, width=0.125, validation_images=500)


def candidate(i: int) -> dict:
    # Small deploy models: each converts in seconds.
    return {
        "section_blocks": [1, 1, 1, 1 + i],
        "section_filters": [32, 32, 64, 64],
        "stem_filters": 8,
    }


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('pool') / 'pool.db'}"
    device = get_device("host", max_seconds=2.0, min_seconds=0.3, min_runs=5, warmup_runs=1)
    with Pool(device, url, proxy=TINY_PROXY) as pool:
        yield pool


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def test_four_candidates_overlap_and_land_in_the_database(pool):
    params = [candidate(i) for i in range(4)]
    accuracy = [pool.submit_accuracy("quicknet", p) for p in params]
    latency = [pool.submit_latency("quicknet", p) for p in params]
    trained = [f.result(timeout=900) for f in accuracy]
    timed = [f.result(timeout=900) for f in latency]

    assert not any(r.cached for r in trained) and not any(r.cached for r in timed)
    training = [(r.started, r.finished) for r in trained]
    timing = [(r.started, r.finished) for r in timed]
    # Some training ran while some other timing ran: the two paths are independent.
    assert max(_overlap(t, m) for t in training for m in timing) > 0
    # The device worker times one model at a time.
    ordered = sorted(timing)
    assert all(a[1] <= b[0] + 1e-3 for a, b in itertools.pairwise(ordered))
    assert {r.measurement.fingerprint for r in timed} == {r.evaluation.fingerprint for r in trained}
    for r in timed:
        assert r.measurement.median_ms > 0 and r.measurement.runs >= 5
        assert r.measurement_id is not None

    with LatencyStore(pool.store_url) as store:
        counts = store.counts()
        assert counts["accuracy_evaluations"] == 4
        assert counts["architectures"] == 4
        timed_here = [m for m in store.measurements() if m.engine == "lce-interpreter"]
        # Once each; a re-time on a core the speed sentinel found slow is not a second one.
        assert len(first_timings(timed_here)) == 4, [m.host_facts for m in timed_here]
        # Each candidate also got a per-op breakdown from the native engine.
        profiled = [m for m in store.measurements() if m.engine == "native"]
        assert {m.fingerprint for m in profiled} == {m.fingerprint for m in timed_here}
        assert all(m.breakdown_ms and m.breakdown_ms["binary_conv"] > 0 for m in profiled)

    # A second evaluation of a known candidate is answered from the database.
    again_acc = pool.submit_accuracy("quicknet", params[0]).result(timeout=300)
    again_lat = pool.submit_latency("quicknet", params[0]).result(timeout=300)
    assert again_acc.cached and again_lat.cached
    assert again_lat.measurement.median_ms == timed[0].measurement.median_ms
    assert again_lat.measurement_id == timed[0].measurement_id
    with LatencyStore(pool.store_url) as store:
        assert store.counts() == counts


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        # The command name may contain spaces; the parent pid follows its ')'.
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def _ours_running(title: str) -> list[int]:
    """Processes named ``title`` started by this test session's own Ray (never others')."""
    out = subprocess.run(["pgrep", "-f", title], capture_output=True, text=True)
    mine = []
    for pid in map(int, out.stdout.split()):
        ancestor = pid
        try:
            while ancestor > 1 and ancestor != os.getpid():
                ancestor = _parent(ancestor)
        except (OSError, ValueError, IndexError):
            continue
        if ancestor == os.getpid():
            mine.append(pid)
    return mine


def test_a_killed_trainer_is_retried(pool):
    future = pool.submit_accuracy("quicknet", candidate(7))
    deadline = time.monotonic() + 300
    victims: list[int] = []
    # Ray names a worker process after the task it is running.
    while not victims and time.monotonic() < deadline and not future.done():
        victims = _ours_running("ray::_train_remote")
        time.sleep(0.2)
    assert victims, "the training task never started"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    result = future.result(timeout=600)
    assert not result.cached
    assert 0.0 <= result.evaluation.top1 <= 1.0
    with LatencyStore(pool.store_url) as store:
        assert (
            store.lookup_accuracy(
                result.evaluation.fingerprint, "fashion-mnist", TINY_PROXY.to_dict()
            )
            is not None
        )
