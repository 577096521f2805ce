"""The report's files from known rows: every number in the CSV, both figures in the HTML."""

from __future__ import annotations

import base64
import re

from lce_nas.report.blocks import PRECISIONS, RESNET18_BLOCKS
from lce_nas.report.collect import Row
from lce_nas.report.render import write_report
from report_support import read_csv


def _rows() -> list[Row]:
    rows = []
    for i, block in enumerate(RESNET18_BLOCKS):
        for precision, ms in zip(PRECISIONS, (4.0, 2.0, 0.5 + i / 10), strict=True):
            rows.append(Row("blocks", block.name, precision, "host", "lce-interpreter", "0.16.0",
                            1, block.label, block.fingerprint(precision), "measured",
                            median_ms=ms, p10_ms=ms * 0.9, p90_ms=ms * 1.1, cv=0.05, runs=20,
                            cpu="AMD EPYC"))  # fmt: skip
    split = {"first_layer": 3.0, "binary_conv": 5.0, "glue": 1.5, "last_layer": 0.5}
    rows.append(Row("breakdown", "QuickNetLarge", "binary", "host", "native", "n", 1,
                    "224x224x3/1000", "ab" * 32, "cache", median_ms=10.0, p10_ms=9.0,
                    p90_ms=11.0, cv=0.1, runs=30, split_ms=split, split_from="native"))  # fmt: skip
    rows.append(Row("breakdown", "QuickNetLarge", "binary", "host", "lce-interpreter", "0.16.0",
                    1, "224x224x3/1000", "ab" * 32, "measured", median_ms=30.0, p10_ms=29.0,
                    p90_ms=31.0, cv=0.1, runs=30))  # fmt: skip
    return rows


def test_write_report_puts_every_number_in_the_files(tmp_path):
    files = write_report(_rows(), tmp_path)
    rows = read_csv(files["csv"])
    assert len(rows) == 14
    assert [r["median_ms"] for r in rows[:3]] == ["4.000000", "2.000000", "0.500000"]
    assert rows[12]["binary_conv_ms"] == "5.000000" and rows[12]["split_from"] == "native"
    assert rows[13]["first_layer_ms"] == ""  # no per-op timers: no invented split
    ups = read_csv(files["speedups"])
    assert ups[0] == {"block": "conv2_x", "engine": "lce-interpreter",
                      "binary_over_float32": "8.000", "binary_over_int8": "4.000"}  # fmt: skip
    md = files["md"].read_text()
    assert "at best 8.0x faster than float32 (paper: up to 17x faster" in md
    assert "QuickNetLarge 30.0 ms" in md  # LCE's whole-model latency, said as such
    assert "no per-op timers" in md
    html = files["html"].read_text()
    for element in ("fig-blocks", "fig-breakdown"):
        match = re.search(rf"id='{element}' alt='[^']*' src='data:image/png;base64,([^']+)'", html)
        assert match, element
        assert base64.b64decode(match.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert files["blocks_png"].read_bytes()[:4] == b"\x89PNG"
