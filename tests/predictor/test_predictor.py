"""The predictor learns kernel times from the database and predicts models it never saw."""

from __future__ import annotations

import numpy as np
import pytest
from lce_nas.engine.measurement import MeasurementKey, OpTiming
from lce_nas.latency_db import LatencyStore
from lce_nas.predictor.calibration import calibration_configs
from lce_nas.predictor.service import load_predictor
from lce_nas.predictor.training import align, training_set
from lce_nas.space import get_space
from lce_nas.space.kernels import Kernel
from predictor_support import LCE, LCE_BINARY_FACTOR, NATIVE, SHAPE, calibrated_store, true_ms

from lce_nas.errors import UserError

NATIVE_KEY = MeasurementKey(**NATIVE)
LCE_KEY = MeasurementKey(**LCE)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('predictor') / 'cal.db'}"
    return calibrated_store(url, n=40)


def _unseen(space, n=20):
    return list(calibration_configs(space, n, seed=99))


@pytest.mark.parametrize("key, factor", [(NATIVE_KEY, 1.0), (LCE_KEY, LCE_BINARY_FACTOR)])
def test_predicts_models_it_never_saw_within_ten_percent(calibrated, key, factor):
    store, space, _ = calibrated
    predictor = load_predictor(store, space, key)
    hits = []
    for config in _unseen(space):
        measured = true_ms(space.kernels(config, SHAPE.input_shape, SHAPE.classes), factor)
        prediction = predictor.predict(config)
        hits.append(abs(prediction.median_ms - measured) / measured <= 0.10)
        assert prediction.low_ms <= prediction.median_ms <= prediction.high_ms
    assert np.mean(hits) >= 0.9
    info = predictor.describe()
    assert info["examples"] == 43 and info["profiled"] == 43
    assert info["cross_validated"]["n"] == 43
    # The LCE key has no profiles of its own: its kernels come from the native engine's.
    assert info["profiles_from"]["engine"] == "native"


def test_breakdown_is_the_lce_papers_and_sums_to_the_median(calibrated):
    from lce_nas.engine.breakdown import categorize
    from predictor_support import kernel_ms

    store, space, _ = calibrated
    config = space.preset("quicknet")
    prediction = load_predictor(store, space, NATIVE_KEY).predict(config)
    assert sum(prediction.breakdown_ms.values()) == pytest.approx(prediction.median_ms)
    kernels = space.kernels(config, SHAPE.input_shape, SHAPE.classes)
    truth = dict.fromkeys(prediction.breakdown_ms, 0.0)
    for kernel, category in zip(kernels, categorize([k.op for k in kernels]), strict=True):
        truth[category] += kernel_ms(kernel)
    for category, ms in truth.items():
        assert prediction.breakdown_ms[category] == pytest.approx(ms, rel=0.15, abs=0.01)


def test_a_stored_fit_is_reused_until_the_measurements_or_the_fitting_change(
    calibrated, monkeypatch
):
    store, space, _ = calibrated
    first = load_predictor(store, space, NATIVE_KEY)
    again = load_predictor(store, space, NATIVE_KEY)
    assert not again.refitted
    assert again.predict(space.preset("quicknet")) == first.predict(space.preset("quicknet"))
    from predictor_support import record_timed

    config = next(iter(calibration_configs(space, 1, seed=7)))
    record_timed(store, space, config, np.random.default_rng(1))
    assert load_predictor(store, space, NATIVE_KEY).refitted
    assert not load_predictor(store, space, NATIVE_KEY).refitted
    # A fit stored by other fitting code (another MODEL_VERSION) is not trusted.
    import lce_nas.predictor.service as service

    monkeypatch.setattr(service, "MODEL_VERSION", service.MODEL_VERSION + 1)
    assert load_predictor(store, space, NATIVE_KEY).refitted


def test_an_empty_database_or_unknown_key_is_one_clear_error(tmp_path, calibrated):
    space = get_space("quicknet")
    with pytest.raises(UserError, match=r"no quicknet latencies .* calibrate --space quicknet"):
        load_predictor(LatencyStore(f"sqlite:///{tmp_path / 'empty.db'}"), space, NATIVE_KEY)
    store, _, _ = calibrated
    other = MeasurementKey("rpi4", "lce_benchmark_model", "0.16.0", 4)
    with pytest.raises(UserError, match="device 'rpi4'"):
        load_predictor(store, space, other)


def test_kernels_align_with_a_profile_by_type_and_order():
    kernels = [
        Kernel("CONV_2D", (8, 8, 3), (8, 8, 8)),
        Kernel("ADD", (8, 8, 8), (8, 8, 8)),
        Kernel("CONV_2D", (8, 8, 8), (8, 8, 16)),
    ]
    # Another interleaving across types lines up; a missing op does not.
    rows = [OpTiming("CONV_2D", "a", 1.0), OpTiming("CONV_2D", "b", 2.0), OpTiming("ADD", "c", 3.0)]
    assert align(kernels, rows) == (1.0, 3.0, 2.0)
    assert align(kernels, rows[:2]) is None


def test_a_profile_that_does_not_match_the_kernels_is_counted_not_used(tmp_path):
    store, space, configs = calibrated_store(f"sqlite:///{tmp_path / 'odd.db'}", n=3)
    from lce_nas.engine.measurement import Measurement

    fingerprint = space.fingerprint(configs[0])
    odd = Measurement.from_samples(
        [1.0], fingerprint=fingerprint, op_profile=[OpTiming("CONV_2D", "x", 1.0)], **NATIVE
    )
    # More runs than any other sample: the best measurement of that architecture now.
    odd.runs = 10_000
    store.record_measurement(odd)
    training = training_set(store, space, NATIVE_KEY)
    assert training.unaligned == 1
    assert len(training.profiled) == len(training.examples) - 1


def _examples(space, configs, cost):
    from lce_nas.predictor.training import Example

    examples = []
    for config in configs:
        kernels = tuple(space.kernels(config, SHAPE.input_shape, SHAPE.classes))
        times = tuple(cost(k) for k in kernels)
        examples.append(Example(space.fingerprint(config), kernels, sum(times), times))
    return examples


def _blocked_cost(kernel):
    # An engine that computes binary convs in whole 64-channel words and 8-channel blocks.
    from lce_nas.predictor.model import kernel_features

    padded_binary = kernel_features(kernel, "padded")[5]
    return 0.004 + (0.5 * padded_binary if kernel.op == "LceBconv2d" else 0.01)


def _plain_cost(kernel):
    return 0.004 + (0.5 * kernel.binary_macs / 1e6 if kernel.op == "LceBconv2d" else 0.01)


@pytest.mark.parametrize("cost, chosen", [(_blocked_cost, "padded"), (_plain_cost, "work")])
def test_cross_validation_chooses_the_work_the_engine_is_charged_for(cost, chosen):
    from lce_nas.predictor.model import cross_validated, error_summary, fit
    from lce_nas.predictor.training import TrainingSet

    space = get_space("quicknet")
    seen = _examples(space, list(calibration_configs(space, 40, seed=0)), cost)
    predictor = fit(TrainingSet(NATIVE_KEY, NATIVE_KEY, tuple(seen)))
    assert predictor.features == chosen
    unseen = _examples(space, _unseen(space), cost)
    errors = [abs(predictor.point(e.kernels) / e.median_ms - 1) for e in unseen]
    assert max(errors) < 0.05
    # Padded work fits a blocked engine better; on plain work both fit and the simpler wins.
    errors_of = lambda name: error_summary(cross_validated(seen, 5, name))["median_abs_pct"]  # noqa: E731
    if chosen == "padded":
        assert errors_of("padded") < errors_of("work")
    else:
        assert errors_of("work") == errors_of("padded") == 0.0


def test_a_latency_timed_on_a_slowed_core_is_left_out_of_training(tmp_path):
    from lce_nas.engine.measurement import Measurement
    from lce_nas.engine.sentinel import SENTINEL_VERSION

    store, space, configs = calibrated_store(f"sqlite:///{tmp_path / 'slowed.db'}", n=6)
    before = {e.fingerprint: e.median_ms for e in training_set(store, space, NATIVE_KEY).examples}
    for config in configs:
        fingerprint = space.fingerprint(config)
        slowed = fingerprint == space.fingerprint(configs[0])
        m = Measurement.from_samples(
            [before[fingerprint] * (1.8 if slowed else 1.0)], fingerprint=fingerprint, **NATIVE
        )
        # More runs than the calibration's own: without the sentinel, this one would be used.
        m.runs = 10_000
        m.host_facts = {
            "sentinel_ms": 2.0 * (1.8 if slowed else 1.0),
            "sentinel_version": SENTINEL_VERSION,
        }
        store.record_measurement(m)
    training = training_set(store, space, NATIVE_KEY)
    after = {e.fingerprint: e.median_ms for e in training.examples}
    assert training.slowed == 1
    assert after == pytest.approx(before)
