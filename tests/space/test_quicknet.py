"""The quicknet space: presets match larq-zoo, sampled configs build, convert and run."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import optuna
import pytest
from lce_nas.space.quicknet import PRESETS, QuickNetConfig
from lce_nas.space.quicknet_cost import final_spatial
from process_support import in_fresh_process
from sampling_support import covering_configs
from space_checks import build_convert_and_run

from lce_nas.errors import UserError

# larq-zoo 2.4.0 at 224x224x3 and 1000 classes (DESIGN.md).
ZOO_PARAMETERS = {
    "quicknet-small": 12_664_344,
    "quicknet": 13_243_720,
    "quicknet-large": 23_359_304,
}
QUICKNET_OPS = {
    "LceQuantize": 16,
    "LceBconv2d": 16,
    "ADD": 16,
    "CONV_2D": 5,
    "DEPTHWISE_CONV_2D": 4,
    "MAX_POOL_2D": 3,
    "AVERAGE_POOL_2D": 1,
    "FULLY_CONNECTED": 1,
    "SOFTMAX": 1,
}


@pytest.mark.parametrize("preset", sorted(ZOO_PARAMETERS))
def test_presets_have_larq_zoo_parameter_counts(quicknet_space, preset):
    config = quicknet_space.preset(preset)
    model = quicknet_space.build_deploy(config)
    assert model.count_params() == ZOO_PARAMETERS[preset]
    assert quicknet_space.describe(config).parameters == ZOO_PARAMETERS[preset]
    assert model.output_shape == (None, 1000)


def test_converted_quicknet_has_lce_op_counts(quicknet_tflite):
    from lce_nas.engine.convert import op_counts

    assert op_counts(quicknet_tflite) == QUICKNET_OPS


def test_binary_macs_of_presets(quicknet_space):
    # 4 blocks per section of 3x3 binary convs at 56, 28, 14 and 7 px.
    small = quicknet_space.describe(quicknet_space.preset("quicknet-small"))
    sections = zip((56, 28, 14, 7), (32, 64, 256, 512), strict=True)
    expected = sum(4 * s * s * 9 * c * c for s, c in sections)
    assert small.binary_macs == expected
    assert small.packed_bytes < small.parameters * 4 / 2  # most weights are 1-bit


def _binary_convs(config: QuickNetConfig) -> int:
    return sum(config.section_blocks)


def test_a_few_sampled_configs_build_convert_and_run_in_lce(quicknet_space, sampled_configs):
    build_convert_and_run(quicknet_space, sampled_configs[:3], _binary_convs)


@pytest.mark.slow
def test_configs_covering_twenty_draws_build_convert_and_run_in_lce(quicknet_space):
    build_convert_and_run(quicknet_space, covering_configs(quicknet_space), _binary_convs)


@pytest.mark.slow
def test_sampled_deploy_models_convert_at_full_width(quicknet_space, sampled_configs):
    from lce_nas.engine.convert import op_counts

    # The largest of the first draws: full-width weights are what this adds to the proxies'.
    configs = [max(sampled_configs[:3], key=lambda c: quicknet_space.describe(c).parameters)]
    converted = in_fresh_process(_convert_at_full_width, configs)
    for config, tflite in zip(configs, converted, strict=True):
        assert op_counts(tflite)["LceBconv2d"] == sum(config.section_blocks)


def _convert_at_full_width(configs: list[QuickNetConfig]) -> list[bytes]:
    from lce_nas.engine.convert import convert_model
    from lce_nas.space import get_space

    space = get_space("quicknet")
    return [convert_model(space.build_deploy(config, (64, 64, 3), 10)) for config in configs]


@pytest.mark.parametrize("input_shape", [(28, 28, 1), (32, 32, 3)])
def test_builders_work_on_small_images(quicknet_space, input_shape):
    config = quicknet_space.preset("quicknet-small")
    proxy = quicknet_space.build_proxy(config, input_shape, classes=10, width=0.25)
    deploy = quicknet_space.build_deploy(config, input_shape, classes=10)
    assert proxy.output_shape == deploy.output_shape == (None, 10)
    # The proxy keeps the block structure: same number of binary convs.
    binary = [layer for layer in proxy.layers if getattr(layer, "input_quantizer", None)]
    assert len(binary) == sum(config.section_blocks)
    last_section = [layer.output_shape for layer in proxy.layers if layer.name.startswith("add")][
        -1
    ]
    assert last_section[1] >= 2 and last_section[2] >= 2
    x = np.zeros((2, *input_shape), np.float32)
    assert proxy.predict(x, verbose=0).shape == (2, 10)


def test_proxy_drops_stem_strides_only_as_needed():
    from lce_nas.space.quicknet_keras import proxy_stem_strides

    quicknet = PRESETS["quicknet"]
    assert proxy_stem_strides(quicknet, (224, 224, 3)) == (2, 2)
    assert proxy_stem_strides(quicknet, (32, 32, 1)) == (1, 1)
    assert final_spatial(quicknet, (32, 32), (1, 1)) == (4, 4)
    assert final_spatial(quicknet, (224, 224), (2, 2)) == (7, 7)


def test_suggest_repairs_decreasing_filters_by_running_maximum(quicknet_space):
    params = quicknet_space.trial_params(PRESETS["quicknet"])
    params.update({"filters_0_x32": 8, "filters_1_x32": 2, "filters_2_x32": 16})
    config = quicknet_space.suggest(optuna.trial.FixedTrial(params))
    assert config.section_filters == (256, 256, 512, 512)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_trial_params_round_trip(quicknet_space, preset):
    config = PRESETS[preset]
    fixed = optuna.trial.FixedTrial(quicknet_space.trial_params(config))
    assert quicknet_space.suggest(fixed) == config
    assert quicknet_space.config_from_params(quicknet_space.to_params(config)) == config


def test_user_config_with_decreasing_filters_is_rejected(quicknet_space):
    with pytest.raises(UserError, match="must not decrease"):
        quicknet_space.config_from_params({"section_filters": [128, 64, 256, 512]})


FINGERPRINT_SCRIPT = """
import json, sys
from lce_nas.space import get_space
s = get_space("quicknet")
print(json.dumps({n: s.fingerprint(c) for n, c in s.presets().items()}))
"""


def test_fingerprints_are_stable_across_processes(quicknet_space):
    here = {n: quicknet_space.fingerprint(c) for n, c in quicknet_space.presets().items()}
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", FINGERPRINT_SCRIPT],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": "random", "PATH": ""},
        )
        assert json.loads(out.stdout) == here
    # Pinned: a change here invalidates every stored measurement and needs a space version bump.
    assert here["quicknet"] == ("640a3eac100c817515eedfa28d64c09823ce49e48beb69ec2e26450636149131")


def test_fingerprint_changes_with_every_field(quicknet_space):
    base = PRESETS["quicknet"]
    variants = [
        dataclasses.replace(base, section_blocks=(4, 4, 4, 5)),
        dataclasses.replace(base, section_filters=(64, 128, 256, 544)),
        dataclasses.replace(base, stem_filters=8),
        dataclasses.replace(base, transition="maxpool"),
        dataclasses.replace(base, kernel_size=5),
        dataclasses.replace(base, activation="none"),
    ]
    prints = {quicknet_space.fingerprint(c) for c in [base, *variants]}
    assert len(prints) == len(variants) + 1
    assert quicknet_space.fingerprint(QuickNetConfig(**dataclasses.asdict(base))) == (
        quicknet_space.fingerprint(base)
    )
