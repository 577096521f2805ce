"""A default-budget search on a calibrated database: how many of its conversions lie inside
the reference box, and how many the predictor saved.

Copies the database ``benchmarks/latency_predictor.py`` calibrated (so the
search starts with a trained predictor and leaves that database as it was),
runs ``lce-nas search`` with its defaults once per ``--seeds`` seed, and writes
one JSON line per trial (measured and predicted latency, why it is infeasible),
one summary per search and their total; asserts nothing:

    python benchmarks/predictor_search.py [--db benchmarks/latency_predictor.db] [--seeds 2,3,4]
        [-o benchmarks/predictor_search.jsonl]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _search(db_file: str, seed: int) -> tuple[list[dict], dict]:
    """A default-budget search of ``seed`` on a copy of ``db_file``: trial rows, summary."""
    import optuna
    from lce_nas.search.record import record_from_frozen

    with tempfile.TemporaryDirectory() as work:
        db = Path(work) / "lce-nas.db"
        shutil.copyfile(db_file, db)
        url = f"sqlite:///{db}"
        started = time.monotonic()
        search = [sys.executable, "-m", "lce_nas.cli", "search", "--space", "quicknet",
                  "--device", "host", "--seed", str(seed), "--db", url]  # fmt: skip
        subprocess.run(search, cwd=work, check=True)
        wall_s = time.monotonic() - started
        study = optuna.load_study(study_name="quicknet-host", storage=url)
        reference = study.user_attrs["lce_nas"]["reference_point"]["latency_ms"]
        records = [record_from_frozen(t) for t in study.get_trials()]
    rows = []
    for r in records:
        rows.append({
            "kind": "trial", "seed": seed, "number": r.number, "preset": r.preset,
            "fingerprint": r.fingerprint,
            # Converted and timed now: not answered from the database, not predicted out.
            "converted": r.median_ms is not None and not (r.cached or {}).get("latency", False),
            "cached_latency": bool(r.cached and r.cached.get("latency")),
            "measured_ms": r.median_ms, "predicted": r.prediction,
            "infeasible_reason": r.infeasible, "inside_reference_box": (
                r.median_ms is not None and r.median_ms <= reference),
        })  # fmt: skip
    return rows, {"kind": "summary", "seed": seed, "reference_ms": reference, "wall_s": wall_s,
                  **_counts(rows)}  # fmt: skip


def _counts(rows: list[dict]) -> dict[str, int]:
    proposals = [r for r in rows if r["kind"] == "trial" and r["preset"] is None]
    converted = [r for r in proposals if r["converted"]]
    return {
        "proposals": len(proposals), "converted": len(converted),
        "converted_inside_box": sum(r["inside_reference_box"] for r in converted),
        "predicted_out": sum(bool(r["infeasible_reason"]) for r in proposals),
        "cache_hits": sum(r["cached_latency"] for r in proposals),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="benchmarks/latency_predictor.db", help="a SQLite file")
    parser.add_argument("--seeds", default="2", help="one search per seed, e.g. 2,3,4")
    parser.add_argument("-o", "--output", default="benchmarks/predictor_search.jsonl")
    args = parser.parse_args(argv)
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    rows: list[dict] = []
    summaries = []
    for seed in (int(s) for s in args.seeds.split(",")):
        trials, summary = _search(args.db, seed)
        rows += trials
        summaries.append(summary)
        print(json.dumps(summary))
    total = {"kind": "total", "seeds": args.seeds, **_counts(rows)}
    with Path(args.output).open("w") as handle:
        for row in [*rows, *summaries, total]:
            handle.write(json.dumps({**row, "command": command}) + "\n")
    print(json.dumps(total, indent=2))
    print(f"rows in {args.output}; made by: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
