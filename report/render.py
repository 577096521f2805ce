"""The report's files: two PNG figures, a CSV of every number, report.md and report.html.

The HTML carries its figures inline (base64 PNGs), so it opens from disk
anywhere, mailed or copied, with nothing beside it.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from lce_nas.engine.breakdown import CATEGORIES
from lce_nas.report.blocks import PRECISIONS, RESNET18_BLOCKS
from lce_nas.report.collect import Row, block_row, split_columns
from lce_nas.report.findings import (
    PAPER_SOURCE,
    block_engines,
    breakdown_findings,
    paper_comparison,
    speedups,
)

CSV_COLUMNS = (
    "figure",
    "item",
    "precision",
    "device",
    "engine",
    "engine_version",
    "threads",
    "deploy_shape",
    "fingerprint",
    "source",
    "median_ms",
    "p10_ms",
    "p90_ms",
    "cv",
    "runs",
    *(f"{c}_ms" for c in CATEGORIES),
    "split_from",
    "note",
)
_COLORS = {"float32": "#4c72b0", "int8": "#dd8452", "binary": "#55a868"}
_CATEGORY_COLORS = {
    "first_layer": "#c44e52",
    "binary_conv": "#55a868",
    "glue": "#8172b3",
    "last_layer": "#937860",
}


def _figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def blocks_figure(rows: list[Row]) -> bytes | None:
    """Grouped bars: latency of each block at each precision (log scale), per engine."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines = block_engines(rows)
    if not engines:
        return None
    fig, axes = plt.subplots(1, len(engines), figsize=(6.5 * len(engines), 4.2), squeeze=False)
    width = 0.26
    for ax, engine in zip(axes[0], engines, strict=True):
        for p_index, precision in enumerate(PRECISIONS):
            for b_index, block in enumerate(RESNET18_BLOCKS):
                row = block_row(rows, block.name, precision, engine)
                x = b_index + (p_index - 1) * width
                if row is not None and row.median_ms:
                    ax.bar(
                        x,
                        row.median_ms,
                        width,
                        color=_COLORS[precision],
                        label=precision if b_index == 0 else None,
                    )
                elif row is not None:
                    ax.text(
                        x,
                        0.03,
                        f"{precision} refused",
                        rotation=90,
                        ha="center",
                        va="bottom",
                        fontsize=7,
                        transform=ax.get_xaxis_transform(),
                    )
        for s in speedups(rows):
            binary = block_row(rows, s.block, "binary", engine)
            if s.engine == engine and s.over_float32 is not None and binary is not None:
                b_index = [b.name for b in RESNET18_BLOCKS].index(s.block)
                label = f"{s.over_float32:.1f}x fp32" + (
                    f"\n{s.over_int8:.1f}x int8" if s.over_int8 is not None else ""
                )
                ax.annotate(
                    label,
                    (b_index + width, binary.median_ms),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
        ax.set_xticks(range(len(RESNET18_BLOCKS)))
        ax.set_xticklabels([f"{b.name}\n{b.label}" for b in RESNET18_BLOCKS], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("median latency (ms, log)")
        ax.margins(y=0.25)
        ax.set_title(
            f"ResNet-18 3x3 blocks, {engine}\n(binary speed-up over float32 / int8)", fontsize=10
        )
        ax.legend(fontsize=8)
    png = _figure_png(fig)
    plt.close(fig)
    return png


def breakdown_figure(rows: list[Row]) -> bytes | None:
    """Stacked horizontal bars: each model's latency split into the paper's four groups."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [r for r in rows if r.figure == "breakdown" and r.median_ms]
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.7 * len(bars) + 1.6))
    labels = [f"{r.item}\n{r.engine}" for r in bars]
    left = [0.0] * len(bars)
    for category in CATEGORIES:
        widths = [r.split_ms.get(category, 0.0) for r in bars]
        ax.barh(
            labels,
            widths,
            left=left,
            color=_CATEGORY_COLORS[category],
            label=category.replace("_", " "),
        )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    # Engines without per-op timers: one hatched bar of the whole-model median.
    whole = [r.median_ms if not r.split_ms else 0.0 for r in bars]
    if any(whole):
        ax.barh(
            labels,
            whole,
            color="#cccccc",
            hatch="//",
            edgecolor="#666666",
            label="whole model (no per-op timers)",
        )
    ax.invert_yaxis()
    ax.set_xlabel("median latency (ms)")
    ax.set_title(
        "Latency breakdown (each engine's per-op proportions, scaled to its median)", fontsize=10
    )
    ax.legend(fontsize=8, ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.08))
    png = _figure_png(fig)
    plt.close(fig)
    return png


def _fmt(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def write_csv(rows: list[Row], path: Path) -> None:
    """Every number of the report, one measurement a line (refusals with their reason)."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            record = {name: getattr(row, name, None) for name in CSV_COLUMNS}
            record.update(split_columns(row))
            writer.writerow(
                {k: _fmt(v, 6) if isinstance(v, float) else v for k, v in record.items()}
            )


def write_speedups_csv(rows: list[Row], path: Path) -> None:
    """Binary's speed-up over float32 and int8, per block and engine."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["block", "engine", "binary_over_float32", "binary_over_int8"])
        for s in speedups(rows):
            writer.writerow([s.block, s.engine, _fmt(s.over_float32), _fmt(s.over_int8)])


def _head(before: Sequence[str], timed: Iterable[str], after: Sequence[str]) -> list[str]:
    """A table's headings: ``before``, a milliseconds column per name of ``timed``, ``after``.

    Example:
        >>> _head(("model",), ("first_layer", "glue"), ("note",))
        ['model', 'first layer ms', 'glue ms', 'note']
    """
    return [*before, *(f"{name.replace('_', ' ')} ms" for name in timed), *after]


def _blocks_table(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    head = _head(("block", "shape", "engine"), PRECISIONS, ("binary vs float32", "binary vs int8"))
    ups = {(s.block, s.engine): s for s in speedups(rows)}
    body = []
    for engine in block_engines(rows):
        for block in RESNET18_BLOCKS:
            cells = []
            for precision in PRECISIONS:
                row = block_row(rows, block.name, precision, engine)
                if row is None:
                    cells.append("")
                elif row.median_ms is None:
                    cells.append("not timed" if row.source == "skipped" else f"refused by {engine}")
                else:
                    cells.append(_fmt(row.median_ms))
            s = ups.get((block.name, engine))
            fp32 = f"{s.over_float32:.1f}x" if s and s.over_float32 else ""
            int8 = f"{s.over_int8:.1f}x" if s and s.over_int8 else "n/a"
            body.append([block.name, block.label, engine, *cells, fp32, int8])
    return head, body


def _breakdown_table(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    head = _head(("model", "engine", "median ms"), CATEGORIES, ("split from",))
    body = []
    for r in rows:
        if r.figure != "breakdown":
            continue
        split = [_fmt(r.split_ms.get(c)) if r.split_ms else "" for c in CATEGORIES]
        split_from = r.split_from or ("no per-op timers" if r.median_ms else "")
        body.append([r.item, r.engine, _fmt(r.median_ms) or r.note, *split, split_from])
    return head, body


def _markdown_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def _html_table(head: list[str], body: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" for cells in body
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _context(rows: list[Row]) -> list[str]:
    first = rows[0] if rows else None
    if first is None:
        return []
    engines = ", ".join(
        f"{e} {v}" for e, v in dict.fromkeys((r.engine, r.engine_version) for r in rows)
    )
    measured = sum(r.source == "measured" for r in rows)
    cached = sum(r.source == "cache" for r in rows)
    return [
        f"Device: {first.device} ({first.cpu or 'unknown CPU'}), {first.threads} thread(s); "
        f"engines: {engines}.",
        f"{measured} numbers measured now, {cached} read from the latency database.",
    ]


#: Each section of the report by its figure's name: its title, and the figure's alt text.
_SECTIONS = {
    "blocks": ("Binarization's effect on latency (ResNet-18 blocks)", "ResNet-18 block latencies"),
    "breakdown": ("Latency breakdown", "latency breakdown"),
}
_STYLE = (
    "body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    ".source{font-size:.85em;color:#555}"
)


def write_report(rows: list[Row], out_dir: Path) -> dict[str, Path]:
    """Write every file of the report into ``out_dir``; returns them by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "csv": out_dir / "report.csv",
        "speedups": out_dir / "speedups.csv",
        "md": out_dir / "report.md",
        "html": out_dir / "report.html",
    }
    write_csv(rows, files["csv"])
    write_speedups_csv(rows, files["speedups"])
    figures = {"blocks": blocks_figure(rows), "breakdown": breakdown_figure(rows)}
    for name, png in figures.items():
        if png is not None:
            files[f"{name}_png"] = out_dir / f"{name}.png"
            files[f"{name}_png"].write_bytes(png)
    context = _context(rows)
    comparison = paper_comparison(rows)
    findings = breakdown_findings(rows)
    blocks_table = _blocks_table(rows)
    breakdown_table = _breakdown_table(rows)

    md = ["# LCE paper figures on this device", "", *context, ""]
    html_parts = [
        "<h1>LCE paper figures on this device</h1>"
        + "".join(f"<p>{html.escape(c)}</p>" for c in context)
    ]
    if blocks_table[1]:
        lines, part = _section("blocks", figures, blocks_table, comparison, PAPER_SOURCE)
        md += lines
        html_parts.append(part)
    if breakdown_table[1]:
        lines, part = _section("breakdown", figures, breakdown_table, findings)
        md += lines
        html_parts.append(part)
    files["md"].write_text("\n".join(md) + "\n")
    files["html"].write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>lce-nas report</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(html_parts)}</body></html>\n"
    )
    return files


def _section(
    figure: str,
    figures: dict[str, bytes | None],
    table: tuple[list[str], list[list[str]]],
    notes: list[str],
    source: str | None = None,
) -> tuple[list[str], str]:
    """The section of ``figure`` (see :data:`_SECTIONS`) as Markdown lines and as HTML.

    Its title, the figure (``FIGURE.png`` beside report.md, inline in the HTML),
    the table, the notes below it, and where its reference numbers come from.

    Example:
        >>> lines, part = _section("breakdown", {"breakdown": None}, (["a"], [["1"]]), ["n"])
        >>> lines[:3], lines[-3:]
        (['## Latency breakdown', '', '![breakdown](breakdown.png)'], ['', 'n', ''])
        >>> part.startswith("<h2>Latency breakdown</h2><p>(no figure: nothing to plot)</p>")
        True
    """
    title, alt = _SECTIONS[figure]
    md = [f"## {title}", "", f"![{figure}]({figure}.png)", "", _markdown_table(*table), "", *notes]
    part = (
        f"<h2>{title}</h2>"
        + _img(f"fig-{figure}", figures[figure], alt)
        + _html_table(*table)
        + "".join(f"<p>{html.escape(line)}</p>" for line in notes)
    )
    if source is not None:
        md += ["", f"Source: {source}."]
        part += f"<p class='source'>Source: {html.escape(source)}.</p>"
    return [*md, ""], part


def _img(element_id: str, png: bytes | None, alt: str) -> str:
    if png is None:
        return "<p>(no figure: nothing to plot)</p>"
    data = base64.b64encode(png).decode()
    return f"<img id='{element_id}' alt='{alt}' src='data:image/png;base64,{data}'>"
