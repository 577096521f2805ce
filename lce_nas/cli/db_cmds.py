"""The latency database's commands: ``lce-nas db info|measurements|accuracies|export|import``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lce_nas.cli.options import db_option
from lce_nas.cli.validate import writable_output, write_error
from lce_nas.errors import UserError

if TYPE_CHECKING:
    from lce_nas.latency_db import LatencyStore


def open_store(db: str | None, create: bool = True) -> LatencyStore:
    """The store at ``--db`` / ``$LCE_NAS_DB`` / the default file."""
    from lce_nas.latency_db import LatencyStore
    from lce_nas.settings import resolve_db_url

    return LatencyStore(resolve_db_url(db), create=create)


def register(group: click.Group) -> None:
    """Add the ``db`` command group to the CLI."""
    group.add_command(db)


@click.group("db")
def db() -> None:
    """Inspect, export and merge the latency database."""


@db.command("info", short_help="URL, schema revision, rows per table, devices.")
@db_option
def info(db: str | None) -> None:
    """Show the database URL, schema revision, rows per table and devices."""
    from rich.table import Table

    from lce_nas.latency_db import head_revision

    with open_store(db, create=False) as store:
        revision = store.schema_revision()
        counts = store.counts()
        devices = store.devices()
        studies = _optuna_studies(store)

    console = _console()
    head = head_revision()
    summary = Table(show_header=False, box=None)
    summary.add_row("database", store.display_url)
    summary.add_row("backend", store.backend)
    summary.add_row(
        "schema revision", f"{revision} (current)" if revision == head else f"{revision}"
    )
    if studies is not None:
        summary.add_row("optuna studies", str(studies))
    console.print(summary)

    table = Table("table", "rows", title="rows per table", title_justify="left")
    for name, count in counts.items():
        table.add_row(name, str(count))
    console.print(table)

    if not devices:
        console.print("no devices yet")
        return
    table = Table(
        "device", "kind", "measurements", "first seen (UTC)", "last seen (UTC)", "spec",
        title="devices", title_justify="left",
    )  # fmt: skip
    for d in devices:
        table.add_row(
            d["name"],
            d["kind"] or "-",
            str(d["measurements"]),
            _when(d["first_seen"]),
            _when(d["last_seen"]),
            json.dumps(d["spec"], sort_keys=True) if d["spec"] else "-",
        )
    console.print(table)


def _optuna_studies(store: LatencyStore) -> int | None:
    """How many Optuna studies share the database, or None when it has none."""
    from sqlalchemy import inspect, text

    if not inspect(store.engine).has_table("studies"):
        return None
    with store.connection() as conn:
        return int(conn.execute(text("SELECT count(*) FROM studies")).scalar_one())


def _console():
    """A rich console; tables sent to a pipe or file keep their natural width."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=240)


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


@db.command("measurements")
@db_option
@click.option("--device", help="Only this device.")
@click.option("--space", help="Only architectures of this search space.")
@click.option("--fingerprint", help="Only this architecture (or tflite:<sha256> file).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def measurements(
    db: str | None,
    device: str | None,
    space: str | None,
    fingerprint: str | None,
    as_json: bool,
) -> None:
    """List every stored latency sample, oldest first, and where it came from.

    The last column names the file an imported sample came from ("here" for
    one measured by this installation).
    """
    with open_store(db, create=False) as store:
        rows = store.measurement_rows(fingerprint=fingerprint, device=device, space=space)
    if as_json:
        for row in rows:
            click.echo(json.dumps(_json_row(row), sort_keys=True))
        return
    from rich.table import Table

    console = _console()
    if not rows:
        console.print("no measurements match")
        return
    table = Table(
        "id", "fingerprint", "space", "device", "engine", "version", "threads",
        "kernel options", "median ms", "p10-p90 ms", "cv", "runs", "measured (UTC)", "from",
    )  # fmt: skip
    for r in rows:
        table.add_row(
            str(r["id"]),
            _short(r["fingerprint"]),
            r["space"] or "-",
            r["device"],
            r["engine"],
            r["engine_version"],
            str(r["threads"]),
            json.dumps(r["kernel_options"], sort_keys=True, separators=(",", ":")),
            f"{r['median_ms']:.3f}",
            f"{r['p10_ms']:.3f}-{r['p90_ms']:.3f}",
            "-" if r["cv"] is None else f"{100 * r['cv']:.1f}%",
            str(r["runs"]),
            _when(r["measured_at"]),
            r["origin"] or "here",
        )
    console.print(table)
    console.print(f"{len(rows)} sample{'s' if len(rows) != 1 else ''}")


@db.command("accuracies")
@db_option
@click.option("--fingerprint", help="Only this architecture.")
@click.option("--dataset", help="Only this dataset (e.g. fashion-mnist).")
@click.option("--steps", type=click.IntRange(min=1), help="Only trainings of this many steps.")
@click.option("--width", type=float, help="Only trainings at this width multiplier.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def accuracies(
    db: str | None,
    fingerprint: str | None,
    dataset: str | None,
    steps: int | None,
    width: float | None,
    as_json: bool,
) -> None:
    """List every stored proxy accuracy with its fidelity (steps, width, seed), oldest first.

    A multi-fidelity search stores one row per rung and seed it trained.
    """
    from lce_nas.search.fidelity import proxy_steps
    from lce_nas.workers.trainer import ProxySettings

    with open_store(db, create=False) as store:
        found = store.accuracies(fingerprint=fingerprint, dataset=dataset)
    rows = []
    for evaluation in found:
        settings = ProxySettings.from_dict(evaluation.proxy_settings)
        row = {**evaluation.to_dict(), "steps": proxy_steps(settings), "width": settings.width}
        if (steps is None or row["steps"] == steps) and (width is None or row["width"] == width):
            rows.append(row)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, sort_keys=True))
        return
    from rich.table import Table

    console = _console()
    if not rows:
        console.print("no accuracies match")
        return
    table = Table(
        "fingerprint", "dataset", "steps", "width", "seed", "top-1", "loss", "training s",
        "evaluated (UTC)",
    )  # fmt: skip
    for r in rows:
        table.add_row(
            _short(r["fingerprint"]),
            r["dataset"],
            str(r["steps"]),
            f"{r['width']:g}",
            str(r["proxy_settings"].get("seed", "-")),
            f"{r['top1']:.4f}",
            "-" if r["loss"] is None else f"{r['loss']:.3f}",
            f"{r['train_seconds']:.1f}",
            r["evaluated_at"][:19].replace("T", " "),
        )
    console.print(table)
    console.print(f"{len(rows)} accurac{'ies' if len(rows) != 1 else 'y'}")


def _short(fingerprint: str) -> str:
    """The first 12 hex digits, enough to tell architectures apart in a table."""
    prefix = "tflite:" if fingerprint.startswith("tflite:") else ""
    return prefix + fingerprint[len(prefix) : len(prefix) + 12]


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


@db.command("export", short_help="Write the database to a JSON or CSV file.")
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    help="json: every table, lossless; csv: measurements with their architecture "
    "(default: from the file name, else json).",
)
@click.option("-o", "--output", required=True, metavar="FILE", help="Where to write ('-': stdout).")
def export(db: str | None, fmt: str | None, output: str) -> None:
    """Write the database to a file that `lce-nas db import` reads elsewhere."""
    from lce_nas.latency_db.transfer import write_export

    fmt = fmt or ("csv" if output.lower().endswith(".csv") else "json")
    if output != "-":
        writable_output(Path(output), "-o")
    with open_store(db, create=False) as store:
        try:
            written = write_export(store, output, fmt)
        except OSError as err:
            raise write_error(output, err, "-o") from None
        shown = store.display_url
    if output != "-":
        click.echo(f"wrote {written} measurements from {shown} to {output} ({fmt})", err=True)


@db.command("import", short_help="Merge an export file into the database.")
@db_option
@click.argument("file", metavar="FILE")
def import_(db: str | None, file: str) -> None:
    """Merge an export (json or csv) into the database, skipping rows it already has."""
    from lce_nas.latency_db.transfer import load_import, origin_of

    if file != "-" and not Path(file).is_file():
        raise UserError(f"no such file: {file}")
    # Read (and check) the whole file before the database is opened or created.
    tables = load_import(file)
    offered = {name: len(rows) for name, rows in tables.items()}
    with open_store(db) as store:
        added = store.import_rows(tables, origin_of(file))
        shown = store.display_url
    parts = [
        f"{name}: {added.get(name, 0)} new, {offered[name] - added.get(name, 0)} already present"
        for name in added
        if offered.get(name)
    ]
    click.echo(f"imported {file} into {shown}")
    for part in parts or ["nothing to import"]:
        click.echo(f"  {part}")
