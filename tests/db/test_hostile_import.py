"""Hostile export files: each bad row is named, nothing is applied, nothing is created."""

from __future__ import annotations

import csv
import json

import pytest
from cli_support import invoke, one_line_error
from db_support import FP, measurement, populate
from lce_nas.latency_db import LatencyStore


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict:
    """A real export of a populated database, to spoil one field at a time."""
    folder = tmp_path_factory.mktemp("export")
    url = f"sqlite:///{folder / 'lab.db'}"
    with LatencyStore(url) as store:
        populate(store)
    out = folder / "lab.json"
    assert invoke("db", "export", "--db", url, "-o", str(out)).exit_code == 0
    return json.loads(out.read_text())


def _spoiled(document: dict, table: str, field: str, value) -> dict:
    spoiled = json.loads(json.dumps(document))
    spoiled["tables"][table][1][field] = value
    return spoiled


def _import(path, target):
    result = invoke("db", "import", str(path), "--db", f"sqlite:///{target}")
    return result.exit_code, result.stderr


ROW_CASES = [
    ("latency_measurements", "runs", "1e400", "row 2 field runs: Input should be a valid integer"),
    (
        "latency_measurements",
        "median_ms",
        float("nan"),
        "field median_ms: Input should be a finite",
    ),
    ("latency_measurements", "engine", None, "field engine: Input should be a valid string"),
    ("latency_measurements", "measured_at", 1764547200, "field measured_at: Value error, must be"),
    (
        "latency_measurements",
        "host_facts",
        [1, 2],
        "field host_facts: Input should be a valid dict",
    ),
    ("latency_measurements", "threads", 0, "field threads: Input should be greater than or equal"),
    ("latency_measurements", "samples_ms", [1.0, "x"], "field samples_ms.1:"),
    ("latency_measurements", "evil", 1, "field evil: Extra inputs are not permitted"),
    ("accuracy_evaluations", "top1", 5.0, "accuracy_evaluations row 2 field top1"),
    ("devices", "spec", "cores=4", "devices row 2 field spec"),
    ("architectures", "fingerprint", "../../etc", "architectures row 2 field fingerprint"),
]


@pytest.mark.parametrize(("table", "field", "value", "message"), ROW_CASES)
def test_a_bad_row_is_named_and_nothing_is_created(
    document, tmp_path, table, field, value, message
):
    text = json.dumps(_spoiled(document, table, field, "SPOILED" if value == "1e400" else value))
    path = tmp_path / "hostile.json"
    path.write_text(text.replace('"SPOILED"', "1e400"))
    target = tmp_path / "target.db"
    one_line_error(
        *_import(path, target), "hostile.json: 1 row rejected, nothing imported", message
    )
    assert not target.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format_version="1"), "format_version must be a whole number"),
        (lambda d: d.pop("tables"), "has no tables"),
        (lambda d: d.update(tables=[1, 2]), "has no tables"),
        (lambda d: d.update(schema_revision=7), "schema_revision must be a string"),
        (lambda d: d["tables"].update(users=[{}]), "unknown tables users"),
        (lambda d: d["tables"].update(devices={"name": "x"}), "table devices must be a list"),
        (lambda d: d["tables"]["devices"].append(3), "devices row 3: not an object"),
    ],
)
def test_a_bad_document_is_one_line(document, tmp_path, change, message):
    spoiled = json.loads(json.dumps(document))
    change(spoiled)
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(spoiled))
    target = tmp_path / "target.db"
    one_line_error(*_import(path, target), message)
    assert not target.exists()


def test_a_number_too_long_to_read_is_one_line(document, tmp_path):
    path = tmp_path / "digits.json"
    path.write_text(json.dumps(document).replace('"runs": 1,', '"runs": ' + "9" * 5000 + ",", 1))
    target = tmp_path / "target.db"
    one_line_error(*_import(path, target), "digits.json is not valid JSON", "5000 digits")
    assert not target.exists()


def test_one_bad_row_among_good_ones_applies_nothing(document, tmp_path):
    target = tmp_path / "mine.db"
    with LatencyStore(f"sqlite:///{target}") as store:
        store.record_measurement(measurement(FP, samples=(7.0, 8.0)))
        before = store.export_rows()
    spoiled = _spoiled(document, "latency_measurements", "cv", -1.0)
    spoiled["tables"]["searches"][0]["status"] = "x" * 100
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(spoiled))
    one_line_error(
        *_import(path, target), "2 rows rejected", "field cv", "searches row 1 field status"
    )
    with LatencyStore(f"sqlite:///{target}") as store:
        assert store.export_rows() == before


def test_a_bad_csv_cell_names_its_line(document, tmp_path):
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    with LatencyStore(url) as store:
        populate(store)
    out = tmp_path / "lab.csv"
    assert invoke("db", "export", "--db", url, "-o", str(out)).exit_code == 0
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[1]["runs"] = "many"
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    target = tmp_path / "target.db"
    one_line_error(*_import(out, target), "lab.csv line 3: bad 'runs'", "'many'")
    assert not target.exists()


def test_a_file_that_is_no_export_creates_nothing(tmp_path):
    notes = tmp_path / "hostname"
    notes.write_text("build-server-7\n")
    target = tmp_path / "target.db"
    one_line_error(*_import(notes, target), "is not an lce-nas export", "--format csv")
    assert not target.exists()
    one_line_error(*_import("/etc/hostname", target), "is not an lce-nas export")
    assert not target.exists()


def test_db_measurements_says_where_each_sample_came_from(document, tmp_path):
    target = tmp_path / "mine.db"
    with LatencyStore(f"sqlite:///{target}") as store:
        store.record_measurement(measurement(FP, samples=(7.0, 8.0)))
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(document))
    assert _import(path, target)[0] == 0
    result = invoke("db", "measurements", "--db", f"sqlite:///{target}")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if FP[:12] in line]
    assert sum("lab.json" in line for line in lines) == 2
    assert sum(line.rstrip(" │").endswith("here") for line in lines) == 1
