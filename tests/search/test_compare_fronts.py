"""Fronts of several studies side by side, on one device and one deploy shape."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from lce_nas.search.compare import comparison_rows
from lce_nas.search.front import StudyFront, study_front
from lce_nas.search.record import TrialRecord

from lce_nas.cli import main
from lce_nas.errors import UserError

KEY = {
    "device": "host",
    "engine": "lce-interpreter",
    "engine_version": "0.16.0",
    "threads": 1,
    "kernel_options": {"use_xnnpack": True},
}


def _results(name: str, space: str, points, **key) -> StudyFront:
    records = [
        TrialRecord(
            number=i, state="COMPLETE", values=(acc, ms), fingerprint=f"{name}{i}",
            feasible_attr=True, summary={"parameters": 10**6},
            latency={"median_ms": ms, "p10_ms": ms, "p90_ms": ms},
        )
        for i, (acc, ms) in enumerate(points)
    ]  # fmt: skip
    meta = {
        "space": space,
        "measurement_key": {**KEY, **key},
        "dataset": "fashion-mnist",
        "proxy_settings": {"epochs": 1},
    }
    return study_front(name, meta, records)


def test_fronts_of_two_spaces_side_by_side_with_the_joint_front():
    quick = _results("q", "quicknet", [(0.60, 10.0), (0.70, 30.0)])
    bireal = _results("b", "birealnet", [(0.65, 12.0), (0.68, 40.0)])
    rows = comparison_rows([quick, bireal])
    assert [(r["study"], r["space"], r["latency_ms"]) for r in rows] == [
        ("q", "quicknet", 10.0),
        ("b", "birealnet", 12.0),
        ("q", "quicknet", 30.0),
        ("b", "birealnet", 40.0),
    ]
    # Bi-Real's 40 ms point is beaten by QuickNet's 30 ms one; the others are on the joint front.
    assert [r["on_joint_front"] for r in rows] == [True, True, True, False]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"device": "rpi4"}, "different device"),
        ({"threads": 4}, "different threads"),
        ({"deploy_shape": "96x96x3/2"}, "different deploy_shape"),
    ],
)
def test_studies_of_other_keys_are_refused(change, message):
    a = _results("a", "quicknet", [(0.6, 10.0)])
    b = _results("b", "birealnet", [(0.6, 10.0)], **change)
    with pytest.raises(UserError, match=message):
        comparison_rows([a, b])


def test_a_study_without_a_stored_shape_compares_as_224():
    old = _results("old", "quicknet", [(0.6, 10.0)])
    new = _results("new", "birealnet", [(0.7, 20.0)], deploy_shape="224x224x3/1000")
    assert len(comparison_rows([old, new])) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--study", "a", "--study", "b", "--csv", "x.csv"], "take one --study"),
        (["--study", "a", "--study", "a"], "each --study may be given once"),
        (["--study", "a", "--study", "missing"], "no database at"),
    ],
)
def test_bad_comparisons_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["front", *args, "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_multi_fidelity_fronts_compare_by_their_top_rung():
    from lce_nas.search.fidelity import Ladder
    from lce_nas.workers.trainer import ProxySettings

    def with_ladder(name: str, min_steps: int, max_steps: int) -> StudyFront:
        results = _results(name, "quicknet", [(0.6, 10.0)])
        ladder = Ladder.geometric(ProxySettings(), min_steps=min_steps, max_steps=max_steps, eta=3)
        results.meta["ladder"] = ladder.to_dict()
        return results

    # Other lower rungs, the same top rung: the front accuracies compare.
    rows = comparison_rows([with_ladder("a", 100, 900), with_ladder("b", 300, 900)])
    assert len(rows) == 2
    with pytest.raises(UserError, match=r"different proxy settings \(at the top rung\)"):
        comparison_rows([with_ladder("a", 100, 900), with_ladder("c", 100, 2700)])
    with pytest.raises(UserError, match="different proxy settings"):
        comparison_rows([with_ladder("a", 100, 900), _results("d", "quicknet", [(0.6, 10.0)])])
