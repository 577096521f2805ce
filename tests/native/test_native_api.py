"""Loading, errors, profiling and the engine version of the native engine."""

from __future__ import annotations

import numpy as np
import pytest
from lce_nas.engine import native
from lce_nas.engine.measurement import OpTiming
from native_support import inputs_for

from lce_nas.errors import UserError


def test_garbage_bytes_are_rejected():
    with pytest.raises(native.NativeModelError, match="TFL3"):
        native.load(b"definitely not a flatbuffer")


def test_truncated_flatbuffer_is_rejected(tiny_quicknet):
    with pytest.raises(native.NativeModelError):
        native.load(tiny_quicknet[: len(tiny_quicknet) // 3])


def test_corrupted_offsets_are_rejected(tiny_quicknet):
    broken = bytearray(tiny_quicknet)
    broken[0:4] = (len(broken) + 1000).to_bytes(4, "little")  # root table past the end
    with pytest.raises(native.NativeModelError):
        native.load(bytes(broken))


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        native.load(tmp_path / "nope.tflite")


def test_unsupported_op_is_named_at_load_time():
    import tensorflow as tf
    from lce_nas.engine.convert import convert_model

    inp = tf.keras.Input((4, 4, 8))
    out = tf.keras.layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2))(inp)
    tflite = convert_model(tf.keras.Model(inp, out))
    with pytest.raises(native.NativeModelError, match="DEPTH_TO_SPACE"):
        native.load(tflite)


def test_loads_from_a_path_and_runs(tiny_quicknet, tmp_path):
    path = tmp_path / "tiny.tflite"
    path.write_bytes(tiny_quicknet)
    model = native.load(str(path))
    assert model.input_shapes == [(1, 64, 64, 3)]
    out = model.run(inputs_for(tiny_quicknet))
    assert out.shape == (1, 10) and out.dtype == np.float32


def test_wrong_input_shape_is_a_clear_error(tiny_quicknet):
    model = native.load(tiny_quicknet)
    with pytest.raises(native.NativeModelError, match="shape"):
        model.run(np.zeros((1, 32, 32, 3), np.float32))


def test_unknown_kernel_set_is_rejected(tiny_quicknet):
    with pytest.raises(native.NativeModelError, match="not available"):
        native.load(tiny_quicknet, kernels="sse9")


def test_portable_env_var_forces_portable_kernels(tiny_quicknet, monkeypatch):
    monkeypatch.setenv("LCE_NAS_NATIVE_PORTABLE", "1")
    model = native.load(tiny_quicknet)
    assert model.kernels == "portable"
    assert model.engine_version == native.engine_version("portable")
    assert model.engine_version.startswith(f"native-{native.__version__}+portable.")
    assert native.engine_version() == model.engine_version


def test_auto_picks_the_best_kernel_set(tiny_quicknet, monkeypatch):
    monkeypatch.delenv("LCE_NAS_NATIVE_PORTABLE", raising=False)
    assert native.load(tiny_quicknet).kernels == native.available_kernels()[-1]


def test_profile_has_one_row_per_op(tiny_quicknet):
    model = native.load(tiny_quicknet)
    rows = model.profile(inputs_for(tiny_quicknet), runs=3)
    assert [r.op_type for r in rows] == [op.type for op in model._plan.ops]
    # Residual ADDs folded into the binary convolution before them report zero time.
    assert all(r.microseconds > 0 for r in rows if r.op_type != "ADD")
    assert any(r.op_type == "ADD" and r.microseconds == 0 for r in rows)
    assert sum(r.share for r in rows) == pytest.approx(1.0)
    assert {r.name for r in rows} >= {model._plan.tensors[model._plan.outputs[0]].name}
    timing = rows[0].to_op_timing()
    assert isinstance(timing, OpTiming)
    assert timing.avg_ms == pytest.approx(rows[0].microseconds / 1000)


def test_time_runs_returns_one_sample_per_run(tiny_quicknet):
    samples = native.load(tiny_quicknet).time_runs(inputs_for(tiny_quicknet), 5)
    assert len(samples) == 5 and all(s > 0 for s in samples)


def test_concurrent_runs_on_one_model_take_turns(tiny_quicknet):
    import threading

    model = native.load(tiny_quicknet)
    xs = [inputs_for(tiny_quicknet, seed) for seed in range(3)]
    expected = [model.run(x) for x in xs]
    mismatches = []

    def work(i):
        for _ in range(10):
            if not np.array_equal(model.run(xs[i]), expected[i]):
                mismatches.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mismatches == []


@pytest.mark.skipif(
    "avx512" not in native.available_kernels(), reason="the peaks are measured with AVX-512"
)
def test_peaks_count_the_work_of_their_loops():
    # Every x86 core with AVX-512 retires at least one 16-lane FMA per ns, and far more
    # binary MACs than float ones (a 512-bit xor-popcount is 512 MACs): a miscounted loop
    # (wrong lanes, chains or iterations) breaks one of these.
    fma = native.fma_peak_macs_per_s()
    popcount = native.popcount_peak_macs_per_s()
    assert 16e9 <= fma <= 16 * 4 * 6e9
    assert popcount > 4 * fma
