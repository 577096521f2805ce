"""Fixtures for the search-space tests: converted models are built once per session."""

from __future__ import annotations

import optuna
import pytest
from lce_nas.space import get_space


@pytest.fixture(scope="session")
def quicknet_space():
    return get_space("quicknet")


@pytest.fixture(scope="session")
def sampled_configs(quicknet_space):
    """20 configs drawn by Optuna's RandomSampler with a fixed seed."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=20))
    configs = []
    for _ in range(20):
        trial = study.ask()
        configs.append(quicknet_space.suggest(trial))
        study.tell(trial, 0.0)
    return configs


@pytest.fixture(scope="session")
def quicknet_tflite(quicknet_space) -> bytes:
    from lce_nas.engine.convert import convert_model

    return convert_model(quicknet_space.build_deploy(quicknet_space.preset("quicknet")))
