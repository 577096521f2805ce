"""Fixtures for the search-space tests: converted models are built once per session."""

from __future__ import annotations

import pytest
from lce_nas.space import get_space
from space_checks import sample_configs


@pytest.fixture(scope="session")
def quicknet_space():
    return get_space("quicknet")


@pytest.fixture(scope="session")
def sampled_configs(quicknet_space):
    """20 configs drawn by Optuna's RandomSampler with a fixed seed."""
    return sample_configs(quicknet_space)


@pytest.fixture(scope="session")
def quicknet_tflite(quicknet_space) -> bytes:
    from lce_nas.engine.convert import convert_model

    return convert_model(quicknet_space.build_deploy(quicknet_space.preset("quicknet")))


@pytest.fixture(scope="session")
def zoo_tflite():
    """Converted 224 px presets of the larq-zoo families, each converted once per session."""
    from lce_nas.engine.convert import convert_model

    cache: dict[tuple[str, str], bytes] = {}

    def converted(space_name: str, preset: str) -> bytes:
        if (space_name, preset) not in cache:
            space = get_space(space_name)
            cache[space_name, preset] = convert_model(space.build_deploy(space.preset(preset)))
        return cache[space_name, preset]

    return converted
