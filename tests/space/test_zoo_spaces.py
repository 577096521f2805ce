"""The larq-zoo families' spaces: presets match larq-zoo, sampled configs run in LCE."""

from __future__ import annotations

import dataclasses

import optuna
import pytest
from lce_nas.space import get_space
from lce_nas.space.binarydensenet import DenseNetConfig, transition_filters
from sampling_support import covering_configs, sample_configs
from space_checks import build_convert_and_run

from lce_nas.errors import UserError

# Counted on larq-zoo's literature definitions, re-typed with larq 0.14 at
# 224x224x3 / 1000 classes (the same counts as larq-zoo's docstrings).
ZOO_PARAMETERS = {
    ("birealnet", "birealnet"): 11_699_112,
    ("birealnet", "binary-resnet-e18"): 11_699_368,
    ("binarydensenet", "binary-densenet28"): 5_150_504,
    ("binarydensenet", "binary-densenet37"): 8_734_120,
    ("binarydensenet", "binary-densenet37-dilated"): 8_734_120,
    ("binarydensenet", "binary-densenet45"): 13_939_240,
    ("realtobinary", "realtobinary"): 11_995_624,
}
# Binary and 32-bit MACs published in larq's zoo table, in millions.
ZOO_MACS = {
    "birealnet": (1676, 137.8),
    "binary-resnet-e18": (1676, 137.8),
    "binary-densenet28": (3587, 202.5),
    "binary-densenet37": (4507, 199.7),
    "binary-densenet37-dilated": (7774, 452.6),
    "binary-densenet45": (6431, 244.1),
    "realtobinary": (1676, 138.1),
}
_RESNET_OPS = {
    "ADD": 16,
    "AVERAGE_POOL_2D": 4,
    "CONV_2D": 4,
    "FULLY_CONNECTED": 1,
    "LceBconv2d": 16,
    "LceQuantize": 16,
    "MAX_POOL_2D": 1,
    "SOFTMAX": 1,
}


def _densenet_ops(layers: int, max_pools: int) -> dict[str, int]:
    return {
        "AVERAGE_POOL_2D": 1,
        "CONCATENATION": layers,
        "CONV_2D": 4,
        "FULLY_CONNECTED": 1,
        "LceBconv2d": layers,
        "LceQuantize": layers,
        "MAX_POOL_2D": max_pools,
        "MUL": layers + 4,
        "SOFTMAX": 1,
    }


# larq-zoo's models (re-typed as above) converted by LCE 0.16.0.
ZOO_OPS = {
    "birealnet": _RESNET_OPS,
    "binary-resnet-e18": {**_RESNET_OPS, "MUL": 1},
    "binary-densenet28": _densenet_ops(23, 4),
    "binary-densenet37": _densenet_ops(32, 4),
    "binary-densenet37-dilated": _densenet_ops(32, 2),
    "binary-densenet45": _densenet_ops(40, 4),
    "realtobinary": {
        "ADD": 16,
        "AVERAGE_POOL_2D": 20,
        "CONV_2D": 4,
        "FULLY_CONNECTED": 33,
        "LOGISTIC": 16,
        "LceBconv2d": 16,
        "LceQuantize": 16,
        "MAX_POOL_2D": 1,
        "MUL": 32,
        "PRELU": 17,
        "SOFTMAX": 1,
    },
}

BINARY_CONVS = {
    "birealnet": lambda c: sum(c.stage_blocks),
    "binarydensenet": lambda c: sum(c.block_layers),
    "realtobinary": lambda c: sum(c.stage_blocks),
}


@pytest.fixture(scope="module", params=sorted(BINARY_CONVS))
def zoo_space(request):
    return get_space(request.param)


@pytest.mark.parametrize(("space_name", "preset"), sorted(ZOO_PARAMETERS))
def test_presets_have_larq_zoo_parameter_counts(space_name, preset):
    space = get_space(space_name)
    config = space.preset(preset)
    model = space.build_deploy(config)
    assert model.count_params() == ZOO_PARAMETERS[space_name, preset]
    assert space.describe(config).parameters == ZOO_PARAMETERS[space_name, preset]
    assert model.output_shape == (None, 1000)


@pytest.mark.parametrize(("space_name", "preset"), sorted(ZOO_PARAMETERS))
def test_presets_have_published_macs(space_name, preset):
    summary = get_space(space_name).describe(get_space(space_name).preset(preset))
    binary, floating = ZOO_MACS[preset]
    assert round(summary.binary_macs / 1e6) == binary
    assert round(summary.float_macs / 1e6, 1) == floating


@pytest.mark.slow
@pytest.mark.parametrize(("space_name", "preset"), sorted(ZOO_PARAMETERS))
def test_converted_presets_have_larq_zoo_op_counts(zoo_tflite, space_name, preset):
    from lce_nas.engine.convert import op_counts

    assert op_counts(zoo_tflite(space_name, preset)) == ZOO_OPS[preset]


def test_a_few_sampled_configs_build_convert_and_run_in_lce(zoo_space):
    build_convert_and_run(zoo_space, sample_configs(zoo_space)[:1], BINARY_CONVS[zoo_space.name])


@pytest.mark.slow
@pytest.mark.timeout(1800)  # eight conversions of up to 64 binary convs each
def test_configs_covering_twenty_draws_build_convert_and_run_in_lce(zoo_space):
    configs = covering_configs(zoo_space)
    build_convert_and_run(zoo_space, configs, BINARY_CONVS[zoo_space.name])


def test_sampled_configs_are_distinct_and_describe_matches_small_builds(zoo_space):
    configs = sample_configs(zoo_space)
    assert len({zoo_space.fingerprint(c) for c in configs}) == len(configs)
    for config in configs[:3]:
        model = zoo_space.build_deploy(config, (64, 64, 1), classes=2)
        assert model.count_params() == zoo_space.describe(config, (64, 64, 1), 2).parameters
        assert model.input_shape == (None, 64, 64, 1)


def test_trial_params_and_params_round_trip(zoo_space):
    for config in [*zoo_space.presets().values(), *sample_configs(zoo_space, 5)]:
        fixed = optuna.trial.FixedTrial(zoo_space.trial_params(config))
        assert zoo_space.suggest(fixed) == config
        assert zoo_space.config_from_params(zoo_space.to_params(config)) == config


@pytest.mark.parametrize("input_shape", [(28, 28, 1), (32, 32, 3)])
def test_proxies_keep_the_block_structure_on_small_images(zoo_space, input_shape):
    import numpy as np

    config = next(iter(zoo_space.presets().values()))
    proxy = zoo_space.build_proxy(config, input_shape, classes=10, width=0.25)
    binary = [layer for layer in proxy.layers if getattr(layer, "input_quantizer", None)]
    assert len(binary) == BINARY_CONVS[zoo_space.name](config)
    last = binary[-1].output_shape
    assert last[1] >= 2 and last[2] >= 2
    assert proxy.predict(np.zeros((2, *input_shape), np.float32), verbose=0).shape == (2, 10)


def test_birealnet_presets_differ_only_in_recipe():
    space = get_space("birealnet")
    bireal, resnet_e = space.preset("birealnet"), space.preset("binary-resnet-e18")
    assert dataclasses.replace(bireal, recipe="resnet-e") == resnet_e
    assert space.fingerprint(bireal) != space.fingerprint(resnet_e)
    # Pinned: a change here invalidates stored measurements and needs a version bump.
    assert space.fingerprint(bireal) == PINNED["birealnet"]


def test_densenet_transition_widths_follow_larq_zoo():
    space = get_space("binarydensenet")
    assert transition_filters(space.preset("binary-densenet37")) == (128, 192, 256)
    tiny = DenseNetConfig((1, 1, 1, 1), growth_rate=32, initial_filters=32, reductions=(4.0,) * 3)
    assert min(transition_filters(tiny)) == 32  # never rounds to no channels
    assert space.fingerprint(space.preset("binary-densenet28")) == PINNED["binary-densenet28"]


PINNED = {
    "birealnet": "a78a81530222932d72d552ff91bc044b9df649d6a6b968c8df9a9eea7718d6da",
    "binary-densenet28": "67a3f11cb06bd280acd79e872660233be30acc3a2099431c328cf011063bd3e8",
}


@pytest.mark.parametrize(
    ("space_name", "params", "message"),
    [
        ("birealnet", {"stage_filters": [64, 32, 256, 512]}, "must not decrease"),
        ("birealnet", {"stage_filters": [64, 100, 256, 512]}, "multiples of 32"),
        ("birealnet", {"recipe": "xnor"}, "recipe must be one of birealnet, resnet-e"),
        ("birealnet", {"stage_blocks": [4, 4, 4]}, "list of 4 integers in 1..12"),
        ("binarydensenet", {"reductions": [2.7, 2.7]}, "list of 3 values"),
        ("binarydensenet", {"dilations": [1, 1, 3, 1]}, "each one of 1, 2, 4"),
        ("binarydensenet", {"growth_rate": 65}, "growth_rate must be one of"),
        ("binarydensenet", {"depth": 3}, "unknown parameter 'depth'"),
        ("binarydensenet", [1, 2], "must be a JSON object"),
    ],
)
def test_bad_params_are_rejected(space_name, params, message):
    with pytest.raises(UserError, match=message):
        get_space(space_name).config_from_params(params)
