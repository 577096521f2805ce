"""The CLI with the native engine on hostile models: one ``error:`` line, no latency kept."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz import CORPUS

LCE_NAS = str(Path(sys.executable).with_name("lce-nas"))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CONFIG_HOME": str(cwd / ".config")}
    return subprocess.run(
        [LCE_NAS, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def _refused(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in lines[0]


_QUICK = ("--num_runs=2", "--warmup_runs=1", "--min_secs=0", "--warmup_min_secs=0")


def test_benchmark_model_native_times_a_good_model(tmp_path):
    proc = _cli(
        "benchmark-model", f"--graph={CORPUS / 'quicknet_tiny.tflite'}", "--engine=native", *_QUICK,
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Inference timings in us" in proc.stdout


@pytest.mark.parametrize("name", ["softmax_output", "pad_negative", "depthwise_no_channels"])
def test_benchmark_model_native_refuses_a_hostile_model(tmp_path, name):
    graph = CORPUS / f"targeted_{name}.tflite"
    proc = _cli("benchmark-model", f"--graph={graph}", "--engine=native", *_QUICK, cwd=tmp_path)
    _refused(proc, "cannot load the model")
    assert "Inference timings" not in proc.stdout


def test_bench_native_refuses_a_hostile_model_and_records_nothing(tmp_path):
    db = tmp_path / "latency.db"
    model = CORPUS / "targeted_softmax_output.tflite"
    proc = _cli(
        "bench", str(model), "--device", "host", "--engine", "native", "--max-seconds", "2",
        "--db", f"sqlite:///{db}", cwd=tmp_path,
    )  # fmt: skip
    _refused(proc, "SOFTMAX")
    if db.exists():
        with sqlite3.connect(db) as conn:
            tables = {r[0] for r in conn.execute("select name from sqlite_master")}
            if "latency_measurements" in tables:
                rows = conn.execute("select count(*) from latency_measurements").fetchone()[0]
                assert rows == 0
