"""The JSON API against a database written as searches write it."""

from __future__ import annotations

import itertools
import json
import math
import urllib.request

import pytest
from dashboard_support import FAILURE_CONVERSION, FAILURE_TRAINING, Api, DashboardProcess


def _brute_force_front(points: dict[int, tuple[float, float]]) -> set[int]:
    """Trials no other trial dominates (accuracy up, latency down); equal points: the first."""
    front = set()
    for n, (acc, lat) in points.items():
        dominated = any(
            a >= acc and la <= lat and (a > acc or la < lat) for m, (a, la) in points.items()
        )
        earlier_twin = any(p == (acc, lat) and m < n for m, p in points.items())
        if not dominated and not earlier_twin:
            front.add(n)
    return front


def _union_area(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    """Area of the union of the boxes [latency, ref latency] x [ref accuracy, accuracy]."""
    xs = sorted({lat for _, lat in points if lat < ref[1]} | {ref[1]})
    area = 0.0
    for left, right in itertools.pairwise(xs):
        height = max((acc for acc, lat in points if lat <= left), default=ref[0])
        area += max(0.0, height - ref[0]) * (right - left)
    return area


def test_studies_lists_every_study_with_counts(api, fixture_db):
    studies = {s["name"]: s for s in api.get("/api/studies")}
    assert set(studies) == {fixture_db.main_study, fixture_db.other_study}
    main = studies[fixture_db.main_study]
    told = fixture_db.trials[fixture_db.main_study]
    assert main["trials"] == len(told)
    assert main["complete"] == sum(t["state"] == "COMPLETE" for t in told)
    assert main["failed"] == 2 and main["running"] == 1
    assert main["infeasible"] == sum(t["state"] == "COMPLETE" and not t["feasible"] for t in told)
    assert main["infeasible"] >= 1  # QuickNet-Large breaks the latency limit
    assert main["space"] == "quicknet" and main["device"] == "host"
    assert main["measurement_key"]["engine"] == "native"
    # The fixture's key has no deploy shape, as keys written before shapes existed.
    assert main["deploy_shape"] == "224x224x3/1000"
    assert main["search_status"] == "running"
    assert studies[fixture_db.other_study]["search_status"] == "finished"
    assert studies[fixture_db.other_study]["measurement_key"]["engine"] == "lce-interpreter"
    assert main["last_activity"] is not None
    assert main["front_size"] == len(
        api.get(f"/api/studies/{fixture_db.main_study}/front")["trials"]
    )


def test_trials_are_what_the_search_told_optuna(api, fixture_db):
    rows = api.get(f"/api/studies/{fixture_db.main_study}/trials")
    told = {t["number"]: t for t in fixture_db.trials[fixture_db.main_study]}
    assert [r["number"] for r in rows] == sorted(told)
    for row in rows:
        expected = told[row["number"]]
        assert row["state"] == expected["state"]
        if expected["state"] == "COMPLETE":
            assert row["latency_ms"] == pytest.approx(expected["latency_ms"])
            assert row["accuracy"] == pytest.approx(expected["accuracy"])
            assert row["feasible"] is expected["feasible"]
            assert row["preset"] == expected["preset"]
            assert row["fingerprint"] == expected["fingerprint"]
            assert row["measurement_id"] == expected["measurement_id"]
            assert row["latency_p10_ms"] <= row["latency_ms"] <= row["latency_p90_ms"]
            assert row["parameters"] > 0 and row["binary_macs"] > 0
            assert row["config_summary"].startswith("blocks ")
    failures = {r["number"]: r["failure"] for r in rows if r["state"] == "FAIL"}
    assert sorted(failures.values()) == sorted([FAILURE_CONVERSION, FAILURE_TRAINING])
    timed_but_failed = next(r for r in rows if r["failure"] == FAILURE_TRAINING)
    assert timed_but_failed["latency_ms"] is not None and timed_but_failed["accuracy"] is None
    presets = {r["preset"]: r["fingerprint"] for r in rows if r["preset"]}
    assert presets == fixture_db.presets
    # Only feasible presets can be dominated: an infeasible one was never trained.
    preset_points = {
        t["preset"]: (t["accuracy"], t["latency_ms"])
        for t in told.values()
        if t.get("preset") and t["state"] == "COMPLETE" and t["feasible"]
    }
    for row in rows:
        if row["state"] != "COMPLETE" or not row["feasible"]:
            assert row["dominates_presets"] == []
            continue
        acc, lat = row["accuracy"], row["latency_ms"]
        beaten = [
            name
            for name, (a, la) in preset_points.items()
            if acc >= a and lat <= la and (acc > a or lat < la)
        ]
        assert row["dominates_presets"] == sorted(beaten)


def test_front_is_the_non_dominated_feasible_set_and_its_hypervolume(api, fixture_db):
    name = fixture_db.main_study
    front = api.get(f"/api/studies/{name}/front")
    told = fixture_db.trials[name]
    feasible = {
        t["number"]: (t["accuracy"], t["latency_ms"])
        for t in told
        if t["state"] == "COMPLETE" and t["feasible"]
    }
    numbers = [r["number"] for r in front["trials"]]
    assert set(numbers) == _brute_force_front(feasible)
    latencies = [r["latency_ms"] for r in front["trials"]]
    assert latencies == sorted(latencies)  # fastest first
    assert all(r["on_front"] and r["feasible"] for r in front["trials"])
    infeasible = [t["number"] for t in told if t["state"] == "COMPLETE" and not t["feasible"]]
    assert not set(infeasible) & set(numbers)

    study = next(s for s in api.get("/api/studies") if s["name"] == name)
    ref = front["reference_point"]
    assert ref["stored"] is True and ref["latency_ms"] == pytest.approx(
        study["constraints"]["max_latency_ms"]
    )
    expected = _union_area(list(feasible.values()), (ref["accuracy"], ref["latency_ms"]))
    assert front["hypervolume"] == pytest.approx(expected, rel=1e-9)
    assert study["hypervolume"] == pytest.approx(expected, rel=1e-9)

    trials = api.get(f"/api/studies/{name}/trials")
    assert {r["number"] for r in trials if r["on_front"]} == set(numbers)


def test_hypervolume_history_grows_to_the_fronts(api, fixture_db):
    name = fixture_db.main_study
    history = api.get(f"/api/studies/{name}/hypervolume")
    complete = [t["number"] for t in fixture_db.trials[name] if t["state"] == "COMPLETE"]
    assert sorted(h["number"] for h in history) == complete
    values = [h["hypervolume"] for h in history]
    assert all(b >= a for a, b in itertools.pairwise(values))
    assert values[-1] == pytest.approx(api.get(f"/api/studies/{name}/front")["hypervolume"])
    assert values[0] > 0  # the first preset is feasible and inside the reference


def test_trial_detail_has_its_measurement_breakdown_and_profile(api, fixture_db):
    name = fixture_db.main_study
    preset = next(t for t in fixture_db.trials[name] if t.get("preset") == "quicknet")
    trial = api.get(f"/api/studies/{name}/trials/{preset['number']}")
    m = trial["measurement"]
    assert m["id"] == preset["measurement_id"] == fixture_db.measurement_ids[preset["fingerprint"]]
    assert m["engine"] == "native" and m["fingerprint"] == preset["fingerprint"]
    assert len(m["samples_ms"]) == m["runs"] and m["median_ms"] == pytest.approx(
        preset["latency_ms"]
    )
    categories = {c["category"]: c["ms"] for c in m["breakdown"]["categories"]}
    assert list(categories) == ["first_layer", "binary_conv", "glue", "last_layer"]
    assert categories["binary_conv"] > 0 and categories["first_layer"] > 0
    per_category: dict[str, float] = {}
    for op in m["op_profile"]:
        per_category[op["category"]] = per_category.get(op["category"], 0.0) + op["avg_ms"]
    for category, ms in categories.items():
        assert ms == pytest.approx(per_category.get(category, 0.0), abs=1e-5)
    binary_ops = [op for op in m["op_profile"] if op["op_type"] == "LceBconv2d"]
    assert len(binary_ops) == 16  # QuickNet: 4 sections x 4 binary blocks
    assert trial["config"]["section_filters"] == [64, 128, 256, 512]
    assert trial["params"]["blocks_0"] == 4
    assert {p["preset"] for p in trial["preset_breakdowns"]} == set(fixture_db.presets)
    assert all(p["same_key"] for p in trial["preset_breakdowns"])
    profile = trial["profile"]
    assert profile["same_key"] is True and profile["measurement_id"] == m["id"]
    assert profile["breakdown"] == m["breakdown"] and profile["op_profile"] == m["op_profile"]
    assert trial["exports"] == [] and "--trial" in trial["export_command"]


def test_trial_without_profile_has_samples_but_no_breakdown(api, fixture_db):
    name = fixture_db.other_study
    first = fixture_db.trials[name][0]
    trial = api.get(f"/api/studies/{name}/trials/{first['number']}")
    assert trial["measurement"]["engine"] == "lce-interpreter"
    assert trial["measurement"]["breakdown"] is None and trial["measurement"]["op_profile"] is None
    assert len(trial["measurement"]["samples_ms"]) == trial["measurement"]["runs"] > 0
    # The same model was also profiled by the native engine on this device: shown, marked.
    profile = trial["profile"]
    assert profile["same_key"] is False and profile["engine"] == "native"
    assert profile["measurement_id"] == fixture_db.measurement_ids[first["fingerprint"]]
    assert profile["breakdown"]["categories"][1]["ms"] > 0


def test_failed_trials_show_their_reason(api, fixture_db):
    name = fixture_db.main_study
    for told in fixture_db.trials[name]:
        if told["state"] != "FAIL":
            continue
        trial = api.get(f"/api/studies/{name}/trials/{told['number']}")
        assert trial["state"] == "FAIL" and trial["failure"] == told["failure"]
        assert (trial["measurement"] is not None) == (told["latency_ms"] is not None)


def test_compare_returns_the_chosen_studies_fronts(api, fixture_db):
    both = api.get("/api/compare")
    assert [f["study"] for f in both] == sorted([fixture_db.main_study, fixture_db.other_study])
    one = api.get(f"/api/compare?study={fixture_db.other_study}")
    assert [f["study"] for f in one] == [fixture_db.other_study]
    assert one[0]["summary"]["measurement_key"]["engine"] == "lce-interpreter"
    assert all(math.isfinite(r["latency_ms"]) for r in one[0]["trials"])


API_404 = [
    "/api/studies/no-such-study",
    "/api/studies/no-such-study/trials",
    "/api/studies/no-such-study/front",
    "/api/studies/fixture-native/trials/999",
    "/api/studies/fixture-native/trials/abc",
    "/api/compare?study=no-such-study",
    "/api/nothing-here",
]
PAGE_404 = [
    "/studies/no-such-study",
    "/studies/fixture-native/trials/999",
    "/studies/fixture-native/trials/abc",
    "/studies/..%2F..%2Fetc/trials/0",
    "/studies/fixture-native/trials/0/files/model.tflite",  # not exported
    "/studies/fixture-native/trials/0/files/secret.txt",
    "/static/..%2Fapp.py",
    "/compare?study=no-such-study",
]


@pytest.mark.parametrize("path", API_404 + PAGE_404)
def test_unknown_things_are_404s_of_their_kind(api, path):
    status, kind, body = api.status(path)
    assert status == 404 and "Traceback" not in body
    if path.startswith("/api/"):
        assert kind.startswith("application/json") and '"detail"' in body
    else:
        assert kind.startswith("text/html") and "not found" in body


def test_pages_and_plotly_are_served_by_the_app(api, fixture_db):
    status, kind, body = api.status("/static/plotly.min.js")
    assert status == 200 and "javascript" in kind and len(body) > 1_000_000
    for path in ("/", f"/studies/{fixture_db.main_study}", "/compare"):
        status, kind, body = api.status(path)
        assert status == 200 and kind.startswith("text/html")
        assert "/static/plotly.min.js" in body and "cdn" not in body.lower()


def test_exported_files_can_be_downloaded(fixture_db, tmp_path):
    name = fixture_db.main_study
    small = next(t for t in fixture_db.trials[name] if t.get("preset") == "quicknet-small")
    folder = tmp_path / "exports" / name / f"{small['number']:04d}-{small['fingerprint'][:12]}"
    folder.mkdir(parents=True)
    tflite = fixture_db.tflite[small["fingerprint"]]
    (folder / "model.tflite").write_bytes(tflite)
    (folder / "model_card.json").write_text(json.dumps({"fingerprint": small["fingerprint"]}))
    process = DashboardProcess(
        "--db", fixture_db.url, "--port", "0", "--exports", str(tmp_path / "exports")
    )
    try:
        api = Api(process.url)
        trial = api.get(f"/api/studies/{name}/trials/{small['number']}")
        assert [f["name"] for f in trial["exports"]] == ["model.tflite", "model_card.json"]
        url = f"{process.url}studies/{name}/trials/{small['number']}/files/model.tflite"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.read() == tflite
            assert "attachment" in response.headers["content-disposition"]
        other = next(t for t in fixture_db.trials[name] if t.get("preset") == "quicknet")
        status, _, _ = api.status(f"/studies/{name}/trials/{other['number']}/files/model.tflite")
        assert status == 404
    finally:
        process.stop()
