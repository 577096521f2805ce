"""QuickNet-family models from the search space against LCE's interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from lce_nas.engine import native
from lce_nas.engine.native.plan import read_plan
from lce_nas.space import get_space
from native_support import (
    assert_close,
    assert_logits_close,
    convert,
    inputs_for,
    lce_run,
    logits_of,
    native_run,
    run_kernel_sets,
)
from process_support import in_fresh_processes, interleaved
from sampling_support import covering_configs, sample_configs


def test_tiny_quicknet_matches_lce(tiny_quicknet):
    types = {op.type for op in read_plan(tiny_quicknet).ops}
    assert {"LceQuantize", "LceBconv2d", "ADD", "CONV_2D", "DEPTHWISE_CONV_2D"} <= types
    for seed in (1, 2):
        x = inputs_for(tiny_quicknet, seed)
        expected = lce_run(tiny_quicknet, x)
        assert_close(native_run(tiny_quicknet, x), expected)
        assert_close(native_run(tiny_quicknet, x, num_threads=2), expected)
        # Folding residual ADDs into the convolutions changes no bit.
        unfused = native_run(tiny_quicknet, x, keep_intermediates=True)
        np.testing.assert_array_equal(native_run(tiny_quicknet, x)[0], unfused[0])


def test_tiny_quicknet_kernel_sets_agree_op_by_op(tiny_quicknet):
    plan = read_plan(tiny_quicknet)
    x = inputs_for(tiny_quicknet)
    models = run_kernel_sets(tiny_quicknet, x)
    for op in plan.ops:
        name = plan.tensors[op.outputs[0]].name
        want = models["portable"].tensor(name)
        for m in models.values():
            got = m.tensor(name)
            if want.dtype == np.int32:
                np.testing.assert_array_equal(got, want, err_msg=f"{op.type} {name}")
            else:
                scale = max(1.0, float(np.abs(want).max()))
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * scale)


def _check_configs(configs: list) -> None:
    in_fresh_processes(_match_lce, [(part,) for part in interleaved(list(enumerate(configs)))])


def _match_lce(configs: list) -> None:
    import tensorflow as tf
    from lce_nas.space import get_space

    space = get_space("quicknet")
    for index, config in configs:
        # Seeded weights: the same models whatever ran before in this process.
        tf.keras.utils.set_random_seed(index)
        model = space.build_deploy(config, input_shape=(32, 32, 3), classes=10)
        tflite = convert(logits_of(model), seed=index)
        assert_logits_close(tflite, inputs_for(tflite, seed=index))


def test_two_sampled_configs_match_lce():
    _check_configs(sample_configs(get_space("quicknet"), 2, seed=5))


@pytest.mark.slow
def test_configs_covering_ten_draws_match_lce():
    # Minutes on two cores: sampled configs have up to 48 blocks to convert.
    _check_configs(covering_configs(get_space("quicknet"), 5, pool=10, seed=11))


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["quicknet-small", "quicknet", "quicknet-large"])
def test_presets_at_224_match_lce(preset):
    from lce_nas.space import get_space

    space = get_space("quicknet")
    model = space.build_deploy(space.preset(preset))
    tflite = convert(logits_of(model), seed=5)
    counts = native.load(tflite).op_types()
    assert counts["LceBconv2d"] == sum(space.preset(preset).section_blocks)
    assert_logits_close(tflite, inputs_for(tflite))
