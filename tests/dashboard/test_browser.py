"""The pages in a real headless Chromium: plots, labels, live updates, read-only browsing."""

from __future__ import annotations

import pytest
from dashboard_support import DashboardProcess, file_digest

# Points a study page's scatter draws per trace, read back from Plotly's own graph data.
_TRACE_POINTS = """
() => {
  const gd = document.getElementById('pareto');
  if (!gd || !gd.data) return null;
  return gd.data.map(t => ({name: t.name, meta: t.meta, numbers: t.customdata}));
}
"""


def _wait_for_plot(page, element_id: str) -> None:
    page.wait_for_function(
        f"() => {{ const gd = document.getElementById('{element_id}');"
        " return gd && gd.data && gd.querySelector('.main-svg') !== null; }"
    )


def _open_study(page, server, study: str) -> list[dict]:
    response = page.goto(f"{server.url}studies/{study}")
    assert response.status == 200
    _wait_for_plot(page, "pareto")
    return page.evaluate(_TRACE_POINTS)


def _png_summary(path) -> tuple[int, int, int]:
    """Width, height and number of distinct colours of a PNG file (checked to be one)."""
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert image.format == "PNG"
        colors = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
        return image.width, image.height, len(colors)


def test_study_page_draws_one_point_per_completed_trial_and_labels_presets(
    page, server, fixture_db
):
    study = fixture_db.main_study
    traces = _open_study(page, server, study)
    told = fixture_db.trials[study]
    complete = sorted(t["number"] for t in told if t["state"] == "COMPLETE")
    drawn = sorted(n for t in traces if t["meta"] == "completed" for n in t["numbers"])
    assert drawn == complete
    failed_with_latency = [t["number"] for t in told if t["state"] == "FAIL" and t["latency_ms"]]
    failed = next(t for t in traces if t["meta"] == "failed")
    assert failed["numbers"] == failed_with_latency
    front = next(t for t in traces if t["name"] == "Pareto front")
    api_front = page.evaluate(
        f"async () => (await (await fetch('/api/studies/{study}/front')).json())"
        ".trials.map(r => r.number)"
    )
    assert sorted(front["numbers"]) == sorted(api_front)
    # Rendered SVG markers: every completed trial plus the failed ones with a latency.
    markers = page.locator("#pareto .scatterlayer path.point").count()
    assert markers == len(complete) + len(failed_with_latency)
    labels = page.locator("#pareto .annotation-text").all_text_contents()
    assert sorted(labels) == sorted(fixture_db.presets)

    rows = page.locator("#trial-table tbody tr")
    assert rows.count() == len(told)
    page.select_option("#trial-state", "front")
    assert rows.count() == len(front["numbers"])
    page.select_option("#trial-state", "")
    page.fill("#trial-filter", "injected by the dashboard test")
    assert rows.count() == 2
    page.fill("#trial-filter", "")
    page.click("#trial-table th[data-key=latency_ms]")
    first_cells = page.locator("#trial-table tbody tr td:first-child").all_text_contents()
    fastest = min((t for t in told if t["latency_ms"]), key=lambda t: t["latency_ms"])
    assert int(first_cells[0]) == fastest["number"]

    page.check("#log-x")
    page.wait_for_function("() => document.getElementById('pareto').layout.xaxis.type === 'log'")
    assert page.locator("#pareto .annotation-text").count() == len(fixture_db.presets)


def test_trial_page_draws_the_latency_breakdown(page, server, fixture_db, tmp_path):
    study = fixture_db.main_study
    preset = next(t for t in fixture_db.trials[study] if t.get("preset") == "quicknet")
    response = page.goto(f"{server.url}studies/{study}/trials/{preset['number']}")
    assert response.status == 200
    _wait_for_plot(page, "breakdown")
    _wait_for_plot(page, "latency-dist")
    bars = page.evaluate(
        "() => document.getElementById('breakdown').data.map(t => ({name: t.name, y: t.y, x: t.x}))"
    )
    assert [b["name"] for b in bars] == [
        "first layer",
        "binary convolutions",
        "glue",
        "last layer",
    ]
    detail = page.evaluate(
        f"async () => (await fetch('/api/studies/{study}/trials/{preset['number']}')).json()"
    )
    expected = {c["label"]: c["ms"] for c in detail["profile"]["breakdown"]["categories"]}
    assert bars[0]["y"][0].startswith(f"#{preset['number']}")
    for bar in bars:
        assert bar["x"][0] == expected[bar["name"]]
    # One stacked bar per preset (this trial is one of them), four segments each.
    assert len(bars[0]["y"]) == len(fixture_db.presets)
    assert page.locator("#breakdown .barlayer path").count() >= 4 * len(fixture_db.presets) - 3
    assert page.locator("#op-table tbody tr").count() == len(detail["profile"]["op_profile"])
    assert page.locator("#breakdown-note").inner_text() == ""  # the study's own key
    assert "section_filters" in page.locator("#config").inner_text()

    shot = tmp_path / "trial.png"
    page.screenshot(path=str(shot), full_page=True)
    width, height, colors = _png_summary(shot)
    assert width == 1300 and height > 900
    assert colors > 50  # text, plots and bars: not a blank page


def test_study_and_compare_pages_render(page, server, fixture_db, tmp_path):
    response = page.goto(server.url)
    assert response.status == 200
    page.wait_for_selector("#studies table")
    names = page.locator("#studies tbody tr td:first-child").all_text_contents()
    assert sorted(names) == sorted([fixture_db.main_study, fixture_db.other_study])

    page.goto(f"{server.url}compare")
    _wait_for_plot(page, "compare")
    traces = page.evaluate("() => document.getElementById('compare').data.map(t => t.name)")
    assert len(traces) == 2 and any("lce-interpreter" in t for t in traces)
    page.uncheck(f"#compare-pick input[value='{fixture_db.other_study}']")
    page.wait_for_function("() => document.getElementById('compare').data.length === 1")
    assert f"study={fixture_db.main_study}" in page.url

    _open_study(page, server, fixture_db.main_study)
    page.screenshot(path=str(tmp_path / "study.png"), full_page=True)
    assert _png_summary(tmp_path / "study.png")[2] > 50


def test_unknown_study_shows_a_404_page(page, server):
    response = page.goto(f"{server.url}studies/no-such-study")
    assert response.status == 404
    assert "not found" in page.locator("h1").inner_text()
    assert "no-such-study" in page.locator("#error-message").inner_text()
    assert "Traceback" not in page.content()
    response = page.goto(f"{server.url}studies/fixture-native/trials/12345")
    assert response.status == 404


def test_browsing_leaves_the_database_unchanged(page, server, fixture_db):
    before = file_digest(fixture_db.path)
    study = fixture_db.main_study
    for path in ("", f"studies/{study}", "compare", f"studies/{fixture_db.other_study}"):
        page.goto(server.url + path)
        page.wait_for_selector("#live.on")
    for told in fixture_db.trials[study]:
        page.goto(f"{server.url}studies/{study}/trials/{told['number']}")
        page.wait_for_selector("#live.on")
    # Let at least one live poll of the last page run, too.
    page.wait_for_function("() => document.getElementById('live').textContent.includes('live')")
    assert file_digest(fixture_db.path) == before


def test_a_running_search_shows_up_without_a_reload(page, db_copy):
    import optuna

    process = DashboardProcess("--db", db_copy.url, "--port", "0", "--refresh", "0.5")
    try:
        study_name = db_copy.main_study
        traces = _open_study(page, process, study_name)
        shown = sum(len(t["numbers"]) for t in traces if t["meta"] == "completed")
        page.evaluate("() => { window.notReloaded = true; }")

        # A search process finishes one more candidate.
        study = optuna.load_study(study_name=study_name, storage=db_copy.url)
        trial = study.ask()
        trial.set_user_attr("fingerprint", "f" * 64)
        trial.set_user_attr("feasible", True)
        trial.set_constraint("latency", -1.0)
        study.tell(trial, [0.99, 0.001])
        del study

        page.wait_for_function(
            "n => document.getElementById('pareto').data"
            ".filter(t => t.meta === 'completed')"
            ".reduce((sum, t) => sum + t.customdata.length, 0) === n",
            arg=shown + 1,
            timeout=30_000,
        )
        assert page.evaluate("() => window.notReloaded === true")
        front = page.evaluate(_TRACE_POINTS)
        assert trial.number in next(t for t in front if t["name"] == "Pareto front")["numbers"]
    finally:
        process.stop()


def test_trial_page_marks_a_profile_of_another_key(page, server, fixture_db):
    study = fixture_db.other_study  # timed by LCE's interpreter, which does not profile
    first = fixture_db.trials[study][0]
    page.goto(f"{server.url}studies/{study}/trials/{first['number']}")
    _wait_for_plot(page, "breakdown")
    note = page.locator("#breakdown-note").inner_text()
    measurement_id = fixture_db.measurement_ids[first["fingerprint"]]
    assert f"measurement #{measurement_id}" in note and "native" in note
    assert page.locator("#op-table tbody tr").count() > 16


def test_study_page_plots_predicted_against_measured_and_counts_saved_conversions(page, db_copy):
    import math

    import optuna

    study_name = db_copy.main_study
    study = optuna.load_study(study_name=study_name, storage=db_copy.url)
    # Copies of three timed trials, now with the prediction made before they were timed.
    added = []
    complete = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    for factor, trial in zip((1.02, 0.95, 1.3), complete[:3], strict=True):
        median = trial.user_attrs["latency"]["median_ms"] * factor
        prediction = {"median_ms": median, "low_ms": median * 0.9, "high_ms": median * 1.1}
        study.add_trial(
            optuna.trial.create_trial(
                values=trial.values, user_attrs={**trial.user_attrs, "prediction": prediction}
            )
        )
        added.append(len(study.get_trials()) - 1)
    # One candidate ruled out by its prediction: no latency, never converted.
    trial = study.ask()
    trial.set_user_attr("prediction", {"median_ms": 900.0, "low_ms": 800.0, "high_ms": 990.0})
    trial.set_user_attr("feasible", False)
    trial.set_user_attr("infeasible", "predicted 900.0 ms (interval from 800.0) > limit 60.0 ms")
    study.tell(trial, [0.0, math.inf])
    del study

    process = DashboardProcess("--db", db_copy.url, "--port", "0", "--refresh", "0")
    try:
        page.goto(f"{process.url}studies/{study_name}")
        _wait_for_plot(page, "prediction")
        points = page.evaluate(
            "() => document.getElementById('prediction').data"
            ".filter(t => t.mode === 'markers').map(t => t.customdata)"
        )
        assert sorted(points[0]) == added
        note = page.locator("#prediction-note").text_content()
        assert note.startswith("3 candidates predicted, then measured: 2 within ±10 %")
        assert "saved 1 conversion:" in note
        assert page.locator("#trial-table").get_by_text("> limit 60.0 ms").count() == 1
    finally:
        process.stop()


# Per trace of the study page's scatter: its trial numbers and accuracy error bars.
_ERROR_BARS = """
() => document.getElementById('pareto').data.map(t => ({
  name: t.name, numbers: t.customdata, errors: t.error_y ? t.error_y.array : null,
}))
"""


def test_a_multi_fidelity_study_shows_rungs_error_bars_and_each_trial_ladder(page, tmp_path):
    from lce_nas.search.record import record_from_frozen
    from stand_in_pool import ladder_search

    url = f"sqlite:///{tmp_path / 'ladder.db'}"
    _, _, loop = ladder_search(url, "ladder", trials=12)
    records = {r.number: r for r in (record_from_frozen(t) for t in loop.study.get_trials())}
    stopped = sorted(n for n, r in records.items() if r.state == "COMPLETE" and not r.at_top)
    assert stopped  # the stand-in's accuracies leave some below the top
    process = DashboardProcess("--db", url, "--port", "0", "--refresh", "60")
    try:
        _open_study(page, process, "ladder")
        traces = {t["name"]: t for t in page.evaluate(_ERROR_BARS)}
        shown = traces["stopped below the top rung (that rung's accuracy)"]
        assert sorted(shown["numbers"]) == stopped
        front = traces["Pareto front"]
        assert front["numbers"] and not set(front["numbers"]) & set(stopped)
        # Bars of one standard error (in %) on every top-rung point; none below the top.
        for number, error in zip(front["numbers"], front["errors"], strict=True):
            assert error == pytest.approx(100 * records[number].accuracy_stderr)
        assert all(e == 0 for e in shown["errors"])
        header = page.locator("#trial-table thead th").all_text_contents()
        assert "rung" in header and "tied with" in header
        assert "top rung of 3: 90 steps" in page.locator("#study-summary").inner_text()

        climbed = max(records.values(), key=lambda r: len(r.ladder))
        page.goto(f"{process.url}studies/ladder/trials/{climbed.number}")
        page.wait_for_selector("#ladder tbody tr")
        cells = page.locator("#ladder tbody tr").all()
        assert len(cells) == len(climbed.ladder) == 3
        last = cells[-1].locator("td").all_text_contents()
        assert last[0] == "2" and last[3] == str(climbed.ladder[-1]["seeds"])
        assert "±" in last[4]
    finally:
        process.stop()
