"""What the measured rows say: speed-ups per block, and how they compare with the paper."""

from __future__ import annotations

from dataclasses import dataclass

from lce_nas.engine.host import LCE_ENGINE
from lce_nas.report.blocks import RESNET18_BLOCKS
from lce_nas.report.collect import Row, block_row

PAPER_SOURCE = (
    'Bannink et al., "Larq Compute Engine: Design, Benchmark, and Deploy State-of-the-Art '
    'Binarized Neural Networks", MLSys 2021 '
    "(https://proceedings.mlsys.org/paper/2021/file/c7e1249ffc03eb9ded908c236bd1996d-Paper.pdf), "
    "figure on binarization's effect on the latency of ResNet-18's four 3x3 convolutional "
    "blocks, reproduced in Plumerai's blog post \"MLSys 2021: Design, Benchmark, and Deploy "
    "Binarized Neural Networks with LCE\"; block shapes from ResNet-18's stages conv2_x to "
    "conv5_x (He et al., 2016, Table 1)"
)
# The paper's headline figures, measured on a Pixel 1 phone (aarch64, LCE's NEON kernels).
PAPER_DEVICE = "Pixel 1 phone"
PAPER_BINARY_OVER_FLOAT32 = 17.0
PAPER_BINARY_OVER_INT8 = 12.0
PAPER_BCONV_RANGE = (8.5, 18.5)


@dataclass(frozen=True)
class Speedup:
    """Binary's speed-up over float32 and over int8 for one block on one engine.

    ``over_int8`` is None where that engine has no int8 figure (it refused).
    """

    block: str
    engine: str
    over_float32: float | None
    over_int8: float | None


def _median(rows: list[Row], item: str, precision: str, engine: str) -> float | None:
    row = block_row(rows, item, precision, engine)
    return None if row is None else row.median_ms


def block_engines(rows: list[Row]) -> list[str]:
    """The engines of the block rows, in the order they were measured."""
    return list(dict.fromkeys(r.engine for r in rows if r.figure == "blocks"))


def speedups(rows: list[Row]) -> list[Speedup]:
    """Speed-ups of binary over float32 and int8, per block and engine.

    Example:
        >>> speedups([])
        []
    """
    out = []
    for engine in block_engines(rows):
        for block in RESNET18_BLOCKS:
            binary = _median(rows, block.name, "binary", engine)
            if not binary:
                continue
            fp32 = _median(rows, block.name, "float32", engine)
            int8 = _median(rows, block.name, "int8", engine)
            out.append(
                Speedup(
                    block.name,
                    engine,
                    fp32 / binary if fp32 else None,
                    int8 / binary if int8 else None,
                )
            )
    return out


def _best(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def paper_comparison(rows: list[Row]) -> list[str]:
    """Sentences on where this device differs from the paper's phone, with the numbers."""
    lines = []
    cpu = next((r.cpu for r in rows if r.cpu), "this device")
    ups = speedups(rows)
    for engine in block_engines(rows):
        mine = [s for s in ups if s.engine == engine]
        if not mine:
            continue
        fp32 = _best([s.over_float32 for s in mine])
        int8 = _best([s.over_int8 for s in mine])
        parts = []
        if fp32 is not None:
            verdict = _verdict(fp32, PAPER_BINARY_OVER_FLOAT32)
            parts.append(
                f"binary is at best {_faster(fp32, 'float32')} "
                f"(paper: up to {PAPER_BINARY_OVER_FLOAT32:.0f}x faster on a {PAPER_DEVICE}; "
                f"{verdict})"
            )
        if int8 is not None:
            verdict = _verdict(int8, PAPER_BINARY_OVER_INT8)
            parts.append(
                f"at best {_faster(int8, 'int8')} "
                f"(paper: up to {PAPER_BINARY_OVER_INT8:.0f}x faster; {verdict})"
            )
        else:
            parts.append("no int8 figure on this engine (the int8 rows' notes say why)")
        lines.append(f"On {cpu} with {engine}: " + ", ".join(parts) + ".")
    low, high = PAPER_BCONV_RANGE
    for engine in block_engines(rows):
        per_block = [
            f"{s.block} {s.over_float32:.1f}x"
            for s in ups
            if s.engine == engine and s.over_float32 is not None
        ]
        if per_block:
            lines.append(
                f"Per block with {engine}, binary over float32: {', '.join(per_block)} "
                f"(the paper's binary convolutions: {low}-{high}x on a {PAPER_DEVICE})."
            )
    lce_on_x86 = any(r.engine == LCE_ENGINE and _is_x86(r.cpu) for r in rows)
    if lce_on_x86:
        lines.append(
            "Why x86 differs: LCE's optimised binary kernels are aarch64 NEON assembly; on "
            "x86-64 LCE runs portable C++ binary kernels while its float32 and int8 "
            "convolutions run through XNNPACK's and TFLite's x86 SIMD kernels, so LCE's "
            "ratios on this machine fall far below the phone's."
        )
    return lines


def _faster(ratio: float, than: str) -> str:
    """``ratio`` (their time / binary's) in words.

    Example:
        >>> _faster(4.0, "float32"), _faster(0.25, "int8")
        ('4.0x faster than float32', '4.0x slower than int8')
    """
    if ratio >= 1:
        return f"{ratio:.1f}x faster than {than}"
    return f"{1 / ratio:.1f}x slower than {than}"


def _is_x86(cpu: str) -> bool:
    # Host facts name the CPU model, not the architecture; these vendors make x86-64 parts.
    return any(word in cpu for word in ("Intel", "AMD"))


def _verdict(mine: float, paper: float) -> str:
    ratio = mine / paper
    if ratio < 0.9:
        return f"{ratio:.2f} of the paper's ratio"
    if ratio > 1.1:
        return f"{ratio:.2f}x the paper's ratio"
    return "about the paper's ratio"


def breakdown_findings(rows: list[Row]) -> list[str]:
    """Sentences on where QuickNetLarge's time goes against the other two models."""
    lines = []
    for engine in dict.fromkeys(r.engine for r in rows if r.figure == "breakdown"):
        models = [r for r in rows if r.figure == "breakdown" and r.engine == engine and r.split_ms]
        if not models:
            whole = [
                f"{r.item} {r.median_ms:.1f} ms"
                for r in rows
                if r.figure == "breakdown" and r.engine == engine and r.median_ms
            ]
            if whole:
                lines.append(
                    f"With {engine} (no per-op timers, whole model): " + "; ".join(whole) + "."
                )
            continue
        parts = []
        for row in models:
            non_binary = row.split_ms["first_layer"] + row.split_ms["glue"]
            parts.append(
                f"{row.item} {row.median_ms:.1f} ms "
                f"(first layer + glue {non_binary:.1f} ms, "
                f"binary convolutions {row.split_ms['binary_conv']:.1f} ms)"
            )
        lines.append(f"With {engine}: " + "; ".join(parts) + ".")
    if lines:
        lines.append(
            "The paper's point: QuickNet wins mostly on the full-precision first layer and the "
            "glue layers, which MAC counts hide."
        )
    return lines
