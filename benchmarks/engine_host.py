"""Host latency of the QuickNet family with each LCE kernel path, and what pinning buys.

Prints two tables (asserts nothing about speed):

1. QuickNetSmall / QuickNet / QuickNetLarge (224x224x3, 1000 classes) on the
   ``host`` device, 1 thread, for each LCE kernel path (and the native engine,
   when it is built): median, p10/p90, CV and runs, beside LCE's published
   Raspberry Pi 4 numbers (1 thread).
2. QuickNet on the fastest LCE path, measured idle, then while a CPU-bound
   process spins on the other cores (outside the timing worker's reserved
   core), then, for contrast, while it spins on the reserved core itself.

    python benchmarks/engine_host.py [--max-seconds 10] [--models quicknet-small,quicknet]
                                     [--rounds 3] [--only-pinning]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

# Importing lce_nas (here via lce_nas.engine) sets up TensorFlow's environment first.
from lce_nas.engine import get_device, measure, native

# larq/compute-engine README, Raspberry Pi 4B at 1.5 GHz, 1 thread, ms.
PUBLISHED_RPI4_MS = {"quicknet-small": 27.7, "quicknet": 45.0, "quicknet-large": 77.0}

_NO = {"use_indirect_bgemm": False, "use_xnnpack": False}
KERNEL_PATHS = [
    ("LCE default (no indirect BGEMM, no XNNPACK)", _NO),
    ("indirect BGEMM", {**_NO, "use_indirect_bgemm": True}),
    ("XNNPACK", {**_NO, "use_xnnpack": True}),
    ("indirect BGEMM + XNNPACK (tool default)", {"use_indirect_bgemm": True, "use_xnnpack": True}),
    ("reference bconv + XNNPACK", {**_NO, "use_reference_bconv": True, "use_xnnpack": True}),
]


def build_models(names: list[str]) -> dict[str, bytes]:
    """Convert the presets with LCE (a few tens of seconds each)."""
    from lce_nas.engine.convert import convert_model
    from lce_nas.space import get_space

    space = get_space("quicknet")
    models = {}
    for name in names:
        t0 = time.perf_counter()
        models[name] = convert_model(space.build_deploy(space.preset(name)))
        print(f"# converted {name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return models


def _row(label: str, m, published: str = "") -> str:
    return (
        f"{label:<46} {m.median_ms:9.2f} {m.p10_ms:9.2f} {m.p90_ms:9.2f} "
        f"{m.cv * 100:6.1f}% {m.runs:6d}  {published}"
    )


def kernel_table(models: dict[str, bytes], max_seconds: float) -> None:
    """Table 1: every model on every kernel path."""
    host = get_device("host")
    print(f"\n## Host latency, 1 thread, timing worker pinned to cores {list(host.reserved_cpus)}")
    header = f"{'model / path':<46} {'median':>9} {'p10':>9} {'p90':>9} {'CV':>7} {'runs':>6}"
    print(header + "  RPi4 published (1 thread)")
    for name, tflite in models.items():
        print(f"{name} ({len(tflite) / 1e6:.1f} MB)")
        paths = list(KERNEL_PATHS)
        if native.is_available():
            paths.append(("native engine (lce-nas C++)", {"engine": "native"}))
        for label, options in paths:
            device = get_device("host", threads=1, **options)
            m = measure(tflite, device, max_seconds=max_seconds)
            print(_row("  " + label, m, f"{PUBLISHED_RPI4_MS[name]:.1f} ms"), flush=True)


def _spinner(cpus: list[int]) -> subprocess.Popen:
    code = f"import os; os.sched_setaffinity(0, {cpus!r})\nwhile True: pass"
    return subprocess.Popen([sys.executable, "-c", code])


def _measure_with_spinner(tflite: bytes, device, cpus: list[int] | None, max_seconds: float):
    spinner = _spinner(cpus) if cpus else None
    try:
        return measure(tflite, device, max_seconds=max_seconds)
    finally:
        if spinner:
            spinner.kill()
            spinner.wait()


def pinning_table(tflite: bytes, max_seconds: float, rounds: int, priority: str) -> None:
    """Table 2: idle versus a CPU-bound neighbour, on and off the reserved core.

    Conditions alternate round by round, so background load that drifts over
    minutes affects them alike; the summary is the median over rounds.
    """
    host = get_device("host", priority=priority)
    reserved = list(host.reserved_cpus)
    others = [c for c in sorted(os.sched_getaffinity(0)) if c not in reserved]
    conditions: list[tuple[str, list[int] | None]] = [("idle", None)]
    if others:
        conditions.append((f"CPU-bound process on other core(s) {others}", others))
    conditions.append((f"CPU-bound process on the reserved core {reserved}", reserved))
    print(
        f"\n## QuickNet, indirect BGEMM + XNNPACK, 1 thread, pinned to {reserved}, "
        f"priority {priority}"
    )
    print(f"{'round / condition':<46} {'median':>9} {'p10':>9} {'p90':>9} {'CV':>7} {'runs':>6}")
    medians: dict[str, list[float]] = {label: [] for label, _ in conditions}
    for round_no in range(1, rounds + 1):
        for label, cpus in conditions:
            m = _measure_with_spinner(tflite, host, cpus, max_seconds)
            medians[label].append(m.median_ms)
            print(_row(f"{round_no}: {label}", m), flush=True)
    idle = statistics.median(medians["idle"])
    print("median over rounds:")
    for label, values in medians.items():
        value = statistics.median(values)
        change = "" if label == "idle" else f"  {(value / idle - 1) * 100:+.1f}% vs idle"
        print(f"  {label:<44} {value:9.2f}{change}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-seconds", type=float, default=10.0, help="time cap per row")
    parser.add_argument("--models", default="quicknet-small,quicknet,quicknet-large")
    parser.add_argument("--rounds", type=int, default=3, help="alternations in table 2")
    parser.add_argument("--only-pinning", action="store_true", help="skip table 1")
    parser.add_argument(
        "--priority", default="realtime", choices=["normal", "high", "realtime"], help="table 2"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    models = build_models(["quicknet"] if args.only_pinning else names)
    if not args.only_pinning:
        kernel_table(models, args.max_seconds)
    quicknet = models.get("quicknet") or build_models(["quicknet"])["quicknet"]
    pinning_table(quicknet, args.max_seconds, args.rounds, args.priority)


if __name__ == "__main__":
    main()
