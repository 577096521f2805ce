"""A pool that answers as the Ray workers do, without Ray, TensorFlow or a device.

It records what a device worker and a trainer would record, so the loop, the
study, the space and the SQLite store under test are the real ones; every
request is kept in ``calls`` (what a test counts: conversions, trainings).
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import Future
from typing import Any

import optuna
from lce_nas.engine.measurement import Measurement, MeasurementKey
from lce_nas.latency_db import AccuracyEvaluation, LatencyStore
from lce_nas.search.run import SearchSettings
from lce_nas.space import get_space
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

    ``latency_ms(config)`` gives a candidate's median (5.5 ms when not given),
    ``top1(config, settings)`` its accuracy after a training with those proxy
    settings (0.5 when not given). ``answer(result)`` makes a training's future
    (default: done at once; a test that holds trainings back keeps them).
    """

    def __init__(
        self,
        store: LatencyStore,
        space,
        key: MeasurementKey = KEY,
        latency_ms=None,
        top1=None,
        answer=None,
    ):
        self.store, self.space, self.key = store, space, key
        self.latency_ms = latency_ms or (lambda config: 5.5)
        self.top1 = top1 or (lambda config, settings: 0.5)
        self.answer = answer or _done
        self.settings: list[ProxySettings] = []
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

    def submit_accuracy(self, space_name, params, *, lookup=True, settings=None):
        self.calls.append(("accuracy", lookup))
        config = self.space.config_from_params(params)
        fingerprint = self.space.fingerprint(config)
        self.trained.append(fingerprint)
        settings = settings or ProxySettings()
        self.settings.append(settings)
        top1 = self.top1(config, settings)
        ev = self.store.record_accuracy(
            AccuracyEvaluation(
                fingerprint, "fashion-mnist", settings.to_dict(), top1, train_seconds=1.0
            )
        )
        return self.answer(AccuracyResult(ev, False, time.time(), time.time()))


class Quiet:
    """A reporter that shows nothing."""

    def update(self, stats, total):
        pass

    def log(self, line):
        pass


# -- a multi-fidelity search on the stand-in -------------------------------------------

LADDER = {"min_steps": 10, "max_steps": 90, "eta": 3}


def _quality(space, config) -> float:
    """A fixed quality in [0, 1] of an architecture, from its fingerprint."""
    return hashlib.sha256(space.fingerprint(config).encode()).digest()[0] / 255


def top1(config, settings) -> float:
    """Better with more steps, ranked by the architecture's quality, a little noisy by seed."""
    from lce_nas.search.fidelity import proxy_steps

    steps = proxy_steps(settings)
    space = get_space("quicknet")
    return 0.2 + 0.5 * _quality(space, config) * steps / (steps + 100) + 0.004 * settings.seed


def latency_ms(config) -> float:
    """Faster for better architectures, with some slower exceptions (so that fronts form)."""
    space = get_space("quicknet")
    slower = space.fingerprint(config)[1] in "0123"
    return 5.0 + 20.0 * (1 - _quality(space, config)) + 3.0 * slower


def ladder_settings(name: str, trials: int, **ladder) -> SearchSettings:
    return SearchSettings(name, trials=trials, parallel=2, **(ladder or LADDER))


def ladder_study(url: str, name: str, settings: SearchSettings | None = None) -> optuna.Study:
    """The study as ``run_search`` opens it (its metadata names the ladder), random sampler."""
    from lce_nas.search.study import StudyMeta, open_study

    settings = settings or ladder_settings(name, 1)
    space = get_space("quicknet")
    meta = StudyMeta(
        space=space.name,
        space_version=space.version,
        device=KEY.device,
        measurement_key=KEY.to_dict(),
        dataset="fashion-mnist",
        proxy_settings=settings.proxy.to_dict(),
        constraints={"max_latency_ms": None, "max_size_mb": None},
        sampler="random",
        seed=3,
        presets={n: space.fingerprint(c) for n, c in space.presets().items()},
        ladder=settings.ladder().to_dict(),
    )
    study, _ = open_study(url, name, meta, optuna.samplers.RandomSampler(seed=3))
    return study


def ladder_search(url: str, name: str, trials: int, **ladder):
    """A multi-fidelity search of ``trials``, presets first, on the stand-in: pool, stats, loop."""
    from lce_nas.search.loop import SearchLoop
    from lce_nas.search.study import enqueue_presets

    space = get_space("quicknet")
    settings = ladder_settings(name, trials, **ladder)
    study = ladder_study(url, name, settings)
    enqueue_presets(study, space, space.presets())
    pool = StandInPool(LatencyStore(url), space, KEY, latency_ms, top1=top1)
    loop = SearchLoop(study, space, pool, LatencyStore(url), settings, KEY, Quiet())
    return pool, loop.run(), loop
