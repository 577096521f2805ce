"""``lce-nas db ...`` commands, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import json

import optuna
import pytest
from click.testing import CliRunner
from db_support import FP, FP2, measurement, populate, stamp_revision
from lce_nas.latency_db import LatencyStore

from lce_nas.cli import main


def run(*args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result


def test_db_info_shows_url_revision_counts_and_devices(db_url):
    with LatencyStore(db_url) as store:
        populate(store)
    storage = optuna.storages.RDBStorage(db_url)
    optuna.create_study(storage=storage, study_name="s1")
    storage.engine.dispose()

    result = run("db", "info", "--db", db_url)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "s3cret" not in out
    assert LatencyStore(db_url).display_url in out
    assert "0003_latency_predictors (current)" in out
    assert "latency_measurements │ 4" in out and "searches             │ 1" in out
    assert "rpi4" in out and "raspberry-pi-4b" in out and '"cores": 4' in out
    assert "optuna studies   1" in out


def test_db_info_reads_the_environment_and_refuses_missing_files(tmp_path):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    LatencyStore(url).close()
    result = run("db", "info", env={"LCE_NAS_DB": url})
    assert result.exit_code == 0 and str(tmp_path / "env.db") in result.output

    missing = tmp_path / "missing.db"
    result = run("db", "info", "--db", f"sqlite:///{missing}")
    assert result.exit_code == 2
    assert result.output.startswith("error: no database at") and result.output.count("\n") == 1
    assert not missing.exists()


def test_db_info_on_a_newer_schema_is_one_line_error(db_url):
    stamp_revision(db_url, "0777")
    result = run("db", "measurements", "--db", db_url)
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "0777" in result.output
    assert result.output.count("\n") == 1


def test_db_measurements_filters(db_url):
    with LatencyStore(db_url) as store:
        populate(store)
    result = run("db", "measurements", "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "4 samples" in result.output and FP[:12] in result.output
    assert "tflite:0f0f0f0f0f0f" in result.output

    result = run("db", "measurements", "--db", db_url, "--device", "rpi4", "--json")
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {(r["fingerprint"][:12], r["device"]) for r in rows} == {
        (FP2[:12], "rpi4"),
        ("tflite:0f0f0", "rpi4"),
    }
    result = run("db", "measurements", "--db", db_url, "--space", "quicknet", "--json")
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert sorted(r["threads"] for r in rows) == [1, 4] and {r["space"] for r in rows} == {
        "quicknet"
    }
    result = run("db", "measurements", "--db", db_url, "--device", "pixel1")
    assert result.exit_code == 0 and "no measurements match" in result.output


def test_db_accuracies_lists_each_training_with_its_fidelity(db_url):
    from lce_nas.latency_db import AccuracyEvaluation
    from lce_nas.search.fidelity import settings_for_steps
    from lce_nas.workers.trainer import ProxySettings

    with LatencyStore(db_url) as store:
        for steps, width, seed, top1 in [(125, 0.0625, 0, 0.52), (375, 0.125, 0, 0.73),
                                         (375, 0.125, 1, 0.74)]:  # fmt: skip
            settings = settings_for_steps(ProxySettings(seed=seed), steps, width)
            store.record_accuracy(AccuracyEvaluation(FP, "fashion-mnist", settings.to_dict(), top1))
    result = run("db", "accuracies", "--db", db_url)
    assert result.exit_code == 0 and "3 accuracies" in result.output, result.output
    result = run("db", "accuracies", "--db", db_url, "--steps", "375", "--json")
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["steps"], r["width"], r["proxy_settings"]["seed"], r["top1"]) for r in rows] == [
        (375, 0.125, 0, 0.73),
        (375, 0.125, 1, 0.74),
    ]
    result = run("db", "accuracies", "--db", db_url, "--width", "0.5")
    assert result.exit_code == 0 and "no accuracies match" in result.output


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_db_export_then_import(db_url, fresh_url, tmp_path, fmt):
    with LatencyStore(db_url) as store:
        populate(store)
        original = store.export_rows()
    path = tmp_path / f"lab.{fmt}"
    result = run("db", "export", "--db", db_url, "--format", fmt, "-o", str(path))
    assert result.exit_code == 0, result.output
    assert path.exists() and "wrote 4 measurements" in result.output

    target = fresh_url()
    result = run("db", "import", str(path), "--db", target)
    assert result.exit_code == 0, result.output
    assert "latency_measurements: 4 new, 0 already present" in result.output
    result = run("db", "import", str(path), "--db", target)
    assert "latency_measurements: 0 new, 4 already present" in result.output
    with LatencyStore(target) as store:
        rows = store.export_rows()
    # Imported measurements say which file they came from; the rest arrives unchanged.
    assert {m.pop("origin") for m in rows["latency_measurements"]} == {f"lab.{fmt}"}
    for m in original["latency_measurements"]:
        assert m.pop("origin") is None
    tables = list(original) if fmt == "json" else ["latency_measurements", "architectures"]
    for table in tables:
        assert rows[table] == original[table], table


def test_db_import_refuses_bad_files_before_touching_the_database(tmp_path):
    target = tmp_path / "target.db"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run("db", "import", str(bad), "--db", f"sqlite:///{target}")
    assert result.exit_code == 2 and "is not valid JSON" in result.output
    result = run("db", "import", str(tmp_path / "nope.json"), "--db", f"sqlite:///{target}")
    assert result.exit_code == 2 and "no such file" in result.output
    assert not target.exists()


def test_db_export_to_stdout(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with LatencyStore(url) as store:
        store.record_measurement(measurement())
    result = run("db", "export", "--db", url, "-o", "-")
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert len(document["tables"]["latency_measurements"]) == 1
