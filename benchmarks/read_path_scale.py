"""How the read path scales: `lce-nas front` and the dashboard's API on large studies.

Builds, for each size, a SQLite database with one study of N trials: a few
template trials written the way a search writes them (presets, feasible,
infeasible over a size limit, failed, running), then copied in bulk into
Optuna's tables with jittered accuracy and latency. Then it times, each in
its own process, `lce-nas front --study S --json` (wall time and peak
memory), and every dashboard API call on a real `lce-nas dashboard` server:
the first (cold) call, the next ones (warm) and a poll answered
"not modified". One JSON line per measured thing goes to
``benchmarks/read_path_scale.jsonl``.

    python benchmarks/read_path_scale.py [--sizes 1000 10000 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "read_path_scale.jsonl"
STUDY = "scale"


def template_study(url: str) -> None:
    """A small study written through Optuna and the loop's record writers."""
    import optuna
    from lce_nas.search.record import write_candidate, write_failure, write_result
    from lce_nas.search.study import META_KEY
    from lce_nas.space import get_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=STUDY, storage=url, directions=["maximize", "minimize"])
    study.set_metric_names(["proxy_top1", "latency_ms"])
    presets = {"quicknet-small": "a" * 64, "quicknet": "b" * 64, "quicknet-large": "c" * 64}
    study.set_user_attr(
        META_KEY,
        {
            "space": "quicknet",
            "device": "host",
            "measurement_key": {
                "device": "host",
                "engine": "lce",
                "engine_version": "0.16.0",
                "threads": 1,
                "kernel_options": {},
            },
            "presets": presets,
            "constraints": {"max_latency_ms": None, "max_size_mb": 4.3},
            "reference_point": {"accuracy": 0.0, "latency_ms": 80.0},
        },
    )

    class _Summary:
        def __init__(self, parameters: int) -> None:
            self.parameters = parameters

        def to_dict(self) -> dict[str, Any]:
            return {
                "parameters": self.parameters,
                "binary_macs": 20 * self.parameters,
                "float_macs": self.parameters,
                "packed_bytes": self.parameters // 8,
            }

    class _Latency:
        def __init__(self, median: float) -> None:
            self.median_ms, self.p10_ms, self.p90_ms = median, median * 0.98, median * 1.03
            self.mean_ms, self.std_ms, self.cv, self.runs = median, median * 0.02, 0.02, 50

    class _Accuracy:
        def __init__(self, top1: float) -> None:
            self.top1, self.loss, self.epochs, self.train_seconds = top1, 1 - top1, 1, 30.0

    space = get_space("quicknet")
    # Every template trial holds QuickNet's architecture: the read path never rebuilds it.
    params = space.to_params(space.preset("quicknet"))
    kinds = ["feasible"] * 8 + ["infeasible", "failed"]
    for index, kind in enumerate(kinds):
        trial = study.ask()
        preset = list(presets)[index] if index < 3 else None
        if preset:
            trial.set_user_attr("preset", preset)
        write_candidate(trial, f"{index:064x}", params, _Summary(10_000_000 + index))
        trial.set_constraint("size", -1.0 if kind != "infeasible" else 2.0)
        if kind == "failed":
            write_failure(study, trial, "training failed: RuntimeError: example")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        elif kind == "infeasible":
            write_result(trial, feasible=False, cached={"latency": False, "accuracy": False})
            study.tell(trial, [0.0, float("inf")])
        else:
            latency, top1 = 10.0 + 4 * index, 0.5 + 0.02 * index
            write_result(
                trial,
                feasible=True,
                cached={"latency": False, "accuracy": False},
                measurement=_Latency(latency),
                measurement_id=index + 1,
                evaluation=_Accuracy(top1),
            )
            study.tell(trial, [top1, latency])
    running = study.ask()
    write_candidate(running, "f" * 64, {"section_blocks": [1, 1, 1, 1]}, _Summary(5_000_000))


def copy_trials(url: str, total: int, seed: int = 0) -> None:
    """Grow the study to ``total`` trials by copying its finished templates in bulk."""
    from optuna.storages._rdb import models
    from sqlalchemy import create_engine, func, select

    rng = random.Random(seed)
    engine = create_engine(url)
    trials = models.TrialModel.__table__
    tables = {
        "values": models.TrialValueModel.__table__,
        "user": models.TrialUserAttributeModel.__table__,
        "system": models.TrialSystemAttributeModel.__table__,
        "params": models.TrialParamModel.__table__,
    }
    with engine.begin() as conn:
        templates = (
            conn.execute(select(trials).where(trials.c.state.in_(["COMPLETE", "FAIL"])))
            .mappings()
            .all()
        )
        children = {
            name: {
                t["trial_id"]: conn.execute(select(table).where(table.c.trial_id == t["trial_id"]))
                .mappings()
                .all()
                for t in templates
            }
            for name, table in tables.items()
        }
        count = conn.execute(select(func.count()).select_from(trials)).scalar_one()
        next_id = conn.execute(select(func.max(trials.c.trial_id))).scalar_one() + 1
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in ("trials", *tables)}
        for number in range(count, total):
            template = templates[rng.randrange(len(templates))]
            jitter = rng.uniform(0.7, 1.4)
            gain = rng.uniform(-0.1, 0.1)
            row = {k: v for k, v in template.items() if k != "trial_id"}
            row.update(trial_id=next_id, number=number)
            batch["trials"].append(row)
            for name, table in tables.items():
                pk = next(iter(table.primary_key.columns)).name
                for child in children[name][template["trial_id"]]:
                    copy = {k: v for k, v in child.items() if k != pk}
                    copy["trial_id"] = next_id
                    if name == "values" and copy["value"] is not None:
                        copy["value"] = (
                            copy["value"] * jitter
                            if copy["objective"] == 1
                            else min(0.99, max(0.0, copy["value"] + gain))
                        )
                    if name == "user" and copy["key"] == "preset":
                        continue  # copies are ordinary candidates
                    batch[name].append(copy)
            next_id += 1
            if len(batch["trials"]) >= 5000:
                _flush(conn, trials, tables, batch)
        _flush(conn, trials, tables, batch)
    engine.dispose()


def _flush(conn, trials, tables, batch) -> None:
    if batch["trials"]:
        conn.execute(trials.insert(), batch["trials"])
    for name, table in tables.items():
        if batch[name]:
            conn.execute(table.insert(), batch[name])
    for rows in batch.values():
        rows.clear()


def time_front(url: str, repeat: int) -> list[dict[str, Any]]:
    """`lce-nas front --json` in fresh processes: wall seconds and peak RSS."""
    rows = []
    for run in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "lce_nas.cli", "front", "--study", STUDY, "--json", "--db", url],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if done.returncode != 0:
            raise SystemExit(f"lce-nas front failed: {done.stderr.strip()}")
        front = json.loads(done.stdout)
        rows.append(
            {
                "what": "cli front --json",
                "run": run,
                "seconds": wall,
                # ru_maxrss of children is the max over all of them so far.
                "peak_rss_mb": max(peak_kb, before) / 1024,
                "front_size": len(front["trials"]),
                "hypervolume": front["hypervolume"],
            }
        )
    return rows


def _get(url: str, etag: str | None = None) -> tuple[int, float, int, str | None]:
    request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
            status, tag = response.status, response.headers.get("ETag")
    except urllib.error.HTTPError as err:
        body, status, tag = b"", err.code, err.headers.get("ETag")
    return status, time.perf_counter() - start, len(body), tag


def time_dashboard(url: str, repeat: int) -> list[dict[str, Any]]:
    """Every API call of a real dashboard server: cold, warm and not-modified polls."""
    server = subprocess.Popen(
        [sys.executable, "-m", "lce_nas.cli", "dashboard", "--db", url, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        base = ""
        for line in server.stdout:  # the server prints where it listens once it does
            if "Dashboard at " in line:
                base = line.split("Dashboard at ", 1)[1].split()[0].rstrip("/")
                break
        if not base:
            raise SystemExit("the dashboard did not start")
        start = time.perf_counter()
        urllib.request.urlopen(f"{base}/api/studies", timeout=120).read()
        # The server reads each study's trials once, on its first call; later calls
        # read only what changed. A fresh server per call would time that read each
        # time, so it is its own row and the calls below start after it.
        first_read = {
            "what": "dashboard first read (the study list, reading every trial)",
            "first_s": time.perf_counter() - start,
        }
        paths = [
            "/api/studies",
            f"/api/studies/{STUDY}",
            f"/api/studies/{STUDY}/trials",
            f"/api/studies/{STUDY}/front",
            f"/api/studies/{STUDY}/hypervolume",
            f"/api/studies/{STUDY}/trials/5",
            f"/api/compare?study={STUDY}",
        ]
        rows = [first_read]
        for path in paths:
            status, cold, size, tag = _get(base + path)
            warm = [_get(base + path)[1] for _ in range(repeat)]
            poll = [_get(base + path, tag)[:2] for _ in range(repeat)] if tag else []
            rows.append(
                {
                    "what": f"dashboard GET {path}",
                    "status": status,
                    "bytes": size,
                    "first_s": cold,
                    "warm_median_s": statistics.median(warm),
                    "warm_max_s": max(warm),
                    "not_modified_status": poll[0][0] if poll else None,
                    "not_modified_median_s": statistics.median(p[1] for p in poll)
                    if poll
                    else None,
                }
            )
        rss = _rss_mb(server.pid)
        rows.append({"what": "dashboard server memory", "rss_mb": rss})
        return rows
    finally:
        server.terminate()
        server.wait(timeout=30)


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    command = "python benchmarks/read_path_scale.py " + " ".join(sys.argv[1:])
    context = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "command": command.strip(),
    }
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            url = f"sqlite:///{Path(folder) / f'scale{size}.db'}"
            start = time.perf_counter()
            template_study(url)
            copy_trials(url, size)
            print(f"{size} trials: built in {time.perf_counter() - start:.1f} s", flush=True)
            for row in time_front(url, args.repeat) + time_dashboard(url, args.repeat):
                # The machine's load when measured: figures on a busy machine run slow.
                row = {"trials": size, **row, **context, "load_1min": os.getloadavg()[0]}
                rows.append(row)
                shown = {
                    k: (round(v, 3) if isinstance(v, float) else v)
                    for k, v in row.items()
                    if k not in context
                }
                print(json.dumps(shown), flush=True)
    with args.output.open("a") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    print(f"appended {len(rows)} rows to {args.output}")
    print(f"made by: {context['command']}")


if __name__ == "__main__":
    main()
