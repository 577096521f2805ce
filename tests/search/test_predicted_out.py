"""A candidate predicted over the limit is neither converted, timed nor trained.

The pool is a stand-in (it counts conversions and trainings; see
``stand_in_pool``) and the database holds timings that follow a known cost
(``predictor_support``); the loop, the predictor, the study and the store
are the real ones.
"""

from __future__ import annotations

import optuna
import pytest
from lce_nas.engine.measurement import MeasurementKey
from lce_nas.latency_db import LatencyStore
from lce_nas.latency_db.records import measurement_from_row
from lce_nas.predictor.service import SearchPredictor
from lce_nas.search.loop import SearchLoop
from lce_nas.search.record import record_from_frozen
from lce_nas.search.run import SearchSettings
from predictor_support import LCE, LCE_BINARY_FACTOR, SHAPE, calibrated_store, true_ms
from stand_in_pool import Quiet, StandInPool

KEY = MeasurementKey(**LCE)


def _search(url: str, name: str, min_models: int, seed: int, trials: int = 12):
    """Search ``name`` on the calibrated database; each test's seed proposes its own models."""
    store = LatencyStore(url)
    from lce_nas.space import get_space

    space = get_space("quicknet")
    limit = 1.2 * true_ms(space.kernels(space.preset("quicknet-large")), LCE_BINARY_FACTOR)
    study = optuna.create_study(
        storage=url,
        study_name=name,
        directions=["maximize", "minimize"],
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )

    def latency(config):
        return true_ms(space.kernels(config, SHAPE.input_shape, SHAPE.classes), LCE_BINARY_FACTOR)

    pool = StandInPool(LatencyStore(url), space, KEY, latency)
    settings = SearchSettings(name, trials=trials, parallel=2, max_latency_ms=limit)
    predictor = SearchPredictor(store, space, KEY, min_examples=min_models)
    stats = SearchLoop(study, space, pool, store, settings, KEY, Quiet(), predictor).run()
    records = [record_from_frozen(t) for t in optuna.load_study(study_name=name, storage=url)
               .get_trials()]  # fmt: skip
    return stats, pool, records, limit, latency, space


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('predicted') / 'search.db'}"
    calibrated_store(url, n=40)
    return url


def test_predicted_out_candidates_are_never_converted_nor_trained(url):
    stats, pool, records, limit, latency, space = _search(url, "gated", min_models=20, seed=1)
    skipped = [r for r in records if r.infeasible]
    assert stats.predicted_out == len(skipped) > 0
    # Conversions: exactly the candidates that were not predicted out.
    assert len(pool.converted) == len(records) - len(skipped)
    for record in skipped:
        assert record.fingerprint not in pool.converted + pool.trained
        assert record.infeasible.startswith("predicted ") and "> limit" in record.infeasible
        assert record.prediction["low_ms"] > limit
        assert not record.feasible and record.latency is None
        # The predictor was right: the real latency is over the limit too.
        assert latency(space.config_from_params(record.config)) > limit


def test_a_timed_candidate_keeps_its_prediction_beside_its_measurement(url):
    _, pool, records, _, _, _ = _search(url, "stored", min_models=20, seed=2, trials=6)
    store = LatencyStore(url)
    timed = [r for r in records if r.fingerprint in pool.converted]
    assert timed
    for record in timed:
        row = store.lookup_measurement_row(record.fingerprint, KEY)
        assert measurement_from_row(row).predicted == record.prediction
        assert record.to_json()["predicted_ms"] == record.prediction["median_ms"]
        assert record.to_json()["latency_ms"] == pytest.approx(row["median_ms"])


def test_below_the_threshold_everything_is_measured(url):
    stats, pool, records, _, _, _ = _search(url, "ungated", min_models=10_000, seed=3)
    assert stats.predicted_out == 0
    assert len(pool.converted) == len(records)
    assert all(r.prediction is None and r.infeasible is None for r in records)


def test_predictions_survive_export_and_import(url, tmp_path):
    from lce_nas.latency_db.transfer import import_file, write_export

    _search(url, "exported", min_models=20, seed=4, trials=6)
    store = LatencyStore(url)
    before = {r["id"]: measurement_from_row(r).predicted for r in store.measurement_rows()}
    path = str(tmp_path / "export.json")
    write_export(store, path, "json")
    copy = LatencyStore(f"sqlite:///{tmp_path / 'copy.db'}")
    import_file(copy, path)
    after = sorted(
        (measurement_from_row(r).predicted or {}).get("median_ms", -1)
        for r in copy.measurement_rows()
    )
    assert any(p is not None for p in before.values())
    assert after == sorted((p or {}).get("median_ms", -1) for p in before.values())


def test_without_a_limit_the_presets_reference_rules_candidates_out(url):
    # No --max-latency-ms: the limit is twice the slowest preset, known once the presets
    # are timed (before they finish training).
    from lce_nas.search.study import META_KEY, enqueue_presets
    from lce_nas.space import get_space

    space = get_space("quicknet")
    store = LatencyStore(url)
    study = optuna.create_study(
        storage=url, study_name="reference", directions=["maximize", "minimize"],
        sampler=optuna.samplers.RandomSampler(seed=5),
    )  # fmt: skip
    presets = space.presets()
    fingerprints = {name: space.fingerprint(c) for name, c in presets.items()}
    study.set_user_attr(META_KEY, {"presets": fingerprints})
    enqueue_presets(study, space, presets)

    def latency(config):
        return true_ms(space.kernels(config, SHAPE.input_shape, SHAPE.classes), LCE_BINARY_FACTOR)

    pool = StandInPool(LatencyStore(url), space, KEY, latency)
    settings = SearchSettings("reference", trials=14, parallel=2)
    predictor = SearchPredictor(store, space, KEY, min_examples=20)
    stats = SearchLoop(study, space, pool, store, settings, KEY, Quiet(), predictor).run()
    # The presets were timed by the calibration: their latencies come from the database.
    limit = 2 * max(
        store.lookup_measurement_row(f, KEY)["median_ms"] for f in fingerprints.values()
    )
    records = [record_from_frozen(t) for t in study.get_trials()]
    skipped = [r for r in records if r.infeasible]
    assert stats.predicted_out == len(skipped) > 0
    assert all(f"> limit {limit:.1f} ms" in r.infeasible for r in skipped)
    assert all(r.preset is None for r in skipped)
