"""Helpers of the report tests: a fast host profile, the report's CSV, its database."""

from __future__ import annotations

import csv
from pathlib import Path

# A host profile with short timing: the figures' ratios, not their last digit, are tested.
FAST_HOST = """[devices.fast]
kind = "host"
threads = 1
warmup_runs = 1
min_runs = 3
min_seconds = 0.05
max_seconds = 0.5
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a report CSV."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def measurement_count(db: Path) -> int:
    """How many measurements the report's SQLite database holds."""
    from lce_nas.latency_db import LatencyStore

    with LatencyStore(f"sqlite:///{db}", create=False) as store:
        return store.counts()["latency_measurements"]
