"""Each space's kernel list is what LCE's converter emits: same ops, order, shapes and work.

Converted models are read back from the flatbuffer (the file the engines run);
models are built in fresh processes (TensorFlow keeps part of every model).
"""

from __future__ import annotations

import pytest
from process_support import in_fresh_processes, interleaved

# Every option of every space at least once, at two shapes (one with odd, unequal sides).
CASES = [
    ("quicknet", {}, (64, 64, 3)),
    ("quicknet", {"transition": "maxpool", "kernel_size": 5, "activation": "none"}, (72, 56, 3)),
    ("quicknet", {"transition": "avgpool", "section_blocks": [1, 2, 1, 3]}, (64, 64, 1)),
    ("birealnet", {}, (72, 56, 3)),
    ("birealnet", {"recipe": "resnet-e", "shortcut": "conv", "pad_value": 1}, (64, 64, 3)),
    ("birealnet", {"shortcut": "maxpool", "kernel_size": 5, "stage_blocks": [1, 1, 2, 1]},
     (64, 64, 3)),
    ("binarydensenet", {"block_layers": [2, 3, 2, 1]}, (72, 56, 3)),
    ("binarydensenet", {"block_layers": [2, 2, 1, 2], "dilations": [1, 1, 2, 4],
                        "transition_pool": "avgpool", "growth_rate": 32}, (64, 64, 3)),
    ("realtobinary", {"stage_blocks": [2, 1, 1, 2]}, (72, 56, 3)),
    ("realtobinary", {"scaling": "none", "kernel_size": 5, "stage_blocks": [1, 2, 1, 1]},
     (64, 64, 3)),
]  # fmt: skip


def _compare(cases):
    from lce_nas.engine.convert import convert_deploy
    from lce_nas.predictor.plan_kernels import tflite_kernels
    from lce_nas.space import get_space
    from lce_nas.space.shape import DeployShape

    out = []
    for space_name, params, (h, w, c) in cases:
        space = get_space(space_name)
        config = space.config_from_params(params)
        shape = DeployShape(h, w, c, 10)
        _, tflite = convert_deploy(space, config, shape)
        out.append((tflite_kernels(tflite), space.kernels(config, shape.input_shape, 10)))
    return out


@pytest.fixture(scope="module")
def compared():
    parts = interleaved(CASES)
    results = in_fresh_processes(_compare, [(part,) for part in parts])
    by_case = {}
    for part, pairs in zip(parts, results, strict=True):
        for case, pair in zip(part, pairs, strict=True):
            by_case[repr(case)] = pair
    return by_case


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{len(c[1])}opts-{c[2][0]}")
def test_kernel_list_is_the_converted_flatbuffer(compared, case):
    from_file, from_config = compared[repr(case)]
    assert [k.op for k in from_config] == [k.op for k in from_file]
    for i, (expected, listed) in enumerate(zip(from_file, from_config, strict=True)):
        assert listed == expected, f"kernel {i} ({expected.op})"


def test_work_counts_match_the_cost_model():
    # The kernels' MACs are the space's closed-form MACs (two views of one model).
    from lce_nas.space import get_space

    for space in (
        get_space(n) for n in ("quicknet", "birealnet", "binarydensenet", "realtobinary")
    ):
        for config in space.presets().values():
            kernels = space.kernels(config)
            summary = space.describe(config)
            assert sum(k.binary_macs for k in kernels) == summary.binary_macs
            assert sum(k.float_macs for k in kernels) == pytest.approx(summary.float_macs, 0.01)
