"""Bad input to the search commands: one line, exit code 2, nothing started."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from lce_nas.cli import main
from lce_nas.cli.options import parse_duration
from lce_nas.errors import UserError


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--space", "resnet"], "unknown space 'resnet'"),
        (["search", "--device", "tpu"], "unknown device 'tpu'"),
        (["search", "--device", "rpi4"], "device 'rpi4' is incomplete"),
        (["search", "--time-budget", "3x"], "--time-budget '3x'"),
        (["search", "--max-latency-ms", "nan"], "'nan' is not a finite number"),
        (["search", "--max-size-mb", "inf"], "'inf' is not a finite number"),
        (["search", "--parallel", "0"], "0 is not in the range x>=1"),
        (["search", "--study-name", "a b"], "--study-name 'a b'"),
        (["search", "--min-steps", "400", "--max-steps", "100"], "--max-steps 100 is below"),
        (["search", "--max-steps", "900", "--eta", "1"], "--eta must be above 1"),
        (["search", "--max-steps", "900", "--eta", "0.5"], "--eta must be above 1"),
        (["search", "--max-steps", "0"], "0 is not in the range x>=1"),
        (["search", "--max-steps", "900", "--widths", "0.1,0"], "--widths must be positive"),
        (["search", "--max-steps", "900", "--widths", "0.1,0.2,0.3"], "one width or one per rung"),
        (["search", "--max-steps", "900", "--epochs", "2"], "--epochs fixes one training budget"),
        (["search", "--eta", "1"], "--eta must be above 1"),
        (["search", "--widths", "0.1,0.2,0.3"], "one width or one per rung (2 rungs"),
        (["search", "--single-fidelity", "--max-steps", "900"], "--single-fidelity trains once"),
        (["search", "--epochs", "2", "--eta", "2"], "--epochs fixes one training budget"),
        (["front", "--study", "missing"], "no database at"),
        (["export", "--study", "missing", "-o", "out"], "no database at"),
        (["export", "--study", "s", "--front", "--trial", "1", "-o", "out"], "give one of"),
    ],
)
def test_bad_input_is_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(main, [*args, "--db", db])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_durations():
    assert parse_duration("2h") == 7200
    assert parse_duration("1h30m") == 5400
    assert parse_duration("90s") == 90
    assert parse_duration("45") == 45
    with pytest.raises(UserError, match=r"use e\.g\."):
        parse_duration("h2")


@pytest.mark.parametrize("command", [["front"], ["export", "-o", "out"]])
def test_a_missing_study_is_named_with_the_studies_there(tmp_path, monkeypatch, command):
    import optuna

    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    optuna.create_study(study_name="other", storage=db)
    result = CliRunner().invoke(main, [command[0], "--study", "missing", *command[1:], "--db", db])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (f"error: no study 'missing' in {db} (studies: other)"), (
        result.output
    )


def test_reading_a_missing_database_does_not_create_it(tmp_path):
    db = tmp_path / "absent.db"
    result = CliRunner().invoke(main, ["front", "--study", "s", "--db", f"sqlite:///{db}"])
    assert result.exit_code == 2 and "no database at" in result.output
    assert not db.exists()
