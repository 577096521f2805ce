"""``lce-nas predict`` and ``lce-nas calibrate`` from the command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from predictor_support import calibrated_store
from search_support import fast_host_profile


def _run(*args, cwd=None, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "lce_nas.cli", *args],
        capture_output=True, text=True, cwd=cwd, timeout=timeout,
    )  # fmt: skip


def test_predict_on_an_empty_database_is_one_line_and_exit_2(tmp_path):
    result = _run("predict", "--preset", "quicknet", "--db", f"sqlite:///{tmp_path / 'e.db'}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the database has no quicknet")
    assert "Traceback" not in result.stderr


def test_predict_json_and_evaluate(tmp_path):
    url = f"sqlite:///{tmp_path / 'cal.db'}"
    calibrated_store(url, n=25)
    args = ("--space", "quicknet", "--engine", "native", "--db", url)
    result = _run("predict", "--preset", "quicknet-large", "--json", *args)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    prediction = answer["prediction"]
    assert prediction["low_ms"] <= prediction["median_ms"] <= prediction["high_ms"]
    assert answer["predictor"]["key"]["engine"] == "native"
    assert answer["predictor"]["examples"] == 28
    evaluated = _run("predict", "--evaluate", *args)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "cross-validated:" in evaluated.stdout and "28 timed models" in evaluated.stdout


@pytest.mark.slow
def test_calibrate_measures_real_models_then_resumes_from_the_cache(tmp_path):
    (tmp_path / "lce-nas.toml").write_text(fast_host_profile("fast-host", max_seconds=1.0))
    url = f"sqlite:///{tmp_path / 'cal.db'}"
    args = ("calibrate", "--space", "quicknet", "--device", "fast-host", "--n", "2",
            "--input-shape", "64x64x3", "--classes", "10", "--db", url)  # fmt: skip
    first = _run(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "5 measured, 0 from the cache" in first.stdout
    # LCE's interpreter has no per-op timers: the profiles are the native engine's. A
    # timing the speed sentinel found slowed is left out of training, and said so.
    trained = re.search(
        r"(\d+) timed models, (\d+) with a profile(?: \((\d+) timed on a slowed core left out\))?",
        first.stdout,
    )
    assert trained, first.stdout
    timed, profiled, slowed = (int(g or 0) for g in trained.groups())
    # Every model trained on has a profile; each of the 5 is trained on or left out (a
    # left-out count includes the re-times of a slowed model, so it may pass 5).
    assert timed == profiled and 1 <= timed <= 5 and timed + slowed >= 5, first.stdout
    again = _run(*args, cwd=tmp_path)
    assert "0 measured, 5 from the cache" in again.stdout
    predicted = _run("predict", "--space", "quicknet", "--preset", "quicknet", "--device",
                     "fast-host", "--input-shape", "64x64x3", "--classes", "10", "--db", url,
                     "--json", cwd=tmp_path)  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["prediction"]["median_ms"] > 0
