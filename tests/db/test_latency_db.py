"""The latency database on SQLite and on a real PostgreSQL server.

Every test that takes ``db_url`` runs once per backend (see conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from db_support import FP, FP2, OUR_TABLES, T0, measurement, populate, record_arch, stamp_revision
from lce_nas.engine.measurement import MeasurementKey, OpTiming
from lce_nas.latency_db import AccuracyEvaluation, LatencyStore, SchemaError, head_revision, migrate
from lce_nas.latency_db.models import VERSION_TABLE, Base
from lce_nas.latency_db.transfer import import_file, write_export

from lce_nas.errors import UserError


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def stamped(url: str, table: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.text(f"SELECT version_num FROM {table}"))]
    finally:
        engine.dispose()


def snapshot(url: str) -> object:
    """Everything that opening a database could change: file bytes, or tables and rows."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        siblings = sorted(p.name for p in path.parent.iterdir())
        return hashlib.sha256(path.read_bytes()).hexdigest(), siblings
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sorted(sa.inspect(conn).get_table_names())
            rows = {
                t: sorted(map(repr, conn.execute(sa.text(f'SELECT * FROM "{t}"')))) for t in tables
            }
        return tables, rows
    finally:
        engine.dispose()


# -- migrations ------------------------------------------------------------------


def test_empty_database_is_migrated_to_head_with_own_version_table(db_url):
    with LatencyStore(db_url) as store:
        assert store.schema_revision() == head_revision() == "0003_latency_predictors"
        # The constant an up-to-date database is checked against without loading Alembic.
        assert head_revision() == migrate.HEAD_REVISION
        with store.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            # The migrations create exactly what the models describe.
            assert compare_metadata(context, Base.metadata) == []
    assert table_names(db_url) == OUR_TABLES | {VERSION_TABLE}
    assert stamped(db_url, VERSION_TABLE) == ["0003_latency_predictors"]


def test_reopening_is_a_no_op(db_url):
    with LatencyStore(db_url) as store:
        store.record_measurement(measurement())
    before = snapshot(db_url)
    with LatencyStore(db_url) as store:
        assert migrate.upgrade(store.engine) is False
        assert len(store.measurements()) == 1
    assert snapshot(db_url) == before


def test_newer_schema_revision_is_refused_and_database_left_unchanged(db_url):
    stamp_revision(db_url, "0042_from_future")
    before = snapshot(db_url)
    with pytest.raises(SchemaError) as info:
        LatencyStore(db_url)
    message = str(info.value)
    assert "0042_from_future" in message and "upgrade lce-nas" in message
    assert "\n" not in message and "s3cret" not in message
    assert isinstance(info.value, UserError)
    assert snapshot(db_url) == before
    assert stamped(db_url, VERSION_TABLE) == ["0042_from_future"]


@pytest.mark.parametrize(
    "damage",
    ["garbage", "header-only"],
)
def test_corrupt_sqlite_file_is_refused_and_not_overwritten(tmp_path, damage):
    path = tmp_path / "lce-nas.db"
    if damage == "garbage":
        path.write_bytes(b"this is not a database\n" * 200)
    else:
        # A real database whose pages after the header were overwritten.
        LatencyStore(f"sqlite:///{path}").close()
        data = bytearray(path.read_bytes())
        data[100:] = b"\xa5" * (len(data) - 100)
        path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(UserError) as info:
        LatencyStore(f"sqlite:///{path}")
    assert str(info.value.args[0]).count("\n") == 0
    assert str(path) in str(info.value)
    assert path.read_bytes() == before


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with LatencyStore(url) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000


def test_read_only_open_does_not_create_a_file(tmp_path):
    path = tmp_path / "missing.db"
    with pytest.raises(UserError, match="no database at"):
        LatencyStore(f"sqlite:///{path}", create=False)
    assert not path.exists()


@pytest.mark.postgres
def test_bad_urls_are_user_errors(postgres_server):
    with pytest.raises(UserError, match="cannot parse"):
        LatencyStore("not a url")
    closed = postgres_server.url("postgres").replace(str(postgres_server.port), "1")
    with pytest.raises(UserError, match="cannot use database") as info:
        LatencyStore(closed)
    assert "s3cret" not in str(info.value)


def test_display_url_hides_the_password(db_url):
    with LatencyStore(db_url) as store:
        if db_url.startswith("postgresql"):
            assert "s3cret" not in store.display_url and ":***@" in store.display_url
            assert store.backend == "postgresql"
        else:
            assert store.display_url == db_url and store.backend == "sqlite"


# -- cache semantics --------------------------------------------------------------


def test_same_key_is_a_hit_and_round_trips_every_field(db_url):
    m = measurement(
        warmup_runs=5,
        host_facts={"cpu": "Xeon", "cores": 2},
        op_profile=[OpTiming("LceBconv2d", "conv_1", 1.5, 0.4, "binary_conv")],
        breakdown_ms={"binary_conv": 1.5, "glue": 0.5},
        model_sha256="ef" * 32,
    )
    with LatencyStore(db_url) as store:
        store.record_measurement(m)
        assert store.lookup_measurement(FP, m.key) == m


@pytest.mark.parametrize(
    "change",
    [
        {"threads": 4},
        {"engine_version": "0.17.0"},
        {"kernel_options": {"use_xnnpack": False, "use_indirect_bgemm": True}},
        {"kernel_options": {"use_xnnpack": True}},
        {"device": "rpi4"},
        {"engine": "lce-benchmark"},
    ],
    ids=["threads", "engine-version", "kernel-option-value", "kernel-option-missing", "device",
         "engine"],
)  # fmt: skip
def test_any_other_key_part_is_a_miss(db_url, change):
    m = measurement()
    with LatencyStore(db_url) as store:
        store.record_measurement(m)
        key = m.key
        other = MeasurementKey(
            change.get("device", key.device),
            change.get("engine", key.engine),
            change.get("engine_version", key.engine_version),
            change.get("threads", key.threads),
            change.get("kernel_options", key.kernel_options),
        )
        assert store.lookup_measurement(FP, other) is None
        assert store.lookup_measurement(FP2, key) is None
        # Key order inside kernel options does not matter.
        reordered = MeasurementKey(
            *list(vars(key).values())[:4], dict(reversed(key.kernel_options.items()))
        )
        assert store.lookup_measurement(FP, reordered) == m


def test_repeated_measurements_are_kept_and_lookup_takes_most_runs(db_url):
    few = measurement(samples=(9.0, 9.5, 10.0), measured_at=T0)
    many = measurement(
        samples=tuple(20.0 + i for i in range(9)), measured_at=T0 + timedelta(hours=1)
    )
    newest = measurement(samples=(30.0, 31.0), measured_at=T0 + timedelta(hours=2))
    with LatencyStore(db_url) as store:
        ids = [store.record_measurement(m) for m in (few, many, newest)]
        assert len(set(ids)) == 3
        assert store.lookup_measurement(FP, few.key) == many
        assert store.lookup_measurement_row(FP, few.key)["id"] == ids[1]
        # Every sample stays queryable.
        assert store.measurements(fingerprint=FP) == [few, many, newest]
        # A second, identical record is still another sample.
        store.record_measurement(few)
        assert len(store.measurements(fingerprint=FP)) == 4


def test_bare_tflite_files_and_filters(db_url):
    bare = "tflite:" + "0f" * 32
    with LatencyStore(db_url) as store:
        record_arch(store, FP, "quicknet")
        record_arch(store, FP2, "other-space")
        store.record_measurement(measurement(FP))
        store.record_measurement(measurement(FP2, device="rpi4"))
        store.record_measurement(measurement(bare, device="rpi4"))
        assert store.lookup_measurement(bare, measurement(bare, device="rpi4").key) is not None
        assert [m.fingerprint for m in store.measurements(device="rpi4")] == [FP2, bare]
        assert [m.fingerprint for m in store.measurements(space="quicknet")] == [FP]
        assert [m.fingerprint for m in store.measurements(fingerprint=bare)] == [bare]
        devices = {d["name"]: d["measurements"] for d in store.devices()}
        assert devices == {"host": 1, "rpi4": 2}


def test_nan_spread_of_a_single_run_survives(db_url):
    single = measurement(samples=(7.0,))
    assert single.std_ms == 0.0
    single.cv = math.nan
    with LatencyStore(db_url) as store:
        store.record_measurement(single)
        assert math.isnan(store.lookup_measurement(FP, single.key).cv)


# -- architectures, devices, accuracies, searches ---------------------------------------


def test_architectures_are_idempotent(db_url):
    with LatencyStore(db_url) as store:
        assert record_arch(store) is True
        assert record_arch(store) is False
        arch = store.architecture(FP)
        assert arch["space"] == "quicknet" and arch["config"] == {"blocks": [4, 4, 4, 4]}
        assert arch["parameters"] == 12_664_344 and arch["binary_macs"] == 10**9
        assert store.architecture(FP2) is None
        assert store.counts()["architectures"] == 1


def test_devices_keep_first_seen_and_take_new_spec(db_url):
    with LatencyStore(db_url) as store:
        store.record_device("rpi4", "raspberry-pi-4b", {"cores": 4})
        first = store.devices()[0]
        store.record_device("rpi4", "raspberry-pi-4b", {"cores": 4, "clock_ghz": 1.5})
        (again,) = store.devices()
        assert again["spec"] == {"cores": 4, "clock_ghz": 1.5}
        assert again["first_seen"] == first["first_seen"]
        assert again["last_seen"] >= first["last_seen"]


def test_accuracy_key_is_fingerprint_dataset_and_settings(db_url):
    settings = {"epochs": 3, "images": 4000, "batch": 32, "width": 0.25}
    ev = AccuracyEvaluation(FP, "fashion-mnist", settings, top1=0.67, loss=0.9, epochs=3,
                            seed=7, train_seconds=34.0, evaluated_at=T0)  # fmt: skip
    with LatencyStore(db_url) as store:
        assert store.record_accuracy(ev) == ev
        assert store.lookup_accuracy(FP, "fashion-mnist", dict(reversed(settings.items()))) == ev
        assert store.lookup_accuracy(FP, "fashion-mnist", {**settings, "epochs": 1}) is None
        assert store.lookup_accuracy(FP, "mnist", settings) is None
        assert store.lookup_accuracy(FP2, "fashion-mnist", settings) is None
        # The first evaluation of a key stays.
        later = AccuracyEvaluation(FP, "fashion-mnist", settings, top1=0.1, evaluated_at=T0)
        assert store.record_accuracy(later) == ev
        assert store.counts()["accuracy_evaluations"] == 1


def test_searches(db_url):
    with LatencyStore(db_url) as store:
        row = store.record_search("s1", "lce-nas-s1", "quicknet", "rpi4", {"trials": 50})
        assert row["status"] == "running" and row["arguments"] == {"trials": 50}
        store.set_search_status("s1", "finished")
        assert store.search("s1")["status"] == "finished"
        resumed = store.record_search("s1", "ignored", "ignored", "ignored", {"trials": 9})
        assert resumed["status"] == "running" and resumed["study_name"] == "lce-nas-s1"
        assert resumed["created_at"] == row["created_at"]
        store.record_search("s2", "lce-nas-s2", "quicknet", "host", {})
        assert [s["name"] for s in store.searches()] == ["s1", "s2"]
        assert store.search("nope") is None
        with pytest.raises(UserError, match="no search named"):
            store.set_search_status("nope", "finished")


def test_front_rows_join_best_latency_and_accuracy(db_url):
    settings = {"epochs": 1}
    with LatencyStore(db_url) as store:
        record_arch(store, FP)
        record_arch(store, FP2)
        record_arch(store, "ee" * 32)  # never measured: not in the front
        store.record_measurement(measurement(FP, samples=(5.0, 5.0, 5.0)))
        store.record_measurement(measurement(FP, samples=(4.0,) * 5))  # most runs: best
        store.record_measurement(measurement(FP, threads=4, samples=(2.0, 2.0)))
        store.record_measurement(measurement(FP2, samples=(3.0, 3.0)))
        store.record_measurement(measurement("tflite:" + "0f" * 32, samples=(1.0,)))
        store.record_accuracy(AccuracyEvaluation(FP, "fashion-mnist", settings, top1=0.6))
        store.record_accuracy(AccuracyEvaluation(FP, "fashion-mnist", {"epochs": 3}, top1=0.7))

        key = measurement().key
        rows = store.front_rows(space="quicknet", device_key=key, dataset="fashion-mnist",
                                proxy_settings=settings)  # fmt: skip
        assert [(r["fingerprint"], r["median_ms"], r["runs"], r["top1"]) for r in rows] == [
            (FP2, 3.0, 2, None),
            (FP, 4.0, 5, 0.6),
        ]
        assert rows[1]["parameters"] == 12_664_344 and rows[1]["threads"] == 1
        assert rows[1]["proxy_settings"] == settings

        every = store.front_rows()
        assert {(r["fingerprint"], r["threads"], r["top1"]) for r in every} == {
            (FP, 1, 0.6), (FP, 1, 0.7), (FP, 4, 0.6), (FP, 4, 0.7), (FP2, 1, None),
        }  # fmt: skip
        assert store.front_rows(space="nothing") == []


# -- concurrency --------------------------------------------------------------------


def run_four_writers(url: str) -> None:
    """4 processes x 200 writes on a fresh database; every row must land, no error show."""
    script = Path(__file__).with_name("concurrent_writer.py")
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), url, str(w), "200"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    outputs = [p.communicate(timeout=600) for p in writers]
    for p, (_out, err) in zip(writers, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err.lower() and "Traceback" not in err
    with LatencyStore(url) as store:
        tags = {(m.host_facts["worker"], m.host_facts["i"]) for m in store.measurements()}
        assert tags == {(w, i) for w in range(4) for i in range(200)}
        counts = store.counts()
        assert counts["latency_measurements"] == 800
        assert counts["architectures"] == counts["accuracy_evaluations"] == 1
        assert counts["searches"] == 1 and counts["devices"] == 1
        assert store.devices()[0]["measurements"] == 800


def test_four_processes_write_200_rows_each(db_url):
    run_four_writers(db_url)


@pytest.mark.postgres
def test_four_processes_under_serializable_isolation(postgres_server):
    # Concurrent upserts of the shared device row then fail with serialization
    # errors, which the store must retry.
    options = "?options=-c%20default_transaction_isolation%3Dserializable"
    url = postgres_server.new_database() + options
    with LatencyStore(url) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "serializable"
    run_four_writers(url)


# -- Optuna in the same database ----------------------------------------------------


def _optuna_study(url: str, name: str) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url)
    study = optuna.create_study(
        storage=storage, study_name=name, directions=["maximize", "minimize"], load_if_exists=True
    )
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_int("y", 1, 4)), n_trials=2)
    return study


def _optuna_trials(url: str, name: str) -> int:
    storage = optuna.storages.RDBStorage(url)
    try:
        return len(optuna.load_study(study_name=name, storage=storage).trials)
    finally:
        storage.remove_session()
        storage.engine.dispose()


def test_optuna_first_then_store(db_url):
    _optuna_study(db_url, "before")
    optuna_revision = stamped(db_url, "alembic_version")
    with LatencyStore(db_url) as store:
        store.record_measurement(measurement())
        assert store.schema_revision() == head_revision()
    assert _optuna_trials(db_url, "before") == 2
    _optuna_study(db_url, "before")
    assert _optuna_trials(db_url, "before") == 4
    assert stamped(db_url, "alembic_version") == optuna_revision
    assert optuna_revision[0].startswith("v")


def test_store_first_then_optuna(db_url):
    with LatencyStore(db_url) as store:
        store.record_measurement(measurement())
    _optuna_study(db_url, "after")
    assert _optuna_trials(db_url, "after") == 2
    with LatencyStore(db_url) as store:
        assert migrate.upgrade(store.engine) is False
        assert len(store.measurements()) == 1
        store.record_measurement(measurement(samples=(1.0, 2.0)))
    assert stamped(db_url, VERSION_TABLE) == ["0003_latency_predictors"]
    assert {"studies", "trials", "version_info", "alembic_version"} <= table_names(db_url)


# -- export and import -----------------------------------------------------------------


def test_json_export_then_import_gives_identical_rows(db_url, fresh_url, tmp_path):
    with LatencyStore(db_url) as source:
        populate(source)
        original = source.export_rows()
        path = tmp_path / "export.json"
        assert write_export(source, str(path), "json") == 4
    document = json.loads(path.read_text())
    assert document["format"] == "lce-nas-db"
    assert document["schema_revision"] == "0003_latency_predictors"

    targets = [fresh_url(), f"sqlite:///{tmp_path / 'other-backend.db'}"]
    for target_url in targets:
        with LatencyStore(target_url) as target:
            added = import_file(target, str(path))
            assert added == {"devices": 2, "architectures": 2, "latency_measurements": 4,
                             "accuracy_evaluations": 2, "searches": 1}  # fmt: skip
            imported = target.export_rows()
            # Every row arrives as it was, marked with the file it came from.
            assert {m["origin"] for m in imported["latency_measurements"]} == {"export.json"}
            assert _as_local(imported) == original
            # Importing the same file again adds nothing.
            assert set(import_file(target, str(path)).values()) == {0}
            assert target.export_rows() == imported


def test_csv_export_then_import_gives_identical_measurements(db_url, fresh_url, tmp_path):
    with LatencyStore(db_url) as source:
        populate(source)
        original = source.export_rows()
        path = tmp_path / "export.csv"
        write_export(source, str(path), "csv")
    with LatencyStore(fresh_url()) as target:
        added = import_file(target, str(path))
        assert added["latency_measurements"] == 4 and added["architectures"] == 2
        rows = _as_local(target.export_rows())
        assert rows["latency_measurements"] == original["latency_measurements"]
        assert rows["architectures"] == original["architectures"]
        assert import_file(target, str(path))["latency_measurements"] == 0


def _as_local(tables):
    """The tables with every measurement's origin cleared, to compare with the source."""
    return {
        **tables,
        "latency_measurements": [{**m, "origin": None} for m in tables["latency_measurements"]],
    }


def test_import_merges_without_duplicates(db_url, fresh_url, tmp_path):
    with LatencyStore(db_url) as lab:
        lab.record_device("rpi4", "raspberry-pi-4b", {"cores": 4})
        shared = measurement(FP, device="rpi4")
        lab.record_measurement(shared)
        lab.record_measurement(measurement(FP, device="rpi4", samples=(1.0, 2.0)))
        write_export(lab, str(tmp_path / "lab.json"), "json")
    with LatencyStore(fresh_url()) as mine:
        mine.record_measurement(shared)
        mine.record_measurement(measurement(FP2))
        added = import_file(mine, str(tmp_path / "lab.json"))
        assert added["latency_measurements"] == 1
        assert len(mine.measurements()) == 3
        # The device row made by the measurement learns its kind from the import.
        rpi = next(d for d in mine.devices() if d["name"] == "rpi4")
        assert rpi["kind"] == "raspberry-pi-4b" and rpi["spec"] == {"cores": 4}


def test_import_refuses_foreign_and_newer_files(db_url, tmp_path):
    path = tmp_path / "bad.json"
    with LatencyStore(db_url) as store:
        path.write_text('{"hello": 1}')
        with pytest.raises(UserError, match="not an lce-nas export"):
            import_file(store, str(path))
        path.write_text(json.dumps({"format": "lce-nas-db", "format_version": 1,
                                    "schema_revision": "0099", "tables": {}}))  # fmt: skip
        with pytest.raises(UserError, match="newer than this lce-nas"):
            import_file(store, str(path))


def test_plain_postgresql_urls_use_psycopg_3():
    from lce_nas.latency_db.connect import parse_url

    assert parse_url("postgresql://u:p@h/d").drivername == "postgresql+psycopg"
    assert parse_url("postgres://u:p@h/d").drivername == "postgresql+psycopg"
    assert parse_url("sqlite:///x.db").drivername == "sqlite"


def test_a_pickled_store_reopens_the_same_database(db_url):
    import pickle

    with LatencyStore(db_url) as store:
        store.record_measurement(measurement())
        with pickle.loads(pickle.dumps(store)) as copy:
            assert copy.display_url == store.display_url
            assert copy.lookup_measurement(FP, measurement().key) == measurement()
