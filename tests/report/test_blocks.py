"""The ResNet-18 block builders and the report's arithmetic, on real conversions."""

from __future__ import annotations

import pytest
from lce_nas.engine.devices import HostDevice, SshDevice
from lce_nas.report.blocks import PRECISIONS, RESNET18_BLOCKS, Block, build_block, convert_block
from lce_nas.report.breakdown import scaled_split
from lce_nas.report.collect import Row, engine_devices
from lce_nas.report.findings import paper_comparison, speedups

from lce_nas.errors import UserError

SMALLEST = RESNET18_BLOCKS[3]  # conv5_x: 7x7x512, the quickest to convert


@pytest.fixture(scope="module")
def converted() -> dict[str, bytes]:
    """conv5_x converted at each precision (once for the module)."""
    return {precision: convert_block(SMALLEST, precision) for precision in PRECISIONS}


def _ops_and_types(tflite: bytes) -> tuple[list[str], set[str]]:
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=tflite)
    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    conv = next(op for op in interpreter._get_ops_details() if op["op_name"] == "CONV_2D")
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    types = {tensors[i]["dtype"].__name__ for i in conv["inputs"] if i >= 0}
    return ops, types


def test_the_four_blocks_have_resnet18_shapes_and_equal_macs():
    shapes = [(b.name, b.input_shape) for b in RESNET18_BLOCKS]
    assert shapes == [
        ("conv2_x", (56, 56, 64)),
        ("conv3_x", (28, 28, 128)),
        ("conv4_x", (14, 14, 256)),
        ("conv5_x", (7, 7, 512)),
    ]
    # ResNet halves the side as it doubles the channels: every block does the same work.
    assert {b.macs for b in RESNET18_BLOCKS} == {56 * 56 * 64 * 64 * 9}


def test_fingerprints_differ_by_block_and_precision_and_are_stable():
    prints = {b.fingerprint(p) for b in RESNET18_BLOCKS for p in PRECISIONS}
    assert len(prints) == len(RESNET18_BLOCKS) * len(PRECISIONS)
    assert Block("conv5_x", 7, 512).fingerprint("int8") == SMALLEST.fingerprint("int8")
    with pytest.raises(ValueError, match="precision must be one of"):
        SMALLEST.fingerprint("int4")


@pytest.mark.parametrize("precision", PRECISIONS)
def test_builders_keep_the_block_shape(precision):
    model = build_block(SMALLEST, precision)
    assert model.input_shape == (None, 7, 7, 512)
    assert model.output_shape == (None, 7, 7, 512)


def test_float32_block_is_a_float_convolution(converted):
    ops, types = _ops_and_types(converted["float32"])
    assert ops == ["CONV_2D"]
    assert types == {"float32"}


def test_int8_block_is_fully_integer(converted):
    import tensorflow as tf

    ops, types = _ops_and_types(converted["int8"])
    assert ops == ["CONV_2D"]
    # int8 activations and weights, int32 bias: full-integer quantization, no float left.
    assert types == {"int8", "int32"}
    interpreter = tf.lite.Interpreter(model_content=converted["int8"])
    assert interpreter.get_input_details()[0]["dtype"].__name__ == "int8"
    assert interpreter.get_output_details()[0]["dtype"].__name__ == "int8"
    assert len(converted["int8"]) < len(converted["float32"]) / 3  # int8 weights


def test_binary_block_is_an_lce_binary_convolution(converted):
    from lce_nas.engine.convert import op_counts

    assert op_counts(converted["binary"]) == {"LceQuantize": 1, "LceBconv2d": 1}
    # Bitpacked weights: 512 * 9 * 512 bits, far below the float file.
    assert len(converted["binary"]) < len(converted["float32"]) / 8


def test_scaled_split_keeps_proportions_and_adds_up_to_the_median():
    split = scaled_split(
        {"first_layer": 1.0, "binary_conv": 2.0, "glue": 1.0, "last_layer": 0.0}, 10.0
    )
    assert split == {"first_layer": 2.5, "binary_conv": 5.0, "glue": 2.5, "last_layer": 0.0}
    with pytest.raises(ValueError):
        scaled_split(dict.fromkeys(split, 0.0), 10.0)


def _row(item: str, precision: str, engine: str, median: float | None) -> Row:
    source = "refused" if median is None else "measured"
    return Row(
        "blocks", item, precision, "host", engine, "1", 1, "", "fp", source, median_ms=median,
        cpu="AMD EPYC",
    )  # fmt: skip


def test_speedups_and_the_paper_comparison_use_the_measured_numbers():
    rows = [
        _row("conv2_x", "float32", "lce-interpreter", 2.0),
        _row("conv2_x", "int8", "lce-interpreter", 0.5),
        _row("conv2_x", "binary", "lce-interpreter", 1.0),
        _row("conv2_x", "float32", "native", 3.0),
        _row("conv2_x", "int8", "native", None),
        _row("conv2_x", "binary", "native", 0.1),
    ]
    ups = {(s.engine, s.block): s for s in speedups(rows)}
    assert ups["lce-interpreter", "conv2_x"].over_float32 == pytest.approx(2.0)
    assert ups["lce-interpreter", "conv2_x"].over_int8 == pytest.approx(0.5)
    assert ups["native", "conv2_x"].over_float32 == pytest.approx(30.0)
    assert ups["native", "conv2_x"].over_int8 is None  # refused, not zero
    text = " ".join(paper_comparison(rows))
    assert "at best 2.0x faster than float32 (paper: up to 17x faster" in text
    assert "at best 2.0x slower than int8 (paper: up to 12x faster" in text
    assert "no int8 figure on this engine" in text
    assert "Why x86 differs" in text


def test_engine_devices_compare_lce_with_native_on_the_host_only():
    host = HostDevice(name="host")
    assert [d.engine for d in engine_devices(host, None)] == ["lce"]
    assert [d.engine for d in engine_devices(host, "lce-interpreter")] == ["lce"]
    assert [d.engine for d in engine_devices(host, "native")] == ["lce", "native"]
    pi = SshDevice(name="pi", host="10.0.0.7", user="pi")
    assert engine_devices(pi, None) == [pi]
    with pytest.raises(UserError, match="--engine applies to host devices"):
        engine_devices(pi, "native")
