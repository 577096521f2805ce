"""The speed sentinel: recorded with every host measurement, it sees a core shared with a hog."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import contextmanager

import pytest
from engine_support import run_cli
from lce_nas.engine import get_device, measure
from lce_nas.engine.sentinel import (
    MIN_BASELINE_MEASUREMENTS,
    SLOWDOWN_LIMIT,
    facts_sentinel,
    slowdown,
)


@pytest.fixture(autouse=True)
def _no_user_profiles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))


@contextmanager
def busy_core(cpu: int):
    """A process spinning on ``cpu``: the core is shared, as on a busy or oversubscribed host."""
    hog = subprocess.Popen(
        [sys.executable, "-c", f"import os; os.sched_setaffinity(0, [{cpu}])\nwhile True: pass"]
    )
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def test_every_host_measurement_keeps_its_sentinel(tiny_tflite):
    m = measure(tiny_tflite, get_device("host"), max_seconds=2)
    assert facts_sentinel(m.host_facts) > 0
    # One before warming up, one per interval of timing, one after.
    assert m.host_facts["sentinel_samples"] >= 3


def test_a_hog_on_the_timing_core_is_flagged_and_the_model_timed_again(tiny_tflite, tmp_path):
    from lce_nas.latency_db import LatencyStore
    from lce_nas.workers.device import _measure_and_record

    # At normal priority, as without root: a real-time worker would never yield to the hog.
    device = get_device("host", priority="normal")
    store = LatencyStore(f"sqlite:///{tmp_path}/lat.db")
    tflite = tiny_tflite.read_bytes()
    for _ in range(MIN_BASELINE_MEASUREMENTS):
        store.record_measurement(measure(tflite, device, max_seconds=1.2))
    reference = store.sentinel_baseline(device.name)
    assert reference is not None

    with busy_core(device.reserved_cpus[0]):
        crowded, crowded_id = _measure_and_record(
            store,
            lambda: measure(tflite, device, max_seconds=1.2),
            deploy_shape="x",
            predicted=None,
        )
    # Both timings under the hog were recorded, none discarded; the returned one is slowed.
    rows = store.measurement_rows()
    assert len(rows) == MIN_BASELINE_MEASUREMENTS + 2
    assert slowdown(crowded.host_facts, reference) > SLOWDOWN_LIMIT
    assert crowded_id in {r["id"] for r in rows[-2:]}


def test_bench_warns_when_the_core_ran_slow(tiny_tflite, tmp_path):
    # At normal priority, as without root: a real-time worker would never yield to the hog.
    (tmp_path / "lce-nas.toml").write_text('[devices.host]\npriority = "normal"\n')
    db = f"sqlite:///{tmp_path}/lat.db"
    args = ("bench", str(tiny_tflite), "--db", db, "--max-seconds", "1.2", "--fresh", "--json")
    quiet = [json.loads(run_cli(*args, cwd=tmp_path).stdout) for _ in range(5)]
    # No verdict before the device has a baseline.
    assert quiet[0]["slowdown"] is None and quiet[-1]["slowdown"] is not None
    with busy_core(get_device("host").reserved_cpus[0]):
        crowded = run_cli(*args, cwd=tmp_path)
    assert crowded.returncode == 0, crowded.stderr
    record = json.loads(crowded.stdout)
    assert record["host_facts"]["scheduling"] == "normal"
    assert record["slowdown"] > SLOWDOWN_LIMIT
    assert "slower than usual" in crowded.stderr
