"""The space commands, and their one-line errors for bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lce_nas import __version__
from lce_nas.cli import main


@pytest.fixture()
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args))

    return invoke


def test_help_lists_working_commands_and_version(run):
    result = run("--help")
    assert result.exit_code == 0
    for command in ("spaces", "describe", "convert"):
        assert command in result.output
    assert run("--version").output.strip().endswith(__version__)


def test_spaces_lists_quicknet_and_presets(run):
    result = run("spaces")
    assert result.exit_code == 0
    assert "quicknet" in result.output and "quicknet-large" in result.output


def test_describe_json_matches_the_space(run, quicknet_space):
    result = run("describe", "--preset", "quicknet-small", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["parameters"] == 12_664_344
    assert record["fingerprint"] == quicknet_space.fingerprint(
        quicknet_space.preset("quicknet-small")
    )
    assert record["preset"] == "quicknet-small"


def test_describe_reads_a_params_file(run, tmp_path):
    path = tmp_path / "arch.json"
    path.write_text(json.dumps({"section_blocks": [1, 1, 1, 1], "kernel_size": 5}))
    record = json.loads(run("describe", "--params-file", str(path), "--json").output)
    assert record["config"]["section_blocks"] == [1, 1, 1, 1]
    assert record["preset"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["describe", "--space", "resnet"],
            "unknown space 'resnet' (choose from: "
            "binarydensenet, birealnet, quicknet, realtobinary)",
        ),
        (["describe", "--preset", "quicknet-xl"], "unknown preset 'quicknet-xl'"),
        (["describe", "--params", '{"kernel_size": 4}'], "kernel_size must be one of 3, 5"),
        (["describe", "--params", '{"section_blocks": [4, 4, 13, 4]}'], "in 1..12"),
        (["describe", "--params", '{"section_filters": [48, 64, 64, 64]}'], "multiples of 32"),
        (["describe", "--params", '{"depth": 3}'], "unknown parameter 'depth'"),
        (["describe", "--params", "{not json"], "malformed JSON"),
        (["describe", "--params-file", "/no/such/file.json"], "cannot read --params-file"),
        (["describe", "--preset", "quicknet", "--params", "{}"], "give only one of"),
        (["convert", "--preset", "quicknet", "-o", "/no/such/dir/q.tflite"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(run, args, message):
    result = run(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_convert_writes_a_tflite_that_lce_runs(run, tmp_path):
    import numpy as np
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    out = tmp_path / "small.tflite"
    params = json.dumps(
        {"section_blocks": [1, 1, 1, 1], "section_filters": [32, 32, 64, 64], "stem_filters": 8}
    )
    result = run(
        "convert", "--params", params, "--input-size", "64", "--classes", "10", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "4 LceBconv2d" in result.output
    probs = Interpreter(out.read_bytes()).predict(np.zeros((1, 64, 64, 3), np.float32))
    assert probs.shape == (1, 10)
