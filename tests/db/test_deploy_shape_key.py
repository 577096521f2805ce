"""The deploy shape in the latency key: another shape never answers, older rows read as 224/1000."""

from __future__ import annotations

from db_support import FP, measurement
from lce_nas.engine.measurement import DEFAULT_DEPLOY_SHAPE, MeasurementKey
from lce_nas.latency_db import LatencyStore
from lce_nas.latency_db.records import key_sha256, measurement_row
from lce_nas.latency_db.transfer import import_file, write_export

from lce_nas.canonical import sha256_hex

SMALL = "96x96x3/2"


def test_the_default_shape_keeps_the_key_hash_rows_were_written_with():
    key = measurement().key
    # The hash as it was computed before the deploy shape was part of the key.
    before = sha256_hex(
        {
            "fingerprint": FP,
            "device": key.device,
            "engine": key.engine,
            "engine_version": key.engine_version,
            "threads": key.threads,
            "kernel_options": key.kernel_options,
        }
    )
    assert key.deploy_shape == DEFAULT_DEPLOY_SHAPE
    assert key_sha256(FP, key) == before
    small = MeasurementKey(*list(vars(key).values())[:5], SMALL)
    assert key_sha256(FP, small) != before
    assert "deploy_shape" not in key.to_dict() and small.to_dict()["deploy_shape"] == SMALL
    # Default-shape rows are written exactly as before: nothing about the shape in them.
    assert "deploy_shape" not in measurement_row(measurement())["extra"]
    assert measurement_row(measurement(deploy_shape=SMALL))["extra"]["deploy_shape"] == SMALL


def test_a_latency_of_another_shape_never_answers(db_url):
    imagenet = measurement(samples=(40.0, 41.0, 42.0))
    small = measurement(samples=(4.0, 4.1, 4.2), deploy_shape=SMALL)
    with LatencyStore(db_url) as store:
        store.record_measurement(imagenet)
        assert store.lookup_measurement(FP, small.key) is None
        store.record_measurement(small)
        assert store.lookup_measurement(FP, imagenet.key) == imagenet
        found = store.lookup_measurement(FP, small.key)
        assert found == small and found.deploy_shape == SMALL
        grey = MeasurementKey(*list(vars(small.key).values())[:5], "96x96x1/2")
        assert store.lookup_measurement(FP, grey) is None
        # A key without a shape (as older code and studies built it) is the default one.
        legacy = MeasurementKey(*list(vars(imagenet.key).values())[:5])
        assert store.lookup_measurement(FP, legacy) == imagenet


def test_export_and_import_keep_each_shape_apart(db_url, fresh_url, tmp_path):
    path = tmp_path / "export.json"
    with LatencyStore(db_url) as store:
        store.record_measurement(measurement(samples=(40.0, 41.0)))
        store.record_measurement(measurement(samples=(4.0, 4.5), deploy_shape=SMALL))
        write_export(store, str(path), "json")
    with LatencyStore(fresh_url()) as other:
        import_file(other, str(path))
        small = other.lookup_measurement(FP, measurement(deploy_shape=SMALL).key)
        assert small.median_ms == 4.25 and small.deploy_shape == SMALL
        assert other.lookup_measurement(FP, measurement().key).median_ms == 40.5
