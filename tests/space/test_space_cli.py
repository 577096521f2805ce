"""The space commands, and their one-line errors for bad input (deploy shapes included)."""

from __future__ import annotations

import json

import pytest
from cli_support import invoke, one_line_error

from lce_nas import __version__


def test_help_lists_working_commands_and_version():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("spaces", "describe", "convert"):
        assert command in result.output
    assert invoke("--version").output.strip().endswith(__version__)


def test_spaces_lists_quicknet_and_presets():
    result = invoke("spaces")
    assert result.exit_code == 0
    assert "quicknet" in result.output and "quicknet-large" in result.output


def test_describe_json_matches_the_space(quicknet_space):
    result = invoke("describe", "--preset", "quicknet-small", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["parameters"] == 12_664_344
    assert record["fingerprint"] == quicknet_space.fingerprint(
        quicknet_space.preset("quicknet-small")
    )
    assert record["preset"] == "quicknet-small"


def test_describe_reads_a_params_file(tmp_path):
    path = tmp_path / "arch.json"
    path.write_text(json.dumps({"section_blocks": [1, 1, 1, 1], "kernel_size": 5}))
    record = json.loads(invoke("describe", "--params-file", str(path), "--json").output)
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
        # --input-shape and --classes, on every command that takes them
        (["describe", "--input-shape", "96x96"], "--input-shape '96x96' is not HxWxC"),
        (["describe", "--input-shape", "96*96*3"], "is not HxWxC"),
        (["describe", "--input-shape", "axbxc"], "is not HxWxC"),
        (["describe", "--input-shape", "0x96x3"], "height and width must be in 16..4096"),
        (["describe", "--input-shape", "-96x96x3"], "height and width must be in 16..4096"),
        (["describe", "--input-shape", "96x96x0"], "channels must be in 1..64"),
        (["describe", "--input-shape", "96x96x-1"], "channels must be in 1..64"),
        (["describe", "--classes", "0"], "--classes must be a whole number in 1..100000, got 0"),
        (["describe", "--classes", "-2"], "--classes must be a whole number"),
        (["describe", "--classes", "two"], "--classes must be a whole number"),
        (
            ["convert", "--input-size", "64", "--input-shape", "64x64x1", "-o", "m.tflite"],
            "give only one of --input-size and --input-shape",
        ),
        (["search", "--input-shape", "96x96x3x1"], "is not HxWxC"),
        (["evaluate", "--classes", "0"], "--classes must be a whole number"),
        (["bench", "m.tflite", "--input-shape", "96x96x3"], "apply to --space models"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(args, message):
    result = invoke(*args)
    one_line_error(result.exit_code, result.output, message)


def test_convert_writes_a_tflite_that_lce_runs(tmp_path):
    import numpy as np
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    out = tmp_path / "small.tflite"
    params = json.dumps(
        {"section_blocks": [1, 1, 1, 1], "section_filters": [32, 32, 64, 64], "stem_filters": 8}
    )
    result = invoke(
        "convert", "--params", params, "--input-size", "64", "--classes", "10", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "4 LceBconv2d" in result.output
    probs = Interpreter(out.read_bytes()).predict(np.zeros((1, 64, 64, 3), np.float32))
    assert probs.shape == (1, 10)
