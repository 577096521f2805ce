"""Bad input to ``lce-nas bench`` and ``benchmark-model``: one line, ``error: ...``, exit 2."""

from __future__ import annotations

import pytest
from cli_support import one_line_error
from engine_support import run_cli


def _one_line_error(proc, *fragments: str) -> str:
    return one_line_error(proc.returncode, proc.stderr, *fragments)


@pytest.fixture
def workdir(tmp_path):
    return tmp_path


def test_non_tflite_file(workdir):
    (workdir / "notes.tflite").write_text("these are not weights\n")
    proc = run_cli("bench", "notes.tflite", cwd=workdir)
    _one_line_error(proc, "not a TFLite model")


def test_truncated_model(workdir, tiny_tflite):
    data = tiny_tflite.read_bytes()
    (workdir / "cut.tflite").write_bytes(data[: len(data) // 2])
    _one_line_error(run_cli("bench", "cut.tflite", cwd=workdir), "corrupt TFLite model")
    (workdir / "garbled.tflite").write_bytes(data[:8] + b"\xff" * 64)
    _one_line_error(run_cli("bench", "garbled.tflite", cwd=workdir), "corrupt TFLite model")


def test_missing_file(workdir):
    _one_line_error(run_cli("bench", "nowhere.tflite", cwd=workdir), "model file not found")
    proc = run_cli("benchmark-model", "--graph=nowhere.tflite", cwd=workdir)
    _one_line_error(proc, "model file not found")


def test_unknown_device(workdir, tiny_tflite):
    proc = run_cli("bench", str(tiny_tflite), "--device", "pixel9", cwd=workdir)
    _one_line_error(proc, "unknown device 'pixel9'", "[devices.pixel9]")


def test_incomplete_profile(workdir, tiny_tflite):
    proc = run_cli("bench", str(tiny_tflite), "--device", "rpi4", cwd=workdir)
    _one_line_error(proc, "device 'rpi4' is incomplete", "devices.rpi4 = {", "--device-host")


def test_model_and_space_are_exclusive(workdir, tiny_tflite):
    proc = run_cli("bench", str(tiny_tflite), "--space", "quicknet", cwd=workdir)
    _one_line_error(proc, "either MODEL.tflite or --space")
    _one_line_error(run_cli("bench", cwd=workdir), "either MODEL.tflite or --space")
    proc = run_cli("bench", "--space", "quicknet", cwd=workdir)
    _one_line_error(proc, "needs --preset")


def test_engine_option_only_for_host(workdir, tiny_tflite):
    proc = run_cli(
        "bench", str(tiny_tflite), "--device", "android", "--engine", "native", cwd=workdir
    )
    _one_line_error(proc, "--engine applies to host devices")


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--num_runs=-1", "'--num_runs': -1 is not in the range x>=1"),
        ("--num_runs=0", "'--num_runs': 0 is not in the range x>=1"),
        ("--num_threads=0", "'--num_threads': 0 threads (use 1 or more, or -1"),
        ("--num_threads=-3", "'--num_threads': -3 threads"),
        ("--max_secs=-1", "'--max_secs': -1.0 is not in the range x>0"),
        ("--max_secs=nan", "'--max_secs': 'nan' is not a finite number"),
        ("--warmup_runs=-2", "'--warmup_runs': -2 is not in the range x>=0"),
        ("--min_secs=-1", "'--min_secs': -1.0 is not in the range x>=0"),
    ],
)
def test_benchmark_model_refuses_counts_and_times_out_of_range(workdir, tiny_tflite, flag, message):
    # The bad flag comes last, so it wins over the short run asked for before it.
    proc = run_cli("benchmark-model", f"--graph={tiny_tflite}", "--min_secs=0", flag, cwd=workdir)
    _one_line_error(proc, message, "lce-nas benchmark-model --help")
    assert "Inference timings" not in proc.stdout


def test_benchmark_model_checks_the_profile_csv_path_before_timing(workdir, tiny_tflite):
    proc = run_cli(
        "benchmark-model", f"--graph={tiny_tflite}", "--engine=native",
        "--enable_op_profiling=true", "--profiling_output_csv_file=/proc/ops.csv", cwd=workdir,
    )  # fmt: skip
    _one_line_error(proc, "--profiling_output_csv_file /proc/ops.csv: cannot write there")
    assert "Inference timings" not in proc.stdout
