"""Fixtures for the search-space tests: converted models are built once per session."""

from __future__ import annotations

import pytest
from lce_nas.space import get_space
from process_support import in_fresh_processes
from sampling_support import sample_configs
from space_checks import convert_presets

ZOO_SPACES = ("birealnet", "binarydensenet", "realtobinary")


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
    """Converted 224 px presets of the larq-zoo families, converted once per session (at
    the first use, each space's presets together in a process of their own)."""
    cache: dict[str, dict[str, bytes]] = {}

    def converted(space_name: str, preset: str) -> bytes:
        if not cache:
            calls = [(name, list(get_space(name).presets())) for name in ZOO_SPACES]
            flatbuffers = in_fresh_processes(convert_presets, calls)
            cache.update(zip(ZOO_SPACES, flatbuffers, strict=True))
        return cache[space_name][preset]

    return converted
