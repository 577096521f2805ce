"""Where a search's time goes: training, conversion, timing and orchestration per trial.

Runs a short search on the host (fresh database in a temporary folder) and
prints, per trial, the seconds spent training proxies, building and
converting deploy models, timing them, and everything else (Ray, Optuna,
the database), plus the overlap ratio: the sum of worker busy time over the
wall time (above 1 means training and timing ran at the same time).

    python benchmarks/search_overhead.py [--trials 8] [--parallel 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lce_nas.search.run import SearchSettings, run_search
from lce_nas.workers.trainer import ProxySettings


def covered_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of intervals: time during which some worker was busy."""
    total, end = 0.0, float("-inf")
    for begin, finish in sorted(intervals):
        if finish > end:
            total += finish - max(begin, end)
            end = finish
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--subset", type=int, default=1000)
    args = parser.parse_args()
    proxy = ProxySettings(epochs=args.epochs, subset=args.subset)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'overhead.db'}"
        settings = SearchSettings(
            study_name="overhead", trials=args.trials, parallel=args.parallel, proxy=proxy
        )
        start = time.perf_counter()
        outcome = run_search(settings, url)
        wall = time.perf_counter() - start
    stats = outcome.stats
    trials = max(1, stats.completed + stats.failed)
    busy = sum(end - begin for begin, end in stats.busy_intervals)
    worker = stats.train_s + stats.convert_s + stats.measure_s
    print(
        f"{trials} trials ({stats.trained} trained, {stats.timed} timed, "
        f"{stats.cache_hits} cache answers), parallel {args.parallel}, wall {wall:.0f} s"
    )
    print(f"{'per trial':<28}{'seconds':>10}")
    for label, seconds in (
        ("proxy training", stats.train_s),
        ("build + LCE conversion", stats.convert_s),
        ("timing on the device", stats.measure_s),
        ("idle workers (orchestration)", max(0.0, wall - covered_seconds(stats.busy_intervals))),
    ):
        print(f"{label:<28}{seconds / trials:>10.1f}")
    print(
        f"overlap ratio (busy / wall): {busy / wall:.2f}   "
        f"(worker time {worker:.0f} s of {busy:.0f} s busy)"
    )


if __name__ == "__main__":
    main()
