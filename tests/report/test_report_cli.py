"""``lce-nas report`` end to end: real conversions, real timing, real database, real browser."""

from __future__ import annotations

import pytest
from engine_support import LCE_NAS, run_cli, ssh_profile
from lce_nas.engine.breakdown import CATEGORIES
from report_support import FAST_HOST, measurement_count, read_csv

NUMBERS = ("median_ms", "p10_ms", "p90_ms", "runs")


def _report(cwd, *args: str, timeout: float = 600):
    return run_cli("report", "--db", f"sqlite:///{cwd}/t.db", *args, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """One fresh report on the fast host profile: (folder, process)."""
    cwd = tmp_path_factory.mktemp("report")
    (cwd / "lce-nas.toml").write_text(FAST_HOST)
    return cwd, _report(cwd, "--device", "fast", "-o", "out")


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "lce-nas.toml").write_text(FAST_HOST)
    (tmp_path / "a-file").write_text("")
    cases = [
        (("--device", "fast", "-o", "a-file"), "is a file; give a folder"),
        (("--device", "rpi4", "--device-host", "pi@127.0.0.1", "--engine", "native"),
         "--engine applies to host devices"),
        (("--device", "nowhere"), "unknown device 'nowhere'"),
        (("--device", "fast", "--block", "conv9_x"), "Invalid value for '--block'"),
        (("--device", "fast", "--blocks-only", "--breakdown-only"), "at most one of"),
    ]  # fmt: skip
    for args, message in cases:
        proc = _report(tmp_path, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("error: ") and message in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "t.db").exists() or measurement_count(tmp_path / "t.db") == 0


@pytest.mark.slow
def test_fresh_report_writes_every_file_and_stores_every_number(fresh):
    cwd, proc = fresh
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = cwd / "out"
    for name in ("report.html", "report.md", "report.csv", "speedups.csv", "blocks.png",
                 "breakdown.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    rows = read_csv(out / "report.csv")
    # 4 blocks x 3 precisions on LCE, then 3 models on LCE and on the native engine
    # (LCE's interpreter has no per-op timers; the native profile splits the same file).
    assert len(rows) == 12 + 6
    assert {r["source"] for r in rows} == {"measured"}
    for row in rows:
        assert all(float(row[n]) > 0 for n in NUMBERS), row
        assert float(row["p10_ms"]) <= float(row["median_ms"]) <= float(row["p90_ms"])
    native = [r for r in rows if r["engine"] != "lce-interpreter"]
    assert [r["item"] for r in native] == ["QuickNetLarge", "Real-to-Binary Net",
                                           "BinaryDenseNet28"]  # fmt: skip
    for row in native:
        split = sum(float(row[f"{c}_ms"]) for c in CATEGORIES)
        assert split == pytest.approx(float(row["median_ms"]), rel=1e-3)
        assert float(row["binary_conv_ms"]) > 0 and float(row["first_layer_ms"]) > 0
    # Every number is a stored measurement under its full key.
    from lce_nas.latency_db import LatencyStore
    from lce_nas.latency_db.records import measurement_from_row

    with LatencyStore(f"sqlite:///{cwd}/t.db", create=False) as store:
        for row in rows:
            stored = store.measurement_rows(fingerprint=row["fingerprint"], device="fast")
            match = [
                m
                for m in map(measurement_from_row, stored)
                if (m.engine, m.deploy_shape, m.threads) == (row["engine"], row["deploy_shape"], 1)
            ]
            assert len(match) == 1, row
            assert match[0].median_ms == pytest.approx(float(row["median_ms"]), rel=1e-5)
    assert measurement_count(cwd / "t.db") == len(rows)
    ups = read_csv(out / "speedups.csv")
    assert len(ups) == 4 and all(float(u["binary_over_float32"]) > 0 for u in ups)
    assert all(float(u["binary_over_int8"]) > 0 for u in ups)
    md = (out / "report.md").read_text()
    assert "paper: up to 17x faster on a Pixel 1 phone" in md and "paper: up to 12x faster" in md
    assert "MLSys 2021" in md and "conv2_x" in md
    assert "[18/18]" in proc.stderr  # progress lines while it measures
    assert "18 measured" in proc.stdout  # the summary table


@pytest.mark.slow
def test_second_report_answers_from_the_database(fresh):
    cwd, first = fresh
    assert first.returncode == 0, first.stderr[-3000:]
    before = measurement_count(cwd / "t.db")
    proc = _report(cwd, "--device", "fast", "-o", "again")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert measurement_count(cwd / "t.db") == before  # nothing new was timed
    rows = read_csv(cwd / "again" / "report.csv")
    assert {r["source"] for r in rows} == {"cache"}
    old = {
        (r["fingerprint"], r["engine"]): r["median_ms"]
        for r in read_csv(cwd / "out" / "report.csv")
    }
    assert {(r["fingerprint"], r["engine"]): r["median_ms"] for r in rows} == old
    assert "converting" not in proc.stderr  # nothing was even built


@pytest.mark.slow
def test_db_export_carries_the_report_to_a_colleague(fresh, tmp_path):
    cwd, first = fresh
    assert first.returncode == 0, first.stderr[-3000:]
    export = tmp_path / "report-export.json"
    proc = run_cli("db", "export", "--db", f"sqlite:///{cwd}/t.db", "-o", str(export), cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    colleague = tmp_path / "colleague"
    colleague.mkdir()
    (colleague / "lce-nas.toml").write_text(FAST_HOST)
    proc = run_cli("db", "import", str(export), "--db", f"sqlite:///{colleague}/t.db",
                   cwd=colleague)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert measurement_count(colleague / "t.db") == measurement_count(cwd / "t.db")
    proc = _report(colleague, "--device", "fast", "--blocks-only", "-o", "out")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {r["source"] for r in read_csv(colleague / "out" / "report.csv")} == {"cache"}


@pytest.mark.slow
def test_report_html_shows_both_figures_in_a_browser(fresh, page):
    from PIL import Image

    cwd, proc = fresh
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = cwd / "out" / "report.html"
    assert "src='data:image/png;base64," in html.read_text()  # self-contained
    page.goto(html.as_uri())
    for element in ("#fig-blocks", "#fig-breakdown"):
        size = page.eval_on_selector(
            element, "img => [img.complete, img.naturalWidth, img.naturalHeight]"
        )
        assert size[0] and size[1] > 300 and size[2] > 200, (element, size)
    shot = cwd / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as image:
        colors = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
    assert len(colors) > 50  # drawn bars and text, not a blank page
    assert page.locator("h2").all_inner_texts() == [
        "Binarization's effect on latency (ResNet-18 blocks)",
        "Latency breakdown",
    ]


@pytest.mark.slow
def test_native_engine_does_not_time_int8_blocks_beside_lce(fresh):
    cwd, first = fresh
    assert first.returncode == 0, first.stderr[-3000:]
    proc = _report(cwd, "--device", "fast", "--engine", "native", "--blocks-only",
                   "--block", "conv5_x", "-o", "native")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {(r["engine"], r["precision"]): r for r in read_csv(cwd / "native" / "report.csv")}
    int8 = next(r for (engine, p), r in rows.items() if p == "int8" and engine != "lce-interpreter")
    # It runs int8 models, with integer reference loops: no figure to set against binary.
    assert int8["source"] == "skipped" and int8["median_ms"] == ""
    assert "integer reference loops" in int8["note"]
    assert rows["lce-interpreter", "int8"]["source"] == "cache"  # LCE's figure stands beside it
    assert float(rows["lce-interpreter", "int8"]["median_ms"]) > 0
    md = (cwd / "native" / "report.md").read_text()
    assert "not timed" in md


@pytest.mark.slow
def test_report_over_ssh_on_the_loopback_sshd(report_sshd, tmp_path):
    remote = tmp_path / "remote"
    (tmp_path / "lce-nas.toml").write_text(
        ssh_profile(report_sshd, remote, max_seconds=1.0, batch_runs=3)
    )
    # The loopback's device-side tool (lce-nas benchmark-model) has per-op timers
    # only with the native engine, which times no int8 blocks: the blocks go over SSH here,
    # the breakdown's profile path over SSH is tests/engine/test_ssh.py's.
    args = ("--device", "loopback", "--blocks-only", "--block", "conv5_x", "-o", "out")
    proc = _report(tmp_path, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_csv(tmp_path / "out" / "report.csv")
    assert [(r["precision"], r["engine"], r["source"]) for r in rows] == [
        ("float32", "lce_benchmark_model", "measured"),
        ("int8", "lce_benchmark_model", "measured"),
        ("binary", "lce_benchmark_model", "measured"),
    ]
    assert all(float(r["median_ms"]) > 0 and r["device"] == "loopback" for r in rows)
    assert measurement_count(tmp_path / "t.db") == 3
    again = _report(tmp_path, *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {r["source"] for r in read_csv(tmp_path / "out" / "report.csv")} == {"cache"}
    assert measurement_count(tmp_path / "t.db") == 3


@pytest.mark.slow
def test_breakdown_over_ssh_on_the_loopback_sshd(report_sshd, tmp_path):
    # Per-op timers on the far side: the stand-in tool runs the native engine there.
    (tmp_path / "lce-nas.toml").write_text(
        ssh_profile(
            report_sshd,
            tmp_path / "remote",
            benchmark_binary=f"{LCE_NAS} benchmark-model --engine=native",
            max_seconds=1.0,
            batch_runs=3,
        )
    )
    proc = _report(tmp_path, "--device", "loopback", "--breakdown-only", "-o", "out", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_csv(tmp_path / "out" / "report.csv")
    assert [r["item"] for r in rows] == ["QuickNetLarge", "Real-to-Binary Net",
                                         "BinaryDenseNet28"]  # fmt: skip
    for row in rows:
        assert (row["device"], row["engine"], row["source"]) == (
            "loopback",
            "lce_benchmark_model",
            "measured",
        )
        split = sum(float(row[f"{c}_ms"]) for c in CATEGORIES)
        assert split == pytest.approx(float(row["median_ms"]), rel=1e-3)
        assert float(row["binary_conv_ms"]) > 0 and float(row["first_layer_ms"]) > 0
    assert measurement_count(tmp_path / "t.db") == 3
    assert (tmp_path / "out" / "breakdown.png").stat().st_size > 0
