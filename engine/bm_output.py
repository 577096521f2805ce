"""The text ``lce_benchmark_model`` prints: write it (for ``lce-nas benchmark-model``) and read it.

The tool is TFLite's benchmark with LCE's ops. Its log lines may carry an
``INFO: `` prefix (newer TFLite) or not (older); its op tables come from
TensorFlow's ``StatsCalculator``: tab-separated, right-aligned columns under a
header such as ``[node type] [first] [avg ms] [%] [cdf%] [mem KB] [times called]
[Name]``, which some versions extend with ``[start]``. The reader finds
columns by their header, so either layout works, and keeps XNNPACK delegate
rows (``TfLiteXNNPackDelegate``, or ``Delegate/...`` per-op rows) as they are.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from lce_nas.errors import UserError

SUMMARY_PREFIX = "Inference timings in us:"
REGULAR_PROFILE_TITLE = "Operator-wise Profiling Info for Regular Benchmark Runs:"

_SUMMARY_RE = re.compile(
    r"Inference timings in us:\s*Init:\s*(?P<init>[-\d.e+]+),\s*"
    r"First inference:\s*(?P<first>[-\d.e+]+),\s*"
    r"Warmup \(avg\):\s*(?P<warmup>[-\d.e+na]+),\s*"
    r"Inference \(avg\):\s*(?P<avg>[-\d.e+na]+)"
)
_COUNT_RE = re.compile(r"^(?:INFO:\s*)?count=(\d+)(.*)$")
_TITLE_RE = re.compile(r"^=+ (.+?) =+$")


@dataclass(frozen=True)
class OpRow:
    """One node of an op-profiling table (times in milliseconds)."""

    node_type: str
    name: str
    avg_ms: float
    first_ms: float = math.nan
    percent: float = math.nan
    times_called: int = 1


@dataclass
class BenchmarkOutput:
    """What one ``lce_benchmark_model`` run reported.

    ``runs`` is the count of the timed (non-warm-up) loop; ``ops`` the "Run
    Order" table of the regular runs when op profiling was on.
    """

    init_us: float
    first_us: float
    warmup_avg_us: float
    inference_avg_us: float
    runs: int = 0
    warmup_runs: int = 0
    std_us: float | None = None
    ops: list[OpRow] | None = None
    tables: dict[str, list[OpRow]] = field(default_factory=dict)


def _g(value: float) -> str:
    # C++ iostream's default float format: 6 significant digits.
    return f"{value:g}"


def format_count_line(samples_us: list[float]) -> str:
    """TFLite's ``Stat`` line for a list of per-run times in microseconds.

    Example:
        >>> format_count_line([1000, 1200, 1100])
        'count=3 first=1000 curr=1100 min=1000 max=1200 avg=1100 std=81'
    """
    ints = [int(s) for s in samples_us]
    if not ints:
        return "count=0"
    if len(set(ints)) == 1:
        return f"count={len(ints)} curr={ints[-1]}" + ("(all same)" if len(ints) > 1 else "")
    avg = sum(ints) / len(ints)
    std = math.sqrt(max(0.0, sum(i * i for i in ints) / len(ints) - avg * avg))
    return (
        f"count={len(ints)} first={ints[0]} curr={ints[-1]} min={min(ints)} "
        f"max={max(ints)} avg={_g(avg)} std={int(std)}"
    )


def format_summary(init_us: float, first_us: float, warmup_avg_us: float, avg_us: float) -> str:
    """The summary line, exactly as the benchmark tool prints it.

    Example:
        >>> format_summary(52687, 19105, 14452.5, 14290.9)
        'Inference timings in us: Init: 52687, First inference: 19105, Warmup (avg): 14452.5, Inference (avg): 14290.9'
    """  # noqa: E501
    return (
        f"{SUMMARY_PREFIX} Init: {int(init_us)}, First inference: {int(first_us)}, "
        f"Warmup (avg): {_g(warmup_avg_us)}, Inference (avg): {_g(avg_us)}"
    )


def _field(value: str, width: int) -> str:
    return "\t" + value.rjust(width)


def _stat_line(
    node_type: str,
    second: str,
    ms: float,
    pct: float,
    cdf: float,
    times: int,
    widths: tuple[int, int],
) -> str:
    """One row of a profile table; the op and type tables differ in their second column
    and in the widths of the ms, % and cdf columns (``widths``), as TFLite prints them."""
    ms_width, pct_width = widths
    return (
        _field(node_type, 24)
        + _field(second, 9)
        + _field(f"{ms:.3f}", ms_width)
        + _field(f"{pct:.3f}", pct_width)
        + "%"
        + _field(f"{cdf:.3f}", pct_width)
        + "%"
        + _field("0.000", 10)
        + _field(str(times), 9)
    )


def _op_line(row: OpRow, cdf: float, total_ms: float) -> str:
    pct = row.avg_ms * row.times_called * 100.0 / total_ms if total_ms else 0.0
    first = f"{row.first_ms:.3f}"
    line = _stat_line(row.node_type, first, row.avg_ms, pct, cdf, row.times_called, (9, 7))
    return line + "\t" + row.name


def _op_table(title: str, rows: list[OpRow], total_ms: float) -> list[str]:
    header = "".join(
        _field(h, w)
        for h, w in [
            ("[node type]", 24),
            ("[first]", 9),
            ("[avg ms]", 9),
            ("[%]", 8),
            ("[cdf%]", 8),
            ("[mem KB]", 10),
            ("[times called]", 9),
        ]
    )
    lines = [
        f"============================== {title} ==============================",
        header + "\t[Name]",
    ]
    cdf = 0.0
    for row in rows:
        cdf += row.avg_ms * row.times_called * 100.0 / total_ms if total_ms else 0.0
        lines.append(_op_line(row, cdf, total_ms))
    return [*lines, ""]


def format_op_tables(rows: list[OpRow], run_totals_us: list[float]) -> str:
    """The op-profiling block (Run Order, Top by Computation Time, Summary by node type).

    ``rows`` are in run order; ``run_totals_us`` the per-run totals of the
    profiled runs.

    Example:
        >>> row = OpRow("LceBconv2d", "[b]:0", avg_ms=1.5, first_ms=2.0)
        >>> format_op_tables([row], [1500]).splitlines()[3].split()[0]
        'LceBconv2d'
    """
    total_ms = sum(r.avg_ms * r.times_called for r in rows)
    out = [f"INFO: {REGULAR_PROFILE_TITLE}"]
    out += _op_table("Run Order", rows, total_ms)
    by_time = sorted(rows, key=lambda r: r.avg_ms, reverse=True)
    out += _op_table("Top by Computation Time", by_time, total_ms)
    out.append(f"Number of nodes executed: {len(rows)}")
    out.append("============================== Summary by node type ==============================")
    out.append(
        "".join(
            _field(h, w)
            for h, w in [
                ("[Node type]", 24),
                ("[count]", 9),
                ("[avg ms]", 10),
                ("[avg %]", 11),
                ("[cdf %]", 11),
                ("[mem KB]", 10),
                ("[times called]", 10),
            ]
        )
    )
    types: dict[str, list[OpRow]] = {}
    for row in rows:
        types.setdefault(row.node_type, []).append(row)
    cdf = 0.0
    for node_type, group in sorted(
        types.items(), key=lambda kv: sum(r.avg_ms for r in kv[1]), reverse=True
    ):
        ms = sum(r.avg_ms * r.times_called for r in group)
        pct = ms * 100.0 / total_ms if total_ms else 0.0
        cdf += pct
        times = sum(r.times_called for r in group)
        out.append(_stat_line(node_type, str(len(group)), ms, pct, cdf, times, (10, 10)))
    out.append("")
    out.append(f"Timings (microseconds): {format_count_line(run_totals_us)}")
    out.append("Memory (bytes): count=0")
    out.append(f"{len(rows)} nodes observed")
    out.append("")
    return "\n".join(out)


def _strip_info(line: str) -> str:
    return line[len("INFO: ") :] if line.startswith("INFO: ") else line


def _split_columns(line: str) -> list[str]:
    if "\t" in line:
        return [c.strip() for c in line.split("\t") if c.strip()]
    return [c for c in re.split(r"\s{2,}", line.strip()) if c]


def _header_columns(line: str) -> list[str]:
    return [h.strip().lower() for h in re.findall(r"\[([^\]]+)\]", line)]


def _number(text: str) -> float:
    return float(text.rstrip("%"))


def _parse_table(lines: list[str], start: int) -> tuple[list[OpRow], int]:
    header = _header_columns(lines[start])
    col = {name: i for i, name in enumerate(header)}
    if "node type" not in col or "avg ms" not in col:
        raise ValueError(f"op table header without [node type]/[avg ms]: {lines[start]!r}")
    rows = []
    i = start + 1
    while i < len(lines) and lines[i].strip():
        cells = _split_columns(lines[i])
        if len(cells) < len(header) - 1:
            break
        if len(cells) == len(header) - 1:
            cells.append("")  # a node with an empty name
        # Names may hold tabs only in theory; anything past the header's width is the name.
        cells = [*cells[: len(header) - 1], "\t".join(cells[len(header) - 1 :])]
        rows.append(
            OpRow(
                node_type=cells[col["node type"]],
                name=cells[col["name"]] if "name" in col else "",
                avg_ms=_number(cells[col["avg ms"]]),
                first_ms=_number(cells[col["first"]]) if "first" in col else math.nan,
                percent=_number(cells[col["%"]]) if "%" in col else math.nan,
                times_called=int(_number(cells[col["times called"]]))
                if "times called" in col
                else 1,
            )
        )
        i += 1
    return rows, i


def _parse_profile(lines: list[str]) -> dict[str, list[OpRow]]:
    tables: dict[str, list[OpRow]] = {}
    i = 0
    while i < len(lines):
        line = _strip_info(lines[i]).strip()
        match = _TITLE_RE.match(line)
        wanted = match and match.group(1) in ("Run Order", "Top by Computation Time")
        if wanted and i + 1 < len(lines) and "[" in lines[i + 1]:
            rows, i = _parse_table(lines, i + 1)
            tables.setdefault(match.group(1), rows)
            continue
        i += 1
    return tables


def parse_benchmark_output(text: str) -> BenchmarkOutput:
    """Read the summary line, run counts and (if present) the regular runs' op tables.

    Raises :class:`UserError` when there is no summary line (the tool failed).

    Example:
        >>> out = parse_benchmark_output(
        ...     "count=50 first=1 curr=1 min=1 max=1 avg=1 std=0\\n"
        ...     "Inference timings in us: Init: 5, First inference: 9, "
        ...     "Warmup (avg): 8.5, Inference (avg): 8.25\\n")
        >>> out.inference_avg_us, out.runs
        (8.25, 50)
    """
    lines = text.splitlines()
    match = _SUMMARY_RE.search(text)
    if not match:
        tail = [ln for ln in lines if ln.strip()][-1:] or ["no output"]
        raise UserError(f"the benchmark tool printed no timing summary (last line: {tail[0]!r})")
    counts = []
    summary_at = next(i for i, ln in enumerate(lines) if SUMMARY_PREFIX in ln)
    for ln in lines[:summary_at]:
        m = _COUNT_RE.match(ln.strip())
        if m:
            counts.append((int(m.group(1)), m.group(2)))
    runs = counts[-1][0] if counts else 0
    warmup_runs = counts[-2][0] if len(counts) >= 2 else 0
    std = None
    if counts:
        m = re.search(r"std=([\d.]+)", counts[-1][1])
        std = float(m.group(1)) if m else 0.0
    profile_at = next((i for i, ln in enumerate(lines) if REGULAR_PROFILE_TITLE in ln), None)
    tables = _parse_profile(lines[profile_at + 1 :]) if profile_at is not None else {}
    ops = tables.get("Run Order") or tables.get("Top by Computation Time")
    return BenchmarkOutput(
        init_us=float(match["init"]),
        first_us=float(match["first"]),
        warmup_avg_us=float(match["warmup"]),
        inference_avg_us=float(match["avg"]),
        runs=runs,
        warmup_runs=warmup_runs,
        std_us=std,
        ops=ops,
        tables=tables,
    )
