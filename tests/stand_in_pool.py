"""A pool that answers as the Ray workers do, without Ray, TensorFlow or a device.

It records what a device worker and a trainer would record, so the loop, the
study, the space and the SQLite store under test are the real ones; every
request is kept in ``calls`` (what a test counts: conversions, trainings).
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

from lce_nas.engine.measurement import Measurement, MeasurementKey
from lce_nas.latency_db import AccuracyEvaluation, LatencyStore
from lce_nas.workers.device import LatencyResult
from lce_nas.workers.pool import AccuracyResult
from lce_nas.workers.trainer import ProxySettings

KEY = MeasurementKey("host", "lce-interpreter", "0.16.0", 1, {})


def _done(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


class StandInPool:
    """``submit_latency`` / ``submit_accuracy`` of :class:`lce_nas.workers.Pool`, answered now.

    ``latency_ms(config)`` gives a candidate's median (5.5 ms when not given).
    """

    def __init__(self, store: LatencyStore, space, key: MeasurementKey = KEY, latency_ms=None):
        self.store, self.space, self.key = store, space, key
        self.latency_ms = latency_ms or (lambda config: 5.5)
        self.calls: list[tuple[str, bool]] = []
        self.converted: list[str] = []
        self.trained: list[str] = []

    def submit_latency(self, space_name, params, *, lookup=True, predicted=None, **_):
        self.calls.append(("latency", lookup))
        config = self.space.config_from_params(params)
        fingerprint = self.space.fingerprint(config)
        self.converted.append(fingerprint)
        median = self.latency_ms(config)
        m = Measurement.from_samples(
            [median * 0.98, median, median * 1.02],
            device=self.key.device,
            engine=self.key.engine,
            engine_version=self.key.engine_version,
            threads=self.key.threads,
            kernel_options=self.key.kernel_options,
            fingerprint=fingerprint,
            predicted=predicted,
        )
        now = time.time()
        measurement_id = self.store.record_measurement(m)
        return _done(
            LatencyResult(fingerprint, m, measurement_id, False, started=now, finished=now)
        )

    def submit_accuracy(self, space_name, params, *, lookup=True):
        self.calls.append(("accuracy", lookup))
        fingerprint = self.space.fingerprint(self.space.config_from_params(params))
        self.trained.append(fingerprint)
        ev = self.store.record_accuracy(
            AccuracyEvaluation(fingerprint, "fashion-mnist", ProxySettings().to_dict(), 0.5)
        )
        return _done(AccuracyResult(ev, False, time.time(), time.time()))


class Quiet:
    """A reporter that shows nothing."""

    def update(self, stats, total):
        pass

    def log(self, line):
        pass
