"""One writer process of the concurrency test: opens the store and writes N rows.

Usage: python concurrent_writer.py URL WORKER WRITES

Every write is a new measurement sample tagged with (worker, i); every tenth
write also races the other workers on the same idempotent keys (one shared
device, architecture, accuracy and search).
"""

from __future__ import annotations

import sys

from lce_nas.engine.measurement import Measurement
from lce_nas.latency_db import AccuracyEvaluation, LatencyStore

SHARED = "5e" * 32


def main(url: str, worker: int, writes: int) -> None:
    store = LatencyStore(url)
    for i in range(writes):
        m = Measurement.from_samples(
            [1.0 + worker, 2.0 + i / 1000],
            device="shared-device",
            engine="lce-interpreter",
            engine_version="0.16.0",
            threads=1 + i % 4,
            fingerprint=f"{worker:02d}{i:062d}",
            host_facts={"worker": worker, "i": i},
        )
        store.record_measurement(m)
        if i % 10 == 0:
            store.record_device("shared-device", "test", {"worker": worker})
            store.record_architecture(SHARED, "quicknet", "1", {"w": 1}, 1, 2, 3, 4)
            store.record_accuracy(AccuracyEvaluation(SHARED, "fashion-mnist", {"e": 1}, 0.5))
            store.record_search("shared-search", "study", "quicknet", "shared-device", {})
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
