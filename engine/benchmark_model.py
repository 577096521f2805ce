"""``lce-nas benchmark-model``: LCE's ``lce_benchmark_model`` for any machine that runs Python.

It takes the same flags and prints the same log lines, summary line and (with
the native engine, which has per-op timers) the same op tables, so scripts and
the SSH device path treat it exactly like the C++ tool. The loops follow
TFLite's benchmark: warm up for at least ``--warmup_runs`` runs and
``--warmup_min_secs``, then time at least ``--num_runs`` runs and
``--min_secs``, stopping either loop after ``--max_secs``.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lce_nas.engine.bm_output import (
    REGULAR_PROFILE_TITLE,
    OpRow,
    format_count_line,
    format_op_tables,
    format_summary,
)
from lce_nas.engine.host_worker import (
    load_lce_wrapper,
    make_inputs,
    profile_rows,
)
from lce_nas.engine.tflite_info import load_tflite

from lce_nas.errors import UserError


@dataclass
class BenchmarkFlags:
    """The flags of ``lce_benchmark_model`` this command honours (same names, same defaults)."""

    graph: str
    num_threads: int = -1
    warmup_runs: int = 1
    warmup_min_secs: float = 0.5
    num_runs: int = 50
    min_secs: float = 1.0
    max_secs: float = 150.0
    run_delay: float = -1.0
    use_xnnpack: bool = False
    use_indirect_bgemm: bool = False
    use_reference_bconv: bool = False
    enable_op_profiling: bool = False
    profiling_output_csv_file: str = ""
    engine: str = "lce"


def _loop(step: Callable[[], None], min_runs: int, min_secs: float, max_secs: float, delay: float):
    samples_us: list[float] = []
    start = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= max_secs and samples_us:
            break
        if len(samples_us) >= min_runs and elapsed >= min_secs:
            break
        t0 = time.perf_counter_ns()
        step()
        # Whole microseconds, as TFLite's benchmark records them.
        samples_us.append(float((time.perf_counter_ns() - t0) // 1000))
        if delay > 0:
            time.sleep(delay)
    return samples_us


def run_benchmark_model(flags: BenchmarkFlags, echo: Callable[[str], None] = print) -> None:
    """Benchmark ``flags.graph`` and print what ``lce_benchmark_model`` prints.

    Example:
        >>> run_benchmark_model(BenchmarkFlags(graph="m.tflite", num_runs=10))  # doctest: +SKIP
        INFO: STARTING!
        ...
        INFO: Inference timings in us: Init: 1800, First inference: 31200, ...
    """
    if flags.engine not in ("lce", "native"):
        raise UserError(f"--engine must be lce or native, got {flags.engine!r}")
    if flags.enable_op_profiling and flags.engine != "native":
        raise UserError(
            "--enable_op_profiling needs --engine=native here (LCE's Python interpreter "
            "has no per-op timers); drop the flag or add --engine=native"
        )
    model = load_tflite(flags.graph)
    threads = flags.num_threads if flags.num_threads > 0 else 1
    echo_params(flags, threads, echo)
    inputs = make_inputs(model)
    t0 = time.perf_counter()
    if flags.engine == "native":
        from lce_nas.engine import native

        engine = native.load(flags.graph, num_threads=threads)
        run = lambda: engine.run(inputs[0])  # noqa: E731
    else:
        interp = load_lce_wrapper().LiteInterpreter(
            model, threads, flags.use_reference_bconv, flags.use_indirect_bgemm, flags.use_xnnpack
        )
        run = lambda: interp.predict(inputs)  # noqa: E731
    init_us = (time.perf_counter() - t0) * 1e6
    echo(f"INFO: The input model file size (MB): {len(model) / 1e6:g}")
    echo(f"INFO: Initialized session in {init_us / 1e3:g}ms.")

    echo(
        f"INFO: Running benchmark for at least {flags.warmup_runs} iterations and at least "
        f"{flags.warmup_min_secs:g} seconds but terminate if exceeding {flags.max_secs:g} seconds."
    )
    warm = _loop(run, flags.warmup_runs, flags.warmup_min_secs, flags.max_secs, flags.run_delay)
    echo(f"INFO: {format_count_line(warm)}\n")

    echo(
        f"INFO: Running benchmark for at least {flags.num_runs} iterations and at least "
        f"{flags.min_secs:g} seconds but terminate if exceeding {flags.max_secs:g} seconds."
    )
    timed = _loop(run, flags.num_runs, flags.min_secs, flags.max_secs, flags.run_delay)
    echo(f"INFO: {format_count_line(timed)}\n")
    echo(
        "INFO: " + format_summary(init_us, warm[0], sum(warm) / len(warm), sum(timed) / len(timed))
    )
    if flags.enable_op_profiling:
        # Per-op times come from the engine's profiler after the timed loop,
        # so its overhead stays out of the summary line.
        rows = [
            OpRow(node_type=t, name=f"[{n}]:{i}", first_ms=us / 1e3, avg_ms=us / 1e3)
            for i, (t, n, us, _share) in enumerate(profile_rows(engine, inputs[0]))
        ]
        if flags.profiling_output_csv_file:
            try:
                _write_csv(Path(flags.profiling_output_csv_file), rows)
            except OSError as err:
                raise UserError(
                    f"cannot write --profiling_output_csv_file "
                    f"{flags.profiling_output_csv_file}: {err.strerror or err}"
                ) from None
        else:
            echo(format_op_tables(rows, timed))


def echo_params(flags: BenchmarkFlags, threads: int, echo: Callable[[str], None]) -> None:
    """The parameter log lines the tool prints before loading the model.

    Example:
        >>> echo_params(BenchmarkFlags(graph="m.tflite"), 1, print)  # doctest: +ELLIPSIS
        INFO: STARTING!
        ...
        INFO: Loaded model m.tflite
    """
    echo("INFO: STARTING!")
    echo("INFO: Log parameter values verbosely: [0]")
    echo(f"INFO: Min num runs: [{flags.num_runs}]")
    echo(f"INFO: Num threads: [{threads}]")
    echo(f"INFO: Graph: [{flags.graph}]")
    if flags.enable_op_profiling:
        echo("INFO: Enable op profiling: [1]")
    echo(f"INFO: #threads used for CPU inference: [{threads}]")
    echo(f"INFO: Use xnnpack: [{int(flags.use_xnnpack)}]")
    echo(f"INFO: Use reference Bconv: [{int(flags.use_reference_bconv)}]")
    echo(f"INFO: Use indirect BGEMM: [{int(flags.use_indirect_bgemm)}]")
    echo(f"INFO: Loaded model {flags.graph}")


def _write_csv(path: Path, rows: list[OpRow]) -> None:
    total = sum(r.avg_ms for r in rows) or 1.0
    with path.open("w", newline="") as handle:
        handle.write(REGULAR_PROFILE_TITLE + "\n")
        writer = csv.writer(handle)
        writer.writerow(
            ["node type", "first", "avg_ms", "%", "cdf%", "mem KB", "times called", "name"]
        )
        cdf = 0.0
        for row in rows:
            pct = row.avg_ms * 100.0 / total
            cdf += pct
            writer.writerow(
                [
                    row.node_type,
                    f"{row.first_ms:.3f}",
                    f"{row.avg_ms:.3f}",
                    f"{pct:.3f}%",
                    f"{cdf:.3f}%",
                    "0",
                    row.times_called,
                    row.name,
                ]
            )
