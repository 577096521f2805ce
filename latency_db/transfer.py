"""Export and import: move measurements between databases without duplicates.

``json`` is the complete format: every row of every table (row ids aside),
with the schema revision it came from. ``csv`` is for spreadsheets: one line
per latency measurement, followed by its architecture's columns (empty for a
bare ``tflite:`` file); importing it restores measurements and architectures.

Imports merge: an architecture, accuracy evaluation or search whose key is
already present is kept as it is, and a measurement is skipped when the
database already holds the same sample (same ``sample_sha256``: same key,
time, statistics and samples), so importing a file twice adds nothing.
"""

from __future__ import annotations

import csv
import io
import json
import reprlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from lce_nas.latency_db import migrate
from lce_nas.latency_db.models import TABLES, UTCDateTime
from lce_nas.latency_db.records import (
    AccuracyEvaluation,
    finish_measurement_row,
    json_safe,
    now,
)
from lce_nas.latency_db.validation import validate_tables
from sqlalchemy import JSON, Column, Connection, Float, Integer, Table, select

from lce_nas.errors import UserError

if TYPE_CHECKING:
    from lce_nas.latency_db.store import LatencyStore

FORMAT_NAME = "lce-nas-db"
FORMAT_VERSION = 1
#: Origin of imported measurements when the caller names none.
IMPORT_ORIGIN = "another database"
# Columns that are not exported: row ids, and hashes recomputed on import.
_DERIVED = {"id", "key_sha256", "sample_sha256", "proxy_settings_hash"}
_ORDER = {
    "devices": ("name",),
    "architectures": ("fingerprint",),
    "latency_measurements": ("measured_at", "sample_sha256"),
    "accuracy_evaluations": ("fingerprint", "dataset", "proxy_settings_hash"),
    "searches": ("name",),
}
# Architecture columns on each CSV line; created_at is renamed architecture_created_at.
_ARCH_CSV = ("space", "space_version", "config", "parameters", "binary_macs", "float_macs",
             "packed_bytes", "architecture_created_at")  # fmt: skip


def _table(name: str) -> Table:
    return TABLES[name].__table__  # type: ignore[return-value]


def _columns(name: str) -> list[Column[Any]]:
    return [c for c in _table(name).columns if c.name not in _DERIVED]


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def export_rows(store: LatencyStore) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows as JSON-ready dicts (timestamps as ISO 8601), in a stable order.

    Example:
        >>> from lce_nas.latency_db import LatencyStore
        >>> export_rows(LatencyStore("sqlite://"))["devices"]
        []
    """

    def work(conn: Connection) -> dict[str, list[dict[str, Any]]]:
        tables = {}
        for name in TABLES:
            table = _table(name)
            query = select(table).order_by(*(table.c[c] for c in _ORDER[name]))
            tables[name] = [
                {c.name: _to_json(r._mapping[c.name]) for c in _columns(name)}
                for r in conn.execute(query)
            ]
        return tables

    return store._read(work)


def _coerce(column: Column[Any], value: Any, from_text: bool) -> Any:
    """A column's value from JSON (or, ``from_text``, from a CSV cell)."""
    kind = column.type
    if from_text and isinstance(kind, JSON):
        return json.loads(value)
    if value is None or (from_text and value == "" and column.nullable):
        return None
    if isinstance(kind, UTCDateTime):
        return datetime.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(kind, Integer):
        return int(value)
    if isinstance(kind, Float):
        return float(value)
    if isinstance(kind, JSON):
        return json_safe(value)
    return str(value)


def _typed_row(
    name: str, raw: dict[str, Any], from_text: bool = False, where: str = "import file"
) -> dict[str, Any]:
    row = {}
    for column in _columns(name):
        if column.name not in raw:
            if column.nullable:
                row[column.name] = None
                continue
            raise UserError(f"{where}: a row of {name} has no {column.name!r} column")
        try:
            row[column.name] = _coerce(column, raw[column.name], from_text)
        except (TypeError, ValueError, RecursionError) as err:
            shown = reprlib.repr(raw[column.name])
            raise UserError(
                f"{where}: bad {column.name!r} in {name}: {shown} ({type(err).__name__})"
            ) from None
    return row


def import_rows(
    store: LatencyStore, tables: dict[str, list[dict[str, Any]]], origin: str = IMPORT_ORIGIN
) -> dict[str, int]:
    """Merge rows (as :func:`export_rows` gives them); the number of new rows per table.

    Every row is checked first (:func:`~.validation.validate_tables`): one bad
    row refuses the whole import. Imported measurements keep where they came
    from (their ``origin`` from the file, else ``origin``), so they never
    pass for measurements taken here.

    Example:
        >>> from lce_nas.latency_db import LatencyStore
        >>> import_rows(LatencyStore("sqlite://"), {"devices": []})["devices"]
        0
    """
    typed = {
        name: [_typed_row(name, raw) for raw in rows]
        for name, rows in validate_tables(tables, origin, ignore=_DERIVED).items()
    }

    def work(conn: Connection) -> dict[str, int]:
        added = dict.fromkeys(TABLES, 0)
        for row in typed["devices"]:
            added["devices"] += store._touch_device(
                conn, row["name"], row["first_seen"], row["last_seen"], row["kind"], row["spec"]
            )
        for name, key in (
            ("architectures", ["fingerprint"]),
            ("accuracy_evaluations", ["fingerprint", "dataset", "proxy_settings_hash"]),
            ("searches", ["name"]),
        ):
            for row in typed[name]:
                if name == "accuracy_evaluations":
                    row = _with_settings_hash(row)
                stmt = (
                    store._insert(_table(name))
                    .values(row)
                    .on_conflict_do_nothing(index_elements=key)
                    .returning(_table(name).c[key[0]])
                )
                added[name] += conn.execute(stmt).first() is not None
        added["latency_measurements"] = _import_measurements(store, conn, typed, origin)
        return added

    return store._write(work, idempotent=True)


def _with_settings_hash(row: dict[str, Any]) -> dict[str, Any]:
    settings_hash = AccuracyEvaluation("", "", row["proxy_settings"], 0.0).proxy_settings_hash
    return {**row, "proxy_settings_hash": settings_hash}


def _import_measurements(
    store: LatencyStore, conn: Connection, typed: dict[str, list[dict[str, Any]]], origin: str
) -> int:
    table = _table("latency_measurements")
    held = {r[0] for r in conn.execute(select(table.c.sample_sha256))}
    added = 0
    for raw in typed["latency_measurements"]:
        row = finish_measurement_row(raw, recorded_at=now())
        # A row that was itself imported keeps its first origin; none is ever local.
        row["origin"] = raw.get("origin") or origin
        if row["sample_sha256"] in held:
            continue
        held.add(row["sample_sha256"])
        store._touch_device(conn, row["device"], row["measured_at"])
        conn.execute(table.insert().values(row))
        added += 1
    return added


# -- files ------------------------------------------------------------------


def export_document(store: LatencyStore) -> dict[str, Any]:
    """The JSON export: format tag, schema revision, time and all tables."""
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "schema_revision": store.schema_revision(),
        "exported_at": now().isoformat(),
        "tables": export_rows(store),
    }


def _arch_column(csv_name: str) -> str:
    return csv_name.removeprefix("architecture_")


def csv_rows(tables: dict[str, list[dict[str, Any]]]) -> tuple[list[str], list[dict[str, str]]]:
    """Header and lines of the CSV export: measurements with their architecture."""
    header = [c.name for c in _columns("latency_measurements")] + list(_ARCH_CSV)
    json_columns = {
        c.name
        for table in ("latency_measurements", "architectures")
        for c in _columns(table)
        if isinstance(c.type, JSON)
    }
    archs = {a["fingerprint"]: a for a in tables["architectures"]}
    lines = []
    for m in tables["latency_measurements"]:
        arch = archs.get(m["fingerprint"], {})
        values = {**m, **{name: arch.get(_arch_column(name)) for name in _ARCH_CSV}}
        lines.append({name: _cell(value, name in json_columns) for name, value in values.items()})
    return header, lines


def _cell(value: Any, is_json: bool) -> str:
    if is_json:
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)


def tables_from_csv(handle: TextIO, source: str = "import file") -> dict[str, list[dict[str, Any]]]:
    """Measurement and architecture rows from a CSV export (still as text)."""
    measurements, archs = [], {}
    reader = csv.DictReader(handle)
    needed = {c.name for c in _columns("latency_measurements") if not c.nullable}
    missing = sorted(needed - set(reader.fieldnames or ()))
    if missing:
        raise UserError(
            f'{source} is not an lce-nas export: neither JSON with "format": "{FORMAT_NAME}" '
            f"nor CSV with the columns of `lce-nas db export --format csv` "
            f"(missing {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})"
        )
    for line in reader:
        measurements.append(line)
        if line.get("space"):
            arch = {_arch_column(name): line.get(name) for name in _ARCH_CSV}
            archs[line["fingerprint"]] = {"fingerprint": line["fingerprint"], **arch}
    return {"latency_measurements": measurements, "architectures": list(archs.values())}


@contextmanager
def _open_out(path: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdout
        return
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        yield handle


def write_export(store: LatencyStore, path: str, fmt: str) -> int:
    """Write the export to ``path`` (``-``: stdout); the number of measurements written."""
    document = export_document(store)
    tables = document["tables"]
    with _open_out(path) as handle:
        if fmt == "json":
            json.dump(document, handle, indent=1, sort_keys=True)
            handle.write("\n")
        elif fmt == "csv":
            header, lines = csv_rows(tables)
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(lines)
        else:
            raise UserError(f"unknown export format {fmt!r} (choose csv or json)")
    return len(tables["latency_measurements"])


def read_import(path: str) -> tuple[dict[str, list[dict[str, Any]]], bool]:
    """Tables from an export file (JSON or CSV, told apart by content), and whether CSV."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise UserError(f"{path} is not a text export (expected JSON or CSV)") from err
    if text.lstrip().startswith("{"):
        return _tables_from_json(text, path), False
    if not text.strip():
        raise UserError(f"{path} is empty")
    return tables_from_csv(io.StringIO(text), path), True


def _tables_from_json(text: str, path: str) -> dict[str, list[dict[str, Any]]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON: {err}") from err
    except RecursionError:
        raise UserError(f"{path} nests JSON too deeply to be an lce-nas export") from None
    except ValueError as err:
        # e.g. an integer with more digits than Python converts.
        raise UserError(f"{path} is not valid JSON: {str(err).split(';')[0]}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise UserError(f'{path} is not an lce-nas export (no "format": "{FORMAT_NAME}")')
    version = document.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise UserError(f"{path}: format_version must be a whole number, got {version!r:.40}")
    if version > FORMAT_VERSION:
        raise UserError(f"{path} was written by a newer lce-nas; upgrade lce-nas to import it")
    if not isinstance(document.get("tables"), dict):
        raise UserError(f'{path} has no tables (an export holds "tables": {{name: [rows]}})')
    revision = document.get("schema_revision")
    if revision is not None and not isinstance(revision, str):
        raise UserError(f"{path}: schema_revision must be a string, got {revision!r:.40}")
    known = [r.revision for r in migrate.script_directory().walk_revisions()]
    if revision is not None and revision not in known:
        raise UserError(
            f"{path} comes from schema revision {revision}, newer than this lce-nas "
            f"knows (up to {migrate.head_revision()}); upgrade lce-nas to import it"
        )
    return document["tables"]


def load_import(path: str) -> dict[str, list[dict[str, Any]]]:
    """Checked rows of an export file (``-``: stdin), JSON or CSV, ready for :func:`import_rows`.

    Every row is validated here, so a bad file is refused before any
    database is opened or created.
    """
    tables, is_csv = read_import(path)
    if is_csv:
        tables = {
            name: [
                _to_json_row(_typed_row(name, raw, from_text=True, where=f"{path} line {n + 2}"))
                for n, raw in enumerate(rows)
            ]
            for name, rows in tables.items()
        }
    try:
        return validate_tables(tables, path, ignore=_DERIVED)
    except RecursionError:
        raise UserError(f"{path} nests values too deeply to be an lce-nas export") from None


def origin_of(path: str) -> str:
    """The origin recorded on measurements imported from ``path``.

    Example:
        >>> origin_of("/data/lab.json")
        'lab.json'
    """
    return "stdin" if path == "-" else Path(path).name


def import_file(store: LatencyStore, path: str) -> dict[str, int]:
    """Merge an export file into the store; the new rows per table."""
    return import_rows(store, load_import(path), origin_of(path))


def _to_json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _to_json(v) for k, v in row.items()}
