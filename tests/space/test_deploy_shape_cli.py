"""``--input-shape`` and ``--classes``: deploy models at the user's shape.

Their one-line errors for bad values are in test_space_cli.py.
"""

from __future__ import annotations

import json

import pytest
from cli_support import invoke


@pytest.mark.parametrize("space_name", ["quicknet", "birealnet", "binarydensenet", "realtobinary"])
def test_describe_at_the_users_shape(space_name):
    from lce_nas.space import get_space

    space = get_space(space_name)
    config = next(iter(space.presets().values()))
    default = json.loads(invoke("describe", "--space", space_name, "--json").output)
    result = invoke(
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
    result = invoke(
        "convert", "--space", "birealnet", "--params", params,
        "--input-shape", "64x48x1", "--classes", "2", "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4 LceBconv2d" in result.output
    probs = Interpreter(out.read_bytes()).predict(np.zeros((1, 64, 48, 1), np.float32))
    assert probs.shape == (1, 2)
