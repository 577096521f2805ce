"""The speed sentinel: recorded with every host measurement."""

from __future__ import annotations

import dataclasses

import pytest
from lce_nas.engine import get_device, measure
from lce_nas.engine.sentinel import SENTINEL_INTERVAL_S, facts_sentinel


@pytest.fixture(autouse=True)
def _no_user_profiles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))


def test_every_host_measurement_keeps_its_sentinel(tiny_tflite):
    # The tiny model reaches the default run limit within one sentinel interval
    # on a quiet core; lifting the limit holds the timing for min_seconds (1 s).
    device = dataclasses.replace(get_device("host"), max_runs=10**7)
    m = measure(tiny_tflite, device, max_seconds=2)
    assert facts_sentinel(m.host_facts) > 0
    timed_s = sum(m.samples_ms) / 1e3
    assert timed_s >= SENTINEL_INTERVAL_S
    # One before warming up, one after, and at least one between: by the last
    # run the clock has passed the interval, since it runs as long as the
    # samples sum and more.
    assert m.host_facts["sentinel_samples"] >= 3


def test_a_slowed_timing_is_recorded_and_timed_again(tmp_path):
    from lce_nas.engine.measurement import Measurement
    from lce_nas.engine.sentinel import SENTINEL_VERSION
    from lce_nas.latency_db import LatencyStore
    from lce_nas.workers.device import _measure_and_record

    store = LatencyStore(f"sqlite:///{tmp_path}/lat.db")
    sentinels = iter([2.0] * 5 + [4.0, 2.1])

    def timing():
        value = next(sentinels)
        m = Measurement.from_samples(
            [value],
            device="host",
            engine="e",
            engine_version="1",
            threads=1,
            fingerprint="tflite:" + "0" * 64,
        )
        m.host_facts = {"sentinel_ms": value, "sentinel_version": SENTINEL_VERSION}
        return m

    for _ in range(5):
        store.record_measurement(timing())
    chosen, chosen_id = _measure_and_record(store, timing, deploy_shape="x", predicted=None)
    rows = store.measurement_rows()
    # The slowed timing (4.0 against a baseline of 2.0) is kept, and the re-timed one returned.
    assert [r["median_ms"] for r in rows[-2:]] == [4.0, 2.1]
    assert chosen.median_ms == 2.1 and chosen_id == rows[-1]["id"]
    assert rows[-1]["host_facts"]["retime_of"] == rows[-2]["id"]
    assert "retime_of" not in rows[-2]["host_facts"]
