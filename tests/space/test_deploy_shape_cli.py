"""``--input-shape`` and ``--classes``: deploy models at the user's shape, one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lce_nas.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    ("args", "message"),
    [
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
def test_bad_shapes_are_one_line_with_exit_code_2(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and message in lines[0]


@pytest.mark.parametrize("space_name", ["quicknet", "birealnet", "binarydensenet", "realtobinary"])
def test_describe_at_the_users_shape(space_name):
    from lce_nas.space import get_space

    space = get_space(space_name)
    config = next(iter(space.presets().values()))
    default = json.loads(run("describe", "--space", space_name, "--json").output)
    result = run(
        "describe", "--space", space_name, "--input-shape", "96x96x1", "--classes", "2", "--json"
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["deploy_shape"] == "96x96x1/2" and default["deploy_shape"] == "224x224x3/1000"
    assert record["parameters"] == space.describe(config, (96, 96, 1), 2).parameters
    assert record["parameters"] < default["parameters"]
    assert record["binary_macs"] < default["binary_macs"]
    # The architecture is the same: one fingerprint, whatever shape it is deployed at.
    assert record["fingerprint"] == default["fingerprint"]


def test_convert_builds_the_users_shape(tmp_path):
    import numpy as np
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    out = tmp_path / "grey.tflite"
    params = json.dumps({"stage_blocks": [1, 1, 1, 1], "stage_filters": [32, 32, 64, 64]})
    result = run(
        "convert", "--space", "birealnet", "--params", params,
        "--input-shape", "64x48x1", "--classes", "2", "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4 LceBconv2d" in result.output
    probs = Interpreter(out.read_bytes()).predict(np.zeros((1, 64, 48, 1), np.float32))
    assert probs.shape == (1, 2)
