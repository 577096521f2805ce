"""An imported measurement never silently replaces one taken here."""

from __future__ import annotations

import json

from engine_support import run_cli


def _bench(model, db: str, cwd, *extra: str) -> dict:
    proc = run_cli("bench", str(model), "--db", db, "--max-seconds", "1", "--json", *extra, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _poisoned(tmp_path, db: str, **changes) -> str:
    """An export of ``db`` whose measurement claims far more runs and a far lower median."""
    out = tmp_path / "lab.json"
    assert run_cli("db", "export", "--db", db, "-o", str(out), cwd=tmp_path).returncode == 0
    document = json.loads(out.read_text())
    (row,) = document["tables"]["latency_measurements"]
    row.update(runs=999999, median_ms=0.001, p10_ms=0.001, p90_ms=0.001, mean_ms=0.001,
               samples_ms=[0.001], measured_at="2030-01-01T00:00:00+00:00", **changes)  # fmt: skip
    poisoned = tmp_path / "poisoned-lab.json"
    poisoned.write_text(json.dumps(document))
    return str(poisoned)


def test_an_imported_row_with_extreme_runs_cannot_change_a_local_answer(tiny_tflite, tmp_path):
    db = f"sqlite:///{tmp_path}/lat.db"
    local = _bench(tiny_tflite, db, tmp_path)
    assert local["source"] == "measured"
    path = _poisoned(tmp_path, db)
    imported = run_cli("db", "import", path, "--db", db, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "latency_measurements: 1 new" in imported.stdout

    answer = _bench(tiny_tflite, db, tmp_path)
    assert answer["source"] == "cache" and answer["imported_from"] is None
    assert answer["median_ms"] == local["median_ms"] and answer["runs"] == local["runs"]
    table = " ".join(run_cli("bench", str(tiny_tflite), "--db", db, cwd=tmp_path).stdout.split())
    assert "from the database cache; --fresh" in table and "0.001 ms" not in table

    # The imported sample is kept, marked with the file it came from.
    rows = run_cli("db", "measurements", "--db", db, "--json", cwd=tmp_path).stdout.splitlines()
    origins = sorted(str(json.loads(line)["origin"]) for line in rows)
    assert origins == ["None", "poisoned-lab.json"]


def test_an_answer_from_an_import_says_where_it_came_from(tiny_tflite, tmp_path):
    lab = f"sqlite:///{tmp_path}/lab.db"
    _bench(tiny_tflite, lab, tmp_path)
    path = _poisoned(tmp_path, lab)
    mine = f"sqlite:///{tmp_path}/mine.db"
    assert run_cli("db", "import", path, "--db", mine, cwd=tmp_path).returncode == 0
    answer = _bench(tiny_tflite, mine, tmp_path)
    assert answer["source"] == "cache" and answer["imported_from"] == "poisoned-lab.json"
    table = " ".join(run_cli("bench", str(tiny_tflite), "--db", mine, cwd=tmp_path).stdout.split())
    assert "from the database cache (imported from poisoned-lab.json)" in table
