"""Native engine vs LCE's fastest x86 path on every space's presets and sampled configs.

Each model is converted once by LCE and run by both engines alternately in one process
(native, LCE, native, LCE, ...), so machine noise hits both alike; each engine reports
the median and p10/p90 of at least 30 runs, and the row the ratio of medians. LCE runs
with ``use_indirect_bgemm=True, use_xnnpack=True``, its fastest path on x86.

A model's *floor* is the time its work would take at one core's measured peaks: binary
MACs over the xor-popcount peak plus float MACs over the FMA peak (both from register-only
loops in the native extension; the MACs are the space's closed-form counts, larq's
convention). ``floor_share`` is floor / (threads x median): 1.0 would be every cycle of
every core doing useful arithmetic. Rows (one per peak, one per model and thread count)
go to ``--results`` as JSON lines; the tables are recomputed from them.

    python benchmarks/native_vs_lce.py                       # every space, 1 and 2 threads
    python benchmarks/native_vs_lce.py --spaces quicknet --sampled 0 --threads 1 --runs 50
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import time
from typing import Any

import numpy as np

import lce_nas  # noqa: F401  (Keras 2 before TensorFlow)

SPACES = ("quicknet", "birealnet", "binarydensenet", "realtobinary")


def _stats(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples)
    return {
        "median_ms": float(np.median(arr)),
        "p10_ms": float(np.percentile(arr, 10)),
        "p90_ms": float(np.percentile(arr, 90)),
        "runs": len(samples),
    }


def floor_ms(binary_macs: int, float_macs: int, peaks: dict[str, float]) -> float | None:
    """One core's time for the work at the measured peaks, in ms (None without them).

    Example:
        >>> floor_ms(2 * 10**9, 10**9, {"popcount_macs_per_s": 2e12, "fma_macs_per_s": 1e11})
        11.0
    """
    if not peaks["popcount_macs_per_s"] or not peaks["fma_macs_per_s"]:
        return None
    seconds = binary_macs / peaks["popcount_macs_per_s"] + float_macs / peaks["fma_macs_per_s"]
    return seconds * 1e3


#: Binary MACs per float MAC of work when choosing sampled configs: about one core's peak
#: ratio on AVX-512 hosts, fixed so that a run's configs never depend on its peaks.
BINARY_MACS_PER_FLOAT_MAC = 20


def candidates(space_name: str, sampled: int, seed: int):
    """``(label, preset, config)`` of the space's presets, then of ``sampled`` configs.

    Sampled configs are drawn at random (seed ``seed``) and kept where their work is at
    most twice the largest preset's: the configs a search keeps.
    """
    import optuna
    from lce_nas.space import get_space

    space = get_space(space_name)

    def work(config: Any) -> float:
        summary = space.describe(config)
        return summary.binary_macs / BINARY_MACS_PER_FLOAT_MAC + summary.float_macs

    presets = space.presets()
    for name, config in presets.items():
        yield name, name, config
    limit = 2 * max(work(c) for c in presets.values())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    kept = 0
    for _ in range(200 * max(1, sampled)):
        if kept == sampled:
            break
        config = space.suggest(study.ask())
        if space.preset_name(config) is None and work(config) <= limit:
            yield f"sampled-{kept}", None, config
            kept += 1


def compare(tflite: bytes, threads: int, runs: int, warmup: int) -> dict[str, Any]:
    """Alternate native and LCE inferences; both distributions and the ratio of medians."""
    from larq_compute_engine.tflite.python.interpreter import Interpreter
    from lce_nas.engine import native

    model = native.load(tflite, num_threads=threads)
    lce = Interpreter(tflite, num_threads=threads, use_indirect_bgemm=True, use_xnnpack=True)
    x = np.random.RandomState(0).uniform(-1, 1, model.input_shapes[0]).astype(np.float32)
    got, want = model.run(x), lce.predict(x)
    max_diff = float(np.abs(got - want).max())
    for _ in range(warmup):
        model.run(x)
        lce.predict(x)
    native_ms: list[float] = []
    lce_ms: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        model.run(x)
        native_ms.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        lce.predict(x)
        lce_ms.append((time.perf_counter() - start) * 1e3)
    n, lc = _stats(native_ms), _stats(lce_ms)
    return {
        "native": n,
        "lce": lc,
        "speedup": lc["median_ms"] / n["median_ms"],
        "max_abs_diff": max_diff,
        "kernels": model.kernels,
        "engine_version": model.engine_version,
    }


def op_profile(tflite: bytes, runs: int) -> dict[str, Any]:
    """The single-thread native profile: microseconds per op type, and the binary convs' share.

    The input is random, as in :func:`compare`: a constant one would let branches in the
    glue predict perfectly and hide their cost.
    """
    from lce_nas.engine import native

    model = native.load(tflite, num_threads=1)
    x = np.random.RandomState(0).uniform(-1, 1, model.input_shapes[0]).astype(np.float32)
    # Best of several profiles: the kernels' speed, not the machine's noise.
    profiles = [model.profile(x, runs=10) for _ in range(max(1, runs // 10))]
    best = min(profiles, key=lambda rows: sum(r.microseconds for r in rows))
    by_type: dict[str, float] = {}
    for r in best:
        by_type[r.op_type] = by_type.get(r.op_type, 0.0) + r.microseconds
    total = sum(by_type.values())
    bconv = by_type.get("LceBconv2d", 0.0)
    return {"profile_us": total, "op_us": by_type, "bconv_share": bconv / total}


def peaks_of_this_engine() -> dict[str, float]:
    """One core's measured peaks; 0 for the FMA peak of an engine built before it existed."""
    from lce_nas.engine import native

    try:
        fma = native.fma_peak_macs_per_s()
    except AttributeError:  # an older build of the extension, timed for comparison
        fma = 0.0
    return {"popcount_macs_per_s": native.popcount_peak_macs_per_s(), "fma_macs_per_s": fma}


def geomean(values: list[float]) -> float:
    """Geometric mean (nan for no values).

    Example:
        >>> round(geomean([2.0, 8.0]), 6)
        4.0
    """
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else math.nan


def summarize(rows: list[dict[str, Any]]) -> None:
    """Print the per-model table and, per thread count, the geomean and worst ratio."""
    header = (
        f"{'space':<15}{'model':<27}{'thr':>4}{'native ms (p10-p90)':>24}"
        f"{'LCE ms (p10-p90)':>24}{'x':>7}{'floor ms':>10}{'of floor':>10}"
    )
    print(header)
    for r in rows:
        if r.get("kind") != "model":
            continue
        if "error" in r:
            print(f"{r['space']:<15}{r['model']:<27}{r['threads']:>4}  {r['error']}")
            continue
        n, lc = r["native"], r["lce"]
        print(
            f"{r['space']:<15}{r['model']:<27}{r['threads']:>4}"
            + f" {n['median_ms']:.2f} ({n['p10_ms']:.2f}-{n['p90_ms']:.2f})".rjust(24)
            + f" {lc['median_ms']:.2f} ({lc['p10_ms']:.2f}-{lc['p90_ms']:.2f})".rjust(24)
            + f"{r['speedup']:>7.1f}"
            + (f"{r['floor_ms']:>10.2f}{r['floor_share']:>10.0%}" if r["floor_ms"] else "")
        )
    for threads in sorted({r["threads"] for r in rows if r.get("kind") == "model"}):
        done = [r for r in rows if r.get("threads") == threads and "speedup" in r]
        if not done:
            continue
        worst = min(done, key=lambda r: r["speedup"])
        mean = geomean([r["speedup"] for r in done])
        shares = [r["floor_share"] for r in done if r["floor_share"] is not None]
        reached = f", floor reached {min(shares):.0%}-{max(shares):.0%}" if shares else ""
        print(
            f"{threads} thread(s): {len(done)} models, geomean {mean:.2f}x,"
            f" lowest {worst['speedup']:.2f}x ({worst['space']} {worst['model']}){reached}"
        )


def main() -> None:
    """Measure, write the rows and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=list(SPACES), choices=SPACES)
    parser.add_argument("--sampled", type=int, default=2, help="sampled configs per space")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled configs")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--results", default="benchmarks/native_vs_lce.jsonl")
    parser.add_argument("--summarize", action="store_true", help="only print --results' tables")
    args = parser.parse_args()
    if args.summarize:
        with open(args.results) as f:
            summarize([json.loads(line) for line in f])
        return
    if args.runs < 30:
        parser.error("--runs must be at least 30")

    import larq_compute_engine
    from lce_nas.engine import native
    from lce_nas.engine.convert import convert_model
    from lce_nas.space import get_space

    command = shlex.join(["python", *sys.argv])
    host = {"cpu": platform.processor() or platform.machine(), "command": command}
    peaks = peaks_of_this_engine()
    rows: list[dict[str, Any]] = [{"kind": "peak", **peaks, **host}]
    print(
        f"one core's peaks: {peaks['popcount_macs_per_s'] / 1e9:.0f} G binary MAC/s,"
        f" {peaks['fma_macs_per_s'] / 1e9:.0f} G float MAC/s",
        flush=True,
    )
    with open(args.results, "w") as out:
        out.write(json.dumps(rows[0]) + "\n")
        for space_name in args.spaces:
            space = get_space(space_name)
            for label, preset, config in candidates(space_name, args.sampled, args.seed):
                summary = space.describe(config)
                floor = floor_ms(summary.binary_macs, summary.float_macs, peaks)
                tflite = convert_model(space.build_deploy(config))
                base = {
                    "kind": "model",
                    "space": space_name,
                    "model": label,
                    "preset": preset,
                    "fingerprint": space.fingerprint(config),
                    "params": space.to_params(config),
                    "binary_macs": summary.binary_macs,
                    "float_macs": summary.float_macs,
                    "floor_ms": floor,
                    "lce_version": larq_compute_engine.__version__,
                    **host,
                }
                for threads in args.threads:
                    row = {**base, "threads": threads}
                    try:
                        row.update(compare(tflite, threads, args.runs, args.warmup))
                        median = row["native"]["median_ms"]
                        row["floor_share"] = floor / (threads * median) if floor else None
                        if threads == 1:
                            row.update(op_profile(tflite, args.runs))
                    except native.NativeModelError as e:
                        row["error"] = str(e)
                    rows.append(row)
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    print(
                        f"{space_name} {label} x{threads}: "
                        + (row["error"] if "error" in row else f"{row['speedup']:.2f}x"),
                        flush=True,
                    )
    print()
    summarize(rows)
    print(f"\nrows in {args.results}; made by: {command}")


if __name__ == "__main__":
    main()
