"""Native engine vs LCE's fastest x86 path on the QuickNet presets at 224x224.

For each preset and thread count, the two engines run alternately in one process
(native, LCE, native, LCE, ...) so machine noise hits both alike; each reports the median
and p10/p90 of at least 30 runs, and the ratio of medians. LCE runs with
``use_indirect_bgemm=True, use_xnnpack=True`` (its fastest path on x86). A second table
gives the binary-MAC throughput of the LceBconv2d ops (from the native per-op profile)
against one core's xor-popcount peak measured on registers.

    python benchmarks/native_vs_lce.py                      # all presets, 1 and 2 threads
    python benchmarks/native_vs_lce.py --presets quicknet-small --threads 1 --runs 50
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

import lce_nas  # noqa: F401  (Keras 2 before TensorFlow)


def _stats(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples)
    return {
        "median_ms": float(np.median(arr)),
        "p10_ms": float(np.percentile(arr, 10)),
        "p90_ms": float(np.percentile(arr, 90)),
        "runs": len(samples),
    }


def _convert(preset: str) -> bytes:
    from lce_nas.engine.convert import convert_model
    from lce_nas.space import get_space

    space = get_space("quicknet")
    return convert_model(space.build_deploy(space.preset(preset)))


def _binary_macs(plan) -> int:
    """kh * kw * cin * cout * out_h * out_w summed over the LceBconv2d ops."""
    total = 0
    for op in plan.ops:
        if op.type != "LceBconv2d":
            continue
        filt = plan.tensors[op.inputs[1]].shape
        out = plan.tensors[op.outputs[0]].shape
        total += filt[0] * filt[1] * filt[2] * int(op.options["channels_in"]) * out[1] * out[2]
    return total


def compare(tflite: bytes, threads: int, runs: int, warmup: int) -> dict:
    """Alternate native and LCE inferences; return both distributions and the ratio."""
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
        "threads": threads,
        "native": n,
        "lce": lc,
        "speedup": lc["median_ms"] / n["median_ms"],
        "max_abs_diff": max_diff,
        "kernels": model.kernels,
        "engine_version": model.engine_version,
    }


def bconv_throughput(tflite: bytes, runs: int) -> dict:
    """Binary MACs per second of the LceBconv2d ops, single thread, from the op profile."""
    from lce_nas.engine import native

    model = native.load(tflite, num_threads=1)
    x = np.zeros(model.input_shapes[0], np.float32)
    # Best of several profiles: the kernel's speed, not the machine's noise.
    best = min(
        sum(r.microseconds for r in model.profile(x, runs=10) if r.op_type == "LceBconv2d")
        for _ in range(max(1, runs // 10))
    )
    macs = _binary_macs(model._plan)
    return {"binary_macs": macs, "bconv_us": best, "macs_per_s": macs / (best * 1e-6)}


def main() -> None:
    """Run the comparison and print both tables (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presets", nargs="+", default=["quicknet-small", "quicknet", "quicknet-large"]
    )
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if args.runs < 30:
        parser.error("--runs must be at least 30")

    from lce_nas.engine import native

    peak = native.popcount_peak_macs_per_s()
    print(f"host: {platform.processor() or platform.machine()}, kernels: {native.engine_version()}")
    print(f"xor-popcount peak, one core: {peak / 1e9:.0f} G binary MAC/s")
    print()
    header = f"{'model':<16}{'thr':>4}{'native ms (p10-p90)':>24}{'LCE ms (p10-p90)':>24}{'x':>7}"
    print(header)
    results = []
    for preset in args.presets:
        tflite = _convert(preset)
        for threads in args.threads:
            r = compare(tflite, threads, args.runs, args.warmup)
            n, lc = r["native"], r["lce"]
            print(
                f"{preset:<16}{threads:>4}"
                f"{n['median_ms']:>9.2f} ({n['p10_ms']:.2f}-{n['p90_ms']:.2f})".rjust(24)
                + f"{lc['median_ms']:>9.2f} ({lc['p10_ms']:.2f}-{lc['p90_ms']:.2f})".rjust(24)
                + f"{r['speedup']:>7.1f}",
                flush=True,
            )
            results.append({"preset": preset, **r})
        t = bconv_throughput(tflite, args.runs)
        share = t["macs_per_s"] / peak if peak else float("nan")
        print(
            f"{'':<16}LceBconv2d: {t['binary_macs'] / 1e9:.2f} G MACs in {t['bconv_us'] / 1e3:.2f}"
            f" ms = {t['macs_per_s'] / 1e9:.0f} G MAC/s ({share:.0%} of peak)",
            flush=True,
        )
        results[-1]["bconv"] = t
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peak_macs_per_s": peak, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
