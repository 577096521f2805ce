"""How well the latency predictor predicts models it never saw, per latency key.

Calibrates on the presets and ``--calibrate`` configs of one seed (as
``lce-nas calibrate`` does, every measurement cached in ``--db``), then
measures configs of another seed until ``--evaluate`` of them lie within
twice QuickNetLarge's measured latency, and predicts each from a fit that
saw only the calibration set. Also fits on the first 10, 20, ... calibration
models (the learning curve that sets the search's threshold). Writes one
JSON line per evaluated model and key, one per learning-curve point and one
summary per key (with how many timings the speed sentinel flagged as run on a
slowed core: those are left out of training and evaluation); asserts nothing:

    python benchmarks/latency_predictor.py [--space quicknet] [--calibrate 60] [--evaluate 30]
        [--seeds 0,1] [--db sqlite:///benchmarks/latency_predictor.db]
        [-o benchmarks/latency_predictor.jsonl]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import optuna
from lce_nas.engine.devices import get_device
from lce_nas.engine.measuring import measurement_key
from lce_nas.latency_db import LatencyStore
from lce_nas.predictor.calibration import calibration_configs, measure_configs
from lce_nas.predictor.model import error_summary, fit
from lce_nas.predictor.training import TrainingSet, training_set
from lce_nas.space import get_space

LEARNING_CURVE = (10, 20, 30, 40, 60)


def _keys(device):
    """The key the device is timed under, and the native engine's (its profiles) on the host."""
    keys = {"lce": measurement_key(device)}
    if device.kind == "host":
        keys["native"] = measurement_key(dataclasses.replace(device, engine="native"))
    return keys


def _fit_on(training: TrainingSet, fingerprints: list[str]):
    wanted = set(fingerprints)
    examples = tuple(e for e in training.examples if e.fingerprint in wanted)
    return fit(dataclasses.replace(training, examples=examples))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--space", default="quicknet")
    parser.add_argument("--device", default="host")
    parser.add_argument("--calibrate", type=int, default=60)
    parser.add_argument("--evaluate", type=int, default=30)
    parser.add_argument("--seeds", default="0,1", help="calibration seed, evaluation seed")
    parser.add_argument("--db", default="sqlite:///benchmarks/latency_predictor.db")
    parser.add_argument("-o", "--output", default="benchmarks/latency_predictor.jsonl")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cal_seed, eval_seed = (int(s) for s in args.seeds.split(","))
    space, device = get_space(args.space), get_device(args.device)
    store = LatencyStore(args.db)
    keys = _keys(device)
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])

    def progress(result):
        print(f"  {result[0][:12]} {result[2]:8.2f} ms {'(cached)' if result[1] else ''}")

    print(f"calibrating: presets + {args.calibrate} configs of seed {cal_seed}")
    calibration = [*space.presets().values()]
    calibration += calibration_configs(space, args.calibrate, cal_seed)
    measure_configs(space, calibration, device, args.db, on_result=progress)
    calibrated = [space.fingerprint(c) for c in calibration]
    largest = (
        space.fingerprint(space.preset("quicknet-large")) if args.space == "quicknet" else None
    )

    def median(fingerprint, key):
        row = store.lookup_measurement_row(fingerprint, key)
        return None if row is None else row["median_ms"]

    reference = {
        name: 2 * (median(largest, key) if largest else max(median(f, key) for f in calibrated))
        for name, key in keys.items()
    }
    print(f"evaluating: configs of seed {eval_seed} within 2x the largest preset {reference}")
    inside: list[str] = []
    pool = [
        c for c in calibration_configs(space, 10 * args.evaluate, eval_seed)
        if space.fingerprint(c) not in set(calibrated)
    ]  # fmt: skip
    for start in range(0, len(pool), 8):
        if len(inside) >= args.evaluate:
            break
        batch = pool[start : start + 8]
        for fingerprint, _cached, ms in measure_configs(
            space, batch, device, args.db, on_result=progress
        ):
            if ms <= reference["lce"] and len(inside) < args.evaluate:
                inside.append(fingerprint)

    rows = []
    header = {"space": args.space, "device": args.device, "command": command}
    for name, key in keys.items():
        training = training_set(store, space, key)
        predictor = _fit_on(training, calibrated)
        by_fp = {e.fingerprint: e for e in training.examples}
        # A model whose every timing ran on a slowed core has no clean latency to check.
        slowed = [f for f in inside if f not in by_fp]
        rows += [{"kind": "left_out", "key_name": name, "fingerprint": f,
                  "reason": "every timing ran on a slowed core"} for f in slowed]  # fmt: skip
        evaluated = [f for f in inside if f in by_fp]
        pairs = []
        for fingerprint in evaluated:
            example = by_fp[fingerprint]
            prediction = predictor.predict(example.kernels)
            error = prediction.median_ms / example.median_ms - 1
            pairs.append((example.median_ms, prediction.median_ms))
            rows.append({
                "kind": "evaluated", "key_name": name, "key": key.to_dict(),
                "fingerprint": fingerprint, "measured_ms": example.median_ms,
                "predicted_ms": prediction.median_ms, "low_ms": prediction.low_ms,
                "high_ms": prediction.high_ms, "error_pct": 100 * error,
                "within_10pct": abs(error) <= 0.10,
                "in_interval": prediction.low_ms <= example.median_ms <= prediction.high_ms,
            })  # fmt: skip
        summary = error_summary(pairs)
        coverage = sum(
            r["in_interval"] for r in rows if r["kind"] == "evaluated" and r["key_name"] == name
        ) / max(1, len(pairs))
        for size in LEARNING_CURVE:
            if size > len(calibrated):
                continue
            partial = _fit_on(training, calibrated[:size])
            curve = [(by_fp[f].median_ms, partial.point(by_fp[f].kernels)) for f in evaluated]
            rows.append({"kind": "learning_curve", "key_name": name, "calibration_models": size,
                         **error_summary(curve)})  # fmt: skip
        rows.append({
            "kind": "summary", "key_name": name, "key": key.to_dict(),
            "calibration_models": len(calibrated), "evaluated": len(pairs),
            "slowed_measurements": training.slowed, "slowed_models": len(slowed),
            "reference_ms": reference[name], "features": predictor.features,
            "cross_validated": predictor.cv,
            "interval_coverage": coverage, **summary,
        })  # fmt: skip
    out = Path(args.output)
    with out.open("w") as handle:
        for row in rows:
            handle.write(json.dumps({**header, **row}) + "\n")
    print(f"\n{'key':8} {'n':>3} {'within 10 %':>11} {'median err':>10} {'p90 err':>8} "
          f"{'in 90 % interval':>16}")  # fmt: skip
    for row in rows:
        if row["kind"] == "summary":
            print(f"{row['key_name']:8} {row['n']:>3} {row['within_10pct'] * 100:>10.0f}% "
                  f"{row['median_abs_pct']:>9.1f}% {row['p90_abs_pct']:>7.1f}% "
                  f"{row['interval_coverage'] * 100:>15.0f}%")  # fmt: skip
    print("\nlearning curve (share within 10 % on the evaluation set):")
    for row in rows:
        if row["kind"] == "learning_curve":
            print(f"  {row['key_name']:8} {row['calibration_models']:>3} models: "
                  f"{row['within_10pct'] * 100:.0f} %")  # fmt: skip
    print(f"\nrows in {out}; made by: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
