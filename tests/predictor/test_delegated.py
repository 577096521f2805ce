"""Devices timed with XNNPACK: float ops run in delegate partitions, not one by one."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from lce_nas.engine.bm_output import parse_benchmark_output
from lce_nas.engine.measurement import MeasurementKey, OpTiming
from lce_nas.latency_db import LatencyStore
from lce_nas.predictor.calibration import calibration_configs
from lce_nas.predictor.service import load_predictor
from lce_nas.predictor.training import DELEGATE_NODE, align_delegated, partition_rows, training_set
from lce_nas.space import get_space
from predictor_support import RPI4_XNNPACK, SHAPE, record_delegated, true_ms

FIXTURE = Path(__file__).parents[1] / "engine" / "fixtures" / "rpi4_quicknet_profile_xnnpack.txt"


def test_a_raspberry_pi_profile_lines_up_with_quicknets_kernels():
    # lce_benchmark_model's own output on a Pi 4 (XNNPACK on): 17 delegate nodes, 32 LCE ops.
    out = parse_benchmark_output(FIXTURE.read_text())
    profile = [OpTiming(r.node_type, r.name, r.avg_ms) for r in out.ops]
    space = get_space("quicknet")
    kernels = space.kernels(space.preset("quicknet"))
    kernel_ms, partitions = align_delegated(kernels, profile)
    assert len(partitions) == 17
    # The stem (conv, depthwise, conv) is the first partition, the head the last.
    assert [kernels[i].op for i in partitions[0][0]] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"]
    assert kernels[partitions[-1][0][-1]].op == "SOFTMAX"
    assert partitions[0][1] == 3.899
    timed = [ms for ms in kernel_ms if not math.isnan(ms)]
    assert len(timed) == 32 and math.isclose(
        sum(timed) + sum(ms for _, ms in partitions), sum(r.avg_ms for r in out.ops)
    )
    # One partition too few (a profile of another model) does not line up.
    assert align_delegated(kernels, profile[1:]) is None
    # The same partitions as XNNPACK's own operators, one to three rows each: the same times.
    per_operator = []
    for n, row in enumerate(profile):
        if row.op_type != DELEGATE_NODE:
            per_operator.append(row)
            continue
        parts = 1 + n % 3
        per_operator += [OpTiming("Convolution (NHWC, F32) IGEMM", f"Delegate/op:{n}.{i}",
                                  row.avg_ms / parts) for i in range(parts)]  # fmt: skip
    again_ms, again = align_delegated(kernels, partition_rows(per_operator))
    np.testing.assert_array_equal(again_ms, kernel_ms)
    assert [group for group, _ in again] == [group for group, _ in partitions]
    assert np.allclose([ms for _, ms in again], [ms for _, ms in partitions])


@pytest.mark.parametrize("rows", ["partitions", "operators"])
def test_a_delegated_key_predicts_models_it_never_saw(tmp_path, rows):
    # Profiles with a row per partition, or with XNNPACK's own operators (``Delegate/...``
    # rows that fuse ops): both train the same way.
    space = get_space("quicknet")
    store = LatencyStore(f"sqlite:///{tmp_path / 'pi.db'}")
    rng = np.random.default_rng(0)
    for config in [*space.presets().values(), *calibration_configs(space, 40, seed=0)]:
        record_delegated(store, space, config, rng, per_operator=rows == "operators")
    key = MeasurementKey(**RPI4_XNNPACK)
    training = training_set(store, space, key)
    assert training.unaligned == 0 and all(e.partitions for e in training.profiled)
    predictor = load_predictor(store, space, key)
    assert predictor.predictor.delegated
    hits = []
    for config in calibration_configs(space, 20, seed=99):
        measured = true_ms(space.kernels(config, SHAPE.input_shape, SHAPE.classes))
        hits.append(abs(predictor.predict(config).median_ms / measured - 1) <= 0.10)
    assert np.mean(hits) >= 0.9
    # Float kernels are still predicted one by one: the breakdown splits partitions that
    # span categories (the head's add, pool, dense and softmax) near the true costs; one
    # regression for every float op type cannot give each its own rate, hence 25 %.
    from lce_nas.engine.breakdown import categorize
    from predictor_support import kernel_ms

    kernels = space.kernels(space.preset("quicknet"), SHAPE.input_shape, SHAPE.classes)
    truth: dict[str, float] = {}
    for kernel, category in zip(kernels, categorize([k.op for k in kernels]), strict=True):
        truth[category] = truth.get(category, 0.0) + kernel_ms(kernel)
    breakdown = predictor.predict(space.preset("quicknet")).breakdown_ms
    for category, ms in truth.items():
        assert math.isclose(breakdown[category], ms, rel_tol=0.25), category
