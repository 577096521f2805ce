"""Hostile flatbuffers: the native engine and the model reader refuse them, never crash.

The fuzz corpus (seed models and hand-made past crashes) is committed; the
fuzzer runs each input in a worker process, so a crash is counted, not fatal.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from fuzz import CORPUS, FUZZ_MAX_BYTES, fuzz, seed_files
from fuzz_mutate import TARGETED, mutant, pack, targeted, unpack
from lce_nas.engine import native
from lce_nas.engine.native.plan import read_plan
from lce_nas.engine.tflite_info import read_model_info

from lce_nas.errors import UserError


def _seed(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


@pytest.mark.parametrize("path", seed_files(), ids=lambda p: p.stem)
def test_seed_models_load_and_run(path):
    data = path.read_bytes()
    assert read_model_info(data).ops
    model = native.load(data, max_bytes=FUZZ_MAX_BYTES)
    outs = model.run([np.ones(s, np.float32) for s in model.input_shapes])
    outs = outs if isinstance(outs, list) else [outs]
    assert all(np.isfinite(o).all() for o in outs)


@pytest.mark.parametrize("name", sorted(TARGETED))
def test_past_crashes_are_refused_naming_the_op_and_tensor(name):
    seed_name, _edit, fragments = TARGETED[name]
    committed = (CORPUS / f"targeted_{name}.tflite").read_bytes()
    # The committed case is what the edit makes of its seed today.
    assert committed == targeted(name, _seed(seed_name))
    native.load(_seed(seed_name))  # the seed itself loads
    with pytest.raises(native.NativeModelError) as err:
        native.load(committed)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_op_errors_name_the_op_index_and_output():
    with pytest.raises(native.NativeModelError, match=r"SOFTMAX \(op \d+, output '[^']+'\)"):
        native.load((CORPUS / "targeted_softmax_output.tflite").read_bytes())


def test_memory_cap_refuses_a_model_asking_for_more():
    data = _seed("quicknet_tiny.tflite")
    native.load(data, max_bytes=64 << 20)
    with pytest.raises(native.NativeModelError, match="cap"):
        native.load(data, max_bytes=64 << 10)


def test_option_out_of_int_range_is_refused():
    model = unpack(_seed("float_ops.tflite"))
    graph = model.subgraphs[0]
    names = [c.builtinCode for c in model.operatorCodes]
    pool = next(op for op in graph.operators if names[op.opcodeIndex] == 17)  # MAX_POOL_2D
    pool.builtinOptions.strideW = 2**31 - 1
    with pytest.raises(native.NativeModelError, match="MAX_POOL_2D"):
        native.load(pack(model))


def test_a_negative_vtable_offset_is_a_user_error_not_a_type_error():
    # Pointing the root table's vtable before the file once raised
    # "TypeError: bad number ... uint32" inside the flatbuffers runtime.
    data = bytearray(_seed("quicknet_tiny.tflite"))
    root = struct.unpack_from("<I", data, 0)[0]
    struct.pack_into("<i", data, root, root + 1000)
    with pytest.raises(UserError, match="corrupt TFLite model"):
        read_model_info(bytes(data))
    with pytest.raises(native.NativeModelError, match="corrupt TFLite flatbuffer"):
        read_plan(bytes(data))


def test_undecodable_names_are_read_with_replacement_characters():
    model = unpack(_seed("float_ops.tflite"))
    model.subgraphs[0].tensors[0].name = b"bad\xff\xfename"
    plan = read_plan(pack(model))
    assert plan.tensors[0].name == "bad\ufffd\ufffdname"


def test_hostile_custom_options_are_refused():
    model = unpack(_seed("bconv_bits.tflite"))
    ops = model.subgraphs[0].operators
    op = next(op for op in ops if op.customOptions is not None and len(op.customOptions) > 0)
    op.customOptions = [0xFF] * 5
    with pytest.raises(native.NativeModelError, match="custom options"):
        read_plan(pack(model))


def test_mutants_differ_from_their_seed_and_are_reproducible():
    import random

    data = _seed("quicknet_tiny.tflite")
    first = [mutant(random.Random(7), data) for _ in range(3)]
    again = [mutant(random.Random(7), data) for _ in range(3)]
    assert first == again
    assert all(m != data for m, _how in first)


def test_corpus_and_fresh_mutants_give_no_crash_hang_or_other_error(tmp_path):
    counts, records = fuzz(200, seed=16, timeout_s=60, out=tmp_path / "fuzz.jsonl")
    bad = [r for r in records if r["outcome"] in ("crash", "hang", "error")]
    assert not bad, bad[:5]
    # Both sides are exercised: some mutants still run, most are refused.
    assert counts["ran"] >= 10 and counts["refused"] >= 100, counts
    for record in records:
        if record["source"].startswith("targeted_"):
            assert record["outcome"] == "refused", record
    lines = (tmp_path / "fuzz.jsonl").read_text().splitlines()
    assert len(lines) == len(records) + 1
