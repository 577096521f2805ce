"""``lce-nas benchmark-model``: lce_benchmark_model's flags and output, on this machine."""

from __future__ import annotations

import re

from engine_support import run_cli
from lce_nas.engine.bm_output import parse_benchmark_output


def test_summary_line_and_counts(tiny_tflite, tmp_path):
    proc = run_cli(
        "benchmark-model", f"--graph={tiny_tflite}", "--num_threads=1", "--num_runs=30",
        "--warmup_runs=3", "--min_secs=0", "--warmup_min_secs=0", "--use_xnnpack=true",
        "--use_indirect_bgemm=true", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "INFO: STARTING!"
    assert "INFO: Use xnnpack: [1]" in lines and "INFO: Use indirect BGEMM: [1]" in lines
    summary = [ln for ln in lines if "Inference timings in us:" in ln]
    assert len(summary) == 1
    assert re.fullmatch(
        r"INFO: Inference timings in us: Init: \d+, First inference: \d+, "
        r"Warmup \(avg\): [\d.e+]+, Inference \(avg\): [\d.e+]+",
        summary[0],
    )
    counts = [ln for ln in lines if ln.startswith("INFO: count=")]
    assert len(counts) == 2
    out = parse_benchmark_output(proc.stdout)
    assert out.runs == 30 and out.warmup_runs == 3
    assert out.inference_avg_us > 0 and out.ops is None
    # The count line's avg and the summary agree, as in TFLite's tool.
    avg = float(re.search(r"avg=([\d.e+]+)", counts[1]).group(1))
    assert avg == out.inference_avg_us


def test_op_tables_with_native_engine(tiny_tflite, tmp_path):
    proc = run_cli(
        "benchmark-model", f"--graph={tiny_tflite}", "--num_runs=5", "--min_secs=0",
        "--warmup_min_secs=0", "--enable_op_profiling=true", "--engine=native", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Operator-wise Profiling Info for Regular Benchmark Runs:" in proc.stdout
    assert "\t             [node type]\t  [first]\t [avg ms]" in proc.stdout
    out = parse_benchmark_output(proc.stdout)
    assert [r.node_type for r in out.ops][:3] == ["CONV_2D", "LceQuantize", "LceBconv2d"]
    assert len(out.ops) == 10
    assert {"Run Order", "Top by Computation Time"} <= set(out.tables)


def test_op_profiling_with_lce_engine_says_what_to_do(tiny_tflite, tmp_path):
    proc = run_cli(
        "benchmark-model", f"--graph={tiny_tflite}", "--enable_op_profiling=true", cwd=tmp_path
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --enable_op_profiling needs --engine=native")


def test_unknown_flag_is_refused(tiny_tflite, tmp_path):
    proc = run_cli("benchmark-model", f"--graph={tiny_tflite}", "--use_gpu=true", cwd=tmp_path)
    assert proc.returncode == 2 and "use_gpu" in proc.stderr
