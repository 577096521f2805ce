"""Reading lce_benchmark_model output: summary line, run counts, op tables by header."""

from __future__ import annotations

import math

import pytest
from engine_support import FIXTURES
from lce_nas.engine.bm_output import (
    OpRow,
    format_count_line,
    format_op_tables,
    format_summary,
    parse_benchmark_output,
)
from lce_nas.engine.breakdown import categorize, classify
from lce_nas.engine.measurement import OpTiming
from lce_nas.engine.remote import _ops_to_timings

from lce_nas.errors import UserError


def _read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_older_format_with_start_column_and_init_profile():
    out = parse_benchmark_output(_read("rpi4_quicknet_profile_start.txt"))
    assert out.init_us == 31742
    assert out.inference_avg_us == 44213.4
    assert out.warmup_avg_us == pytest.approx(45673.6)
    assert (out.runs, out.warmup_runs) == (22, 11)
    # The regular runs' table, not the initialisation one (AllocateTensors).
    assert len(out.ops) == 63
    assert out.ops[0].node_type == "CONV_2D"
    assert all(r.node_type != "AllocateTensors" for r in out.ops)
    counts = {t: sum(r.node_type == t for r in out.ops) for t in ("LceBconv2d", "LceQuantize")}
    assert counts == {"LceBconv2d": 16, "LceQuantize": 16}
    assert sum(r.avg_ms for r in out.ops) == pytest.approx(44.0, abs=0.01)
    assert out.ops[3].name.startswith("[") and out.ops[3].name.endswith("]:3")
    # Columns come from the header: [start] is skipped, [first] and [avg ms] read right.
    assert out.ops[1].first_ms >= out.ops[1].avg_ms
    assert len(out.tables["Top by Computation Time"]) == 10


def test_newer_format_with_info_prefix_and_xnnpack_delegate_rows():
    out = parse_benchmark_output(_read("rpi4_quicknet_profile_xnnpack.txt"))
    assert out.inference_avg_us == 40739.7 and out.runs == 25
    types = [r.node_type for r in out.ops]
    assert types[0] == "TfLiteXNNPackDelegate"
    assert types.count("TfLiteXNNPackDelegate") == 17  # stem, 13 adds between, transitions, head
    assert types.count("LceBconv2d") == 16
    assert all(not math.isnan(r.percent) for r in out.ops)
    categories = categorize(types)
    assert categories[0] == "first_layer" and categories[-1] == "last_layer"
    assert categories.count("binary_conv") == 16


def test_pasted_output_without_tabs_and_per_op_delegate_rows():
    out = parse_benchmark_output(_read("pixel_pasted_spaces.txt"))
    assert out.inference_avg_us == 12611.4
    assert out.runs == 0  # no count lines in this excerpt
    assert out.ops[0].node_type == "Convolution (NHWC, F32) IGEMM"
    assert out.ops[0].name == "Delegate/Convolution (NHWC, F32) IGEMM:0"
    assert [r.node_type for r in out.ops[3:5]] == ["LceQuantize", "LceBconv2d"]


def test_missing_summary_is_a_user_error():
    with pytest.raises(UserError, match=r"no timing summary.*Failed to load model"):
        parse_benchmark_output("INFO: STARTING!\nERROR: Failed to load model x.tflite\n")


def test_written_tables_read_back_identically():
    rows = [
        OpRow("CONV_2D", "[stem]:0", avg_ms=1.25, first_ms=1.5),
        OpRow("LceQuantize", "[q with spaces]:1", avg_ms=0.125, first_ms=0.25),
        OpRow("LceBconv2d", "[b]:2", avg_ms=2.5, first_ms=3.0),
        OpRow("FULLY_CONNECTED", "[fc]:3", avg_ms=0.75, first_ms=0.75),
    ]
    text = "\n".join(
        [
            "INFO: " + format_count_line([4700, 4600, 4650]),
            "INFO: " + format_summary(1000, 5000, 4800.5, 4650),
            format_op_tables(rows, [4700, 4600, 4650]),
        ]
    )
    out = parse_benchmark_output(text)
    assert out.inference_avg_us == 4650 and out.runs == 3
    assert [(r.node_type, r.name, r.avg_ms, r.first_ms) for r in out.ops] == [
        (r.node_type, r.name, r.avg_ms, r.first_ms) for r in rows
    ]
    timings = _ops_to_timings(out)
    assert sum(t.share for t in timings) == pytest.approx(1.0)


def test_breakdown_of_a_quicknet_profile():
    out = parse_benchmark_output(_read("rpi4_quicknet_profile_start.txt"))
    rows, ms = classify(_ops_to_timings(out))
    assert list(ms) == ["first_layer", "binary_conv", "glue", "last_layer"]
    assert sum(ms.values()) == pytest.approx(sum(r.avg_ms for r in out.ops), abs=1e-3)
    first = [r.op_type for r in rows if r.category == "first_layer"]
    last = [r.op_type for r in rows if r.category == "last_layer"]
    assert first == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"]  # the stem
    assert last == ["AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"]  # the head
    glue = {r.op_type for r in rows if r.category == "glue"}
    assert glue == {"LceQuantize", "ADD", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "CONV_2D"}


def test_model_without_binary_convs_is_all_glue():
    _, ms = classify([OpTiming("CONV_2D", "a", 1.0), OpTiming("SOFTMAX", "b", 0.5)])
    assert ms == {"first_layer": 0.0, "binary_conv": 0.0, "glue": 1.5, "last_layer": 0.0}
