"""``lce-nas report``: the LCE paper's two figures, measured on one device."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import click

from lce_nas.cli.options import db_option, device_host_overrides, device_options
from lce_nas.cli.validate import FiniteFloatRange
from lce_nas.errors import UserError
from lce_nas.report.blocks import RESNET18_BLOCKS

# Short per-model timing: 27 numbers must fit in minutes on a small machine.
DEFAULT_MAX_SECONDS = 3.0


def _output_dir(path: Path) -> Path:
    target = path.expanduser()
    if target.exists() and not target.is_dir():
        raise UserError(f"-o {path} is a file; give a folder for the report")
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe = target / ".lce-nas-write-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UserError(f"-o {path}: cannot write there ({err.strerror})") from None
    return target


def _summary(rows, source_line: str):
    from rich.table import Table

    table = Table(title=f"report ({source_line})", title_justify="left")
    for column in ("figure", "item", "precision", "engine", "median ms", "p10-p90 ms", "source"):
        table.add_column(column, justify="right" if "ms" in column else "left")
    for r in rows:
        if r.median_ms is None:
            cells = ("-", "-", f"{r.source} (see report.md)")
        else:
            cells = (f"{r.median_ms:.3f}", f"{r.p10_ms:.3f}-{r.p90_ms:.3f}", r.source)
        table.add_row(r.figure, r.item, r.precision, r.engine, *cells)
    return table


@click.command("report")
@device_options
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(path_type=Path),
    default=Path("report"),
    show_default=True,
    help="Folder for report.html, report.md, PNGs and CSVs.",
)
@click.option(
    "--engine",
    type=click.Choice(["lce-interpreter", "native"]),
    help="Host engine: native adds the native engine's figures beside LCE's.",
)
@click.option("--fresh", is_flag=True, help="Measure again even where the database has the key.")
@click.option("--blocks-only", is_flag=True, help="Only the ResNet-18 block figure.")
@click.option("--breakdown-only", is_flag=True, help="Only the latency breakdown figure.")
@click.option(
    "--block",
    "block_names",
    multiple=True,
    type=click.Choice([b.name for b in RESNET18_BLOCKS]),
    help="Measure only this block (repeatable; default: all four).",
)
@click.option(
    "--max-seconds",
    type=FiniteFloatRange(min=0.1),
    default=DEFAULT_MAX_SECONDS,
    show_default=True,
    help="Cap on timing one model (the device's own cap if lower).",
)
@db_option
def report_cmd(
    device_name: str,
    device_host: str | None,
    output: Path,
    engine: str | None,
    fresh: bool,
    blocks_only: bool,
    breakdown_only: bool,
    block_names: tuple[str, ...],
    max_seconds: float,
    db: str | None,
) -> None:
    """Measure the LCE paper's two figures on a device and write an HTML/Markdown report.

    Figure 1: the four 3x3 blocks of ResNet-18 as float32, int8 and binary, and
    binary's speed-up beside the paper's. Figure 2: QuickNetLarge, Real-to-Binary
    Net and BinaryDenseNet28 split into first layer, binary convolutions, glue
    and last layer. Every number is stored in the latency database; a second run
    answers from it (--fresh measures again).

    \b
    lce-nas report --device host -o out
    lce-nas report --device host --engine native -o out
    lce-nas report --device rpi4 --device-host pi@10.0.0.7 -o pi-report
    """
    from rich.console import Console

    from lce_nas.engine.devices import get_device
    from lce_nas.latency_db import LatencyStore
    from lce_nas.report.collect import Collector, Plan, engine_devices
    from lce_nas.report.render import write_report
    from lce_nas.settings import resolve_db_url

    if blocks_only and breakdown_only:
        raise UserError("give at most one of --blocks-only and --breakdown-only")
    console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
    device = get_device(device_name, **device_host_overrides(device_host))
    devices = engine_devices(device, engine)
    out_dir = _output_dir(output)
    cap = min(max_seconds, device.max_seconds)
    plan = Plan(
        devices,
        blocks=not breakdown_only,
        block_names=block_names or None,
        breakdown=not blocks_only,
        fresh=fresh,
        max_seconds=cap,
    )
    started = time.monotonic()
    with LatencyStore(resolve_db_url(db)) as store:
        collector = Collector(
            plan,
            store,
            echo=console.print,
            warn=lambda message: console.print(f"warning: {message}", style="yellow"),
        )
        rows = collector.run()
    files = write_report(rows, out_dir)
    elapsed = time.monotonic() - started
    counts = Counter(r.source for r in rows)
    source_line = (
        f"{collector.measured} measured, {counts['cache']} from the database, "
        f"{counts['refused']} refused, {elapsed:.0f} s"
    )
    Console().print(_summary(rows, source_line))
    click.echo(f"wrote {files['html']} (and report.md, report.csv, speedups.csv, PNGs)")


def register(group: click.Group) -> None:
    """Add this module's commands to the CLI."""
    group.add_command(report_cmd)
