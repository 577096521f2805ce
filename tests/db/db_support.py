"""Sample values shared by the latency database tests."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from lce_nas.engine.measurement import Measurement, OpTiming
from lce_nas.latency_db import AccuracyEvaluation, LatencyStore
from lce_nas.latency_db.models import VERSION_TABLE

FP = "ab" * 32
FP2 = "cd" * 32
OUR_TABLES = {
    "devices",
    "architectures",
    "latency_measurements",
    "accuracy_evaluations",
    "searches",
    "latency_predictors",
}
T0 = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)


def measurement(
    fingerprint: str = FP,
    samples: tuple[float, ...] = (10.0, 11.0, 12.0),
    measured_at: datetime = T0,
    **key: object,
) -> Measurement:
    fields = {
        "device": "host",
        "engine": "lce-interpreter",
        "engine_version": "0.16.0",
        "threads": 1,
        "kernel_options": {"use_xnnpack": True, "use_indirect_bgemm": True},
    }
    fields.update(key)
    return Measurement.from_samples(
        list(samples), fingerprint=fingerprint, measured_at=measured_at, **fields
    )


def record_arch(store: LatencyStore, fingerprint: str = FP, space: str = "quicknet") -> bool:
    return store.record_architecture(
        fingerprint, space, "1", {"blocks": [4, 4, 4, 4]}, 12_664_344, 10**9, 10**8, 3_000_000
    )


def populate(store: LatencyStore) -> None:
    store.record_device("rpi4", "raspberry-pi-4b", {"cores": 4, "clock_ghz": 1.5})
    record_arch(store, FP)
    record_arch(store, FP2, "other")
    store.record_measurement(
        measurement(FP, op_profile=[OpTiming("ADD", "add_1", 0.25, 0.1, "glue")],
                    breakdown_ms={"glue": 0.25}, host_facts={"kernel": "6.1", "x": [1, 2]})
    )  # fmt: skip
    store.record_measurement(measurement(FP, samples=(0.1 + 0.2, 1 / 3), threads=4))
    store.record_measurement(measurement(FP2, device="rpi4", samples=(45.0,)))
    store.record_measurement(measurement("tflite:" + "0f" * 32, device="rpi4"))
    store.record_accuracy(AccuracyEvaluation(FP, "fashion-mnist", {"epochs": 3}, 0.67, loss=0.91,
                                             epochs=3, seed=1, train_seconds=34.5))  # fmt: skip
    store.record_accuracy(AccuracyEvaluation(FP2, "fashion-mnist", {"epochs": 3}, 0.5))
    store.record_search("s1", "lce-nas-s1", "quicknet", "rpi4", {"trials": 5, "seed": None})


def stamp_revision(url: str, revision: str) -> None:
    """Create the schema at ``url``, then mark it as ``revision`` (e.g. one from the future)."""
    LatencyStore(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = :r"), {"r": revision})
    engine.dispose()
