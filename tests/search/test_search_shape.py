"""A search at the user's deploy shape times models of that shape, never another shape's latency."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lce_nas.latency_db import LatencyStore
from optuna.trial import TrialState

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

PLANTED_MS = 0.001


def test_search_at_96x96x3_with_2_classes(workspace, tmp_path, monkeypatch):
    from lce_nas.engine import measurement_key
    from lce_nas.engine.devices import get_device
    from lce_nas.engine.measurement import Measurement
    from lce_nas.space import get_space

    workspace = type(workspace)(tmp_path)  # its own database: it holds planted latencies
    monkeypatch.chdir(tmp_path)  # the fast-host profile is read from ./lce-nas.toml
    space = get_space("birealnet")
    imagenet_key = measurement_key(get_device("fast-host"))
    with LatencyStore(workspace.db) as store:
        # Latencies of the presets at 224x224x3/1000: a search at 96x96x3/2 must not use them.
        for config in space.presets().values():
            store.record_measurement(
                Measurement.from_samples(
                    [PLANTED_MS] * 3,
                    fingerprint=space.fingerprint(config),
                    **{k: v for k, v in vars(imagenet_key).items() if k != "deploy_shape"},
                )
            )
    args = workspace.search_args(
        "small", "--space", "birealnet", "--input-shape", "96x96x3", "--classes", "2",
        "--trials", "2", "--parallel", "1",
    )  # fmt: skip
    result = workspace.run(args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 answers from the database" in result.stdout
    completed = [t for t in workspace.study("small").get_trials() if t.state == TrialState.COMPLETE]
    assert {t.user_attrs.get("preset") for t in completed} == set(space.presets())
    small_key = measurement_key(get_device("fast-host"), "96x96x3/2")
    with LatencyStore(workspace.db) as store:
        for trial in completed:
            assert trial.values[1] > PLANTED_MS * 100
            stored = store.lookup_measurement(trial.user_attrs["fingerprint"], small_key)
            assert stored.deploy_shape == "96x96x3/2"
            assert stored.median_ms == pytest.approx(trial.values[1])
            # The summary used for size limits is the 96 px model's.
            config = space.config_from_params(trial.user_attrs["config"])
            assert trial.user_attrs["summary"] == space.describe(config, (96, 96, 3), 2).to_dict()

    out = tmp_path / "exports"
    exported = workspace.run(workspace.command("export", "--study", "small", "-o", str(out)))
    assert exported.returncode == 0, exported.stderr
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    for folder in (out / "small").iterdir():
        card = json.loads((folder / "model_card.json").read_text())
        assert card["deploy_shape"] == "96x96x3/2"
        # The exported flatbuffer is the timed one, and it takes 96x96x3 images.
        assert card["tflite_sha256"] == card["timed_model_sha256"]
        tflite = (folder / "model.tflite").read_bytes()
        interpreter = Interpreter(tflite)
        assert interpreter.input_shapes == [(1, 96, 96, 3)]
        assert interpreter.output_shapes == [(1, 2)]
        probs = interpreter.predict(np.random.rand(1, 96, 96, 3).astype(np.float32))
        assert np.isclose(probs.sum(), 1.0, atol=1e-3)
