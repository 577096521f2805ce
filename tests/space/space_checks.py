"""Checks shared by the tests of every search space."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from process_support import in_fresh_processes, interleaved

# (space, fingerprint) of every config already checked in this session: the few-config
# test checks the first draws, which the covering test then skips.
_CHECKED: set[tuple[str, str]] = set()


def build_convert_and_run(space, configs, binary_convs: Callable[[Any], int]) -> None:
    """Each config's deploy model matches ``describe``; its proxy converts and runs in LCE."""
    fresh = [c for c in configs if (space.name, space.fingerprint(c)) not in _CHECKED]
    expected = [(config, binary_convs(config)) for config in fresh]
    calls = [(space.name, part) for part in interleaved(expected)]
    in_fresh_processes(_build_convert_and_run, calls)
    _CHECKED.update((space.name, space.fingerprint(c)) for c in fresh)


def _build_convert_and_run(space_name: str, expected: list[tuple[Any, int]]) -> None:
    from larq_compute_engine.tflite.python.interpreter import Interpreter
    from lce_nas.engine.convert import convert_model, op_counts
    from lce_nas.space import get_space

    space = get_space(space_name)
    rng = np.random.default_rng(0)
    for config, convs in expected:
        deploy = space.build_deploy(config, input_shape=(32, 32, 3), classes=10)
        assert deploy.count_params() == space.describe(config, (32, 32, 3), 10).parameters
        # Proxy width keeps the conversion small; the block structure is the deploy model's.
        proxy = space.build_proxy(config, (32, 32, 3), classes=10, width=0.125)
        tflite = convert_model(proxy)
        assert op_counts(tflite)["LceBconv2d"] == convs
        x = rng.standard_normal((1, 32, 32, 3)).astype(np.float32)
        out = Interpreter(tflite, num_threads=1).predict(x)
        assert out.shape == (1, 10)
        assert np.isclose(out.sum(), 1.0, atol=1e-4)


def convert_presets(space_name: str, presets: list[str]) -> dict[str, bytes]:
    """``{preset: flatbuffer}``: each preset's deploy model converted with LCE (call it
    through :func:`~process_support.in_fresh_processes`)."""
    from lce_nas.engine.convert import convert_model
    from lce_nas.space import get_space

    space = get_space(space_name)
    return {p: convert_model(space.build_deploy(space.preset(p))) for p in presets}
