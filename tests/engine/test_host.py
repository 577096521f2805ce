"""The host engine: real LCE interpreter in a pinned worker process; ``bench`` with the cache."""

from __future__ import annotations

import json
import math
import os

import pytest
from engine_support import run_cli
from lce_nas.engine import get_device, measure
from lce_nas.engine.host import LCE_ENGINE, lce_version

from lce_nas.errors import UserError


@pytest.fixture(autouse=True)
def _no_user_profiles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))


def test_quicknet_small_on_host_both_kernel_paths(quicknet_small_tflite):
    fast_device = get_device("host")
    fast = measure(quicknet_small_tflite, fast_device, max_seconds=8)
    slow = measure(
        quicknet_small_tflite,
        get_device("host", use_indirect_bgemm=False, use_xnnpack=False),
        max_seconds=8,
    )
    for m in (fast, slow):
        assert 0.5 < m.median_ms < 5000  # QuickNetSmall is tens of ms on a server core
        assert m.p10_ms <= m.median_ms <= m.p90_ms
        assert m.cv >= 0 and math.isfinite(m.cv)
        assert m.runs == len(m.samples_ms) >= 20 and m.warmup_runs >= 5
        assert (m.engine, m.engine_version, m.threads) == (LCE_ENGINE, lce_version(), 1)
        assert m.host_facts["pinned_cpus"] == list(fast_device.reserved_cpus)
        assert m.host_facts["cpu_model"] and m.host_facts["kernel"].startswith("Linux")
        assert m.model_sha256 and m.fingerprint == f"tflite:{m.model_sha256}"
        assert m.op_profile is None and m.breakdown_ms is None
    assert fast.kernel_options == {
        "use_indirect_bgemm": True,
        "use_reference_bconv": False,
        "use_xnnpack": True,
    }
    assert slow.kernel_options["use_indirect_bgemm"] is False
    assert slow.kernel_options["use_xnnpack"] is False
    assert fast.key != slow.key
    # LCE's reference x86 path is several times slower than indirect BGEMM + XNNPACK.
    assert slow.median_ms > fast.median_ms


def test_worker_is_pinned_to_the_cores_asked_for(tiny_tflite):
    m = measure(tiny_tflite, get_device("host", cpus=(0,)), max_seconds=2)
    assert m.host_facts["pinned_cpus"] == [0]


def test_worker_priority(tiny_tflite):
    privileged = os.geteuid() == 0
    denied = "normal (no permission to raise priority)"
    m = measure(tiny_tflite, get_device("host"), max_seconds=1)
    assert m.host_facts["scheduling"] == ("SCHED_FIFO" if privileged else denied)
    m = measure(tiny_tflite, get_device("host", priority="high"), max_seconds=1)
    assert m.host_facts["scheduling"] == ("nice -10" if privileged else denied)
    m = measure(tiny_tflite, get_device("host", priority="normal"), max_seconds=1)
    assert m.host_facts["scheduling"] == "normal"


def test_profile_with_lce_engine_on_host_explains_itself(tiny_tflite):
    with pytest.raises(UserError, match="per-op profiles need --engine native"):
        measure(tiny_tflite, get_device("host"), profile=True, max_seconds=2)


def test_native_engine_profile_and_breakdown(tiny_tflite):
    m = measure(tiny_tflite, get_device("host", engine="native"), profile=True, max_seconds=2)
    assert m.engine == "native" and m.kernel_options == {}
    assert [r.op_type for r in m.op_profile] == [
        "CONV_2D", "LceQuantize", "LceBconv2d", "ADD", "LceQuantize", "LceBconv2d", "ADD",
        "MEAN", "FULLY_CONNECTED", "SOFTMAX",
    ]  # fmt: skip
    assert [r.category for r in m.op_profile][:3] == ["first_layer", "glue", "binary_conv"]
    assert m.op_profile[-1].category == "last_layer"
    assert sum(r.share for r in m.op_profile) == pytest.approx(1.0)
    assert set(m.breakdown_ms) == {"first_layer", "binary_conv", "glue", "last_layer"}
    assert sum(m.breakdown_ms.values()) == pytest.approx(
        sum(r.avg_ms for r in m.op_profile), abs=1e-5
    )


def test_bench_cli_records_then_answers_from_cache(tiny_tflite, tmp_path):
    db = f"sqlite:///{tmp_path}/lat.db"
    args = ("bench", str(tiny_tflite), "--db", db, "--max-seconds", "2")
    first = run_cli(*args, "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    measured = json.loads(first.stdout)
    assert measured["source"] == "measured" and measured["median_ms"] > 0

    cached = json.loads(run_cli(*args, "--json", cwd=tmp_path).stdout)
    assert cached["source"] == "cache"
    assert cached["median_ms"] == measured["median_ms"]

    # A different thread count is another key: measured, not cached.
    other = json.loads(run_cli(*args, "--threads", "2", "--json", cwd=tmp_path).stdout)
    assert other["source"] == "measured" and other["threads"] == 2
    fresh = json.loads(run_cli(*args, "--fresh", "--json", cwd=tmp_path).stdout)
    assert fresh["source"] == "measured"

    from lce_nas.latency_db import LatencyStore

    store = LatencyStore(db)
    rows = store.measurement_rows(fingerprint=measured["fingerprint"])
    assert len(rows) == 3
    assert [d["name"] for d in store.devices()] == ["host"]

    table = run_cli(*args, cwd=tmp_path, env={"COLUMNS": "120"})
    assert table.returncode == 0
    assert "from the database cache" in table.stdout and "median" in table.stdout


def test_bench_native_profile_table(tiny_tflite, tmp_path):
    proc = run_cli(
        "bench", str(tiny_tflite), "--engine", "native", "--profile", "--max-seconds", "2",
        "--db", f"sqlite:///{tmp_path}/lat.db", cwd=tmp_path, env={"COLUMNS": "120"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for word in ("breakdown", "first_layer", "binary_conv", "glue", "last_layer", "native"):
        assert word in proc.stdout


@pytest.mark.slow
def test_bench_from_space_records_architecture(tmp_path):
    db = f"sqlite:///{tmp_path}/lat.db"
    proc = run_cli(
        "bench", "--space", "quicknet", "--preset", "quicknet-small", "--max-seconds", "3",
        "--db", db, "--json", cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    from lce_nas.latency_db import LatencyStore
    from lce_nas.space import get_space

    space = get_space("quicknet")
    assert m["fingerprint"] == space.fingerprint(space.preset("quicknet-small"))
    arch = LatencyStore(db).architecture(m["fingerprint"])
    assert arch["space"] == "quicknet" and arch["parameters"] > 10_000_000


def test_native_engine_missing_is_a_clear_error(monkeypatch):
    import sys

    from lce_nas.engine import measurement_key, native

    # As on an installation whose native extension was not built.
    monkeypatch.setitem(sys.modules, "lce_nas.engine.native._native", None)
    assert not native.is_available()
    with pytest.raises(UserError, match=r"the native engine is not available .*--engine lce"):
        measurement_key(get_device("host", engine="native"))
    with pytest.raises(UserError, match=r"the native engine is not available"):
        native.available_kernels()


def test_bench_from_space_at_two_deploy_shapes_keeps_two_latencies(tmp_path):
    db = f"sqlite:///{tmp_path}/lat.db"
    args = ("bench", "--space", "birealnet", "--preset", "birealnet", "--db", db)
    args += ("--max-seconds", "0.5", "--classes", "2", "--json")

    def bench(shape: str) -> dict:
        result = run_cli(*args, "--input-shape", shape, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    grey = bench("32x32x1")
    assert grey["source"] == "measured" and grey["deploy_shape"] == "32x32x1/2"
    # Same architecture and device, another shape: timed again, never the cached latency.
    rgb = bench("48x48x3")
    assert rgb["source"] == "measured" and rgb["deploy_shape"] == "48x48x3/2"
    assert rgb["fingerprint"] == grey["fingerprint"]
