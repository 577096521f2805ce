"""Row-by-row checks of an import file against the schema, before anything is written.

Every row of every table is checked for known columns, types, ranges and
finite numbers; a file with any bad row is refused as a whole, with each
rejected row named (file, table, row, field, why), so an import applies all
of a file or none of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from lce_nas.errors import UserError

#: Rejected rows named in the error before the rest are counted.
SHOWN_REJECTIONS = 5


def _timestamp(value: Any) -> Any:
    # ISO 8601 text only: pydantic would take a bare number as a Unix time.
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("not an ISO 8601 timestamp") from None
    if isinstance(value, datetime):
        return value
    raise ValueError("must be an ISO 8601 timestamp string")


Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]
Fingerprint = Annotated[str, Field(pattern=r"^(tflite:)?[0-9a-f]{64}$")]
Name = Annotated[str, Field(min_length=1, max_length=128)]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
Ms = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=512)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DeviceRow(_Row):
    """A ``devices`` row of an export."""

    name: Name
    kind: Annotated[str, Field(max_length=64)]
    spec: dict[str, Any]
    first_seen: Timestamp
    last_seen: Timestamp


class ArchitectureRow(_Row):
    """An ``architectures`` row of an export."""

    fingerprint: Fingerprint
    space: Annotated[str, Field(min_length=1, max_length=64)]
    space_version: Annotated[str, Field(max_length=32)]
    config: dict[str, Any]
    parameters: Count
    binary_macs: Count
    float_macs: Count
    packed_bytes: Count
    created_at: Timestamp


class OpProfileRow(BaseModel):
    """One op of a stored per-op profile (extra fields are kept)."""

    model_config = ConfigDict(extra="allow", strict=True)


class MeasurementRow(_Row):
    """A ``latency_measurements`` row of an export."""

    fingerprint: Fingerprint
    device: Name
    engine: Annotated[str, Field(min_length=1, max_length=64)]
    engine_version: Annotated[str, Field(min_length=1, max_length=64)]
    threads: Annotated[int, Field(ge=1, le=4096)]
    kernel_options: dict[str, bool | int | str]
    median_ms: Ms
    p10_ms: Ms
    p90_ms: Ms
    mean_ms: Ms
    std_ms: Ms
    cv: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    runs: Annotated[int, Field(ge=1, le=2**31 - 1)]
    warmup_runs: Annotated[int, Field(ge=0, le=2**31 - 1)]
    samples_ms: Annotated[list[Ms], Field(min_length=1)]
    op_profile: list[OpProfileRow] | None = None
    breakdown_ms: dict[str, Ms] | None = None
    host_facts: dict[str, Any]
    model_sha256: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")]
    extra: dict[str, Any]
    measured_at: Timestamp
    recorded_at: Timestamp
    origin: Text | None = None


class AccuracyRow(_Row):
    """An ``accuracy_evaluations`` row of an export."""

    fingerprint: Fingerprint
    dataset: Annotated[str, Field(min_length=1, max_length=128)]
    proxy_settings: dict[str, Any]
    top1: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    loss: Annotated[float, Field(allow_inf_nan=False)] | None = None
    epochs: Annotated[int, Field(ge=0, le=2**31 - 1)]
    seed: Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | None = None
    train_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    evaluated_at: Timestamp


class SearchRow(_Row):
    """A ``searches`` row of an export."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    study_name: Annotated[str, Field(min_length=1, max_length=512)]
    space: Annotated[str, Field(max_length=64)]
    device: Annotated[str, Field(max_length=128)]
    arguments: dict[str, Any]
    status: Annotated[str, Field(max_length=32)]
    created_at: Timestamp
    updated_at: Timestamp


#: Table name -> the row model an import is checked against.
ROW_MODELS: dict[str, type[_Row]] = {
    "devices": DeviceRow,
    "architectures": ArchitectureRow,
    "latency_measurements": MeasurementRow,
    "accuracy_evaluations": AccuracyRow,
    "searches": SearchRow,
}


def _field(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location) or "row"


def _one_line(text: str, limit: int = 200) -> str:
    # Keys and values come from the file: keep each report on one short line.
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def validate_tables(
    tables: Any, source: str, ignore: frozenset[str] = frozenset()
) -> dict[str, list[dict[str, Any]]]:
    """Checked rows of every table (timestamps as datetimes); UserError naming bad rows.

    ``ignore`` lists columns an export may carry that are recomputed here
    (row ids, hashes); they are dropped before the check.

    Example:
        >>> validate_tables({"devices": [{"name": ""}]}, "lab.json")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lce_nas.errors.UserError: lab.json: 1 row rejected, nothing imported: devices row 1 ...
    """
    if not isinstance(tables, dict):
        raise UserError(f"{source}: 'tables' must map table names to lists of rows")
    unknown = sorted(str(name) for name in set(tables) - set(ROW_MODELS))
    if unknown:
        raise UserError(
            f"{source}: unknown tables {', '.join(unknown)} (known: {', '.join(ROW_MODELS)})"
        )
    checked: dict[str, list[dict[str, Any]]] = {name: [] for name in ROW_MODELS}
    rejected: list[str] = []
    for name, rows in tables.items():
        if not isinstance(rows, list):
            raise UserError(f"{source}: table {name} must be a list of rows")
        model = ROW_MODELS[name]
        for number, raw in enumerate(rows, start=1):
            if not isinstance(raw, dict):
                rejected.append(f"{name} row {number}: not an object")
                continue
            try:
                row = model.model_validate({k: v for k, v in raw.items() if k not in ignore})
            except ValidationError as err:
                first = err.errors()[0]
                where = _field(first["loc"])
                rejected.append(_one_line(f"{name} row {number} field {where}: {first['msg']}"))
                continue
            checked[name].append(row.model_dump())
    if rejected:
        more = len(rejected) - SHOWN_REJECTIONS
        shown = "; ".join(rejected[:SHOWN_REJECTIONS]) + (f"; and {more} more" if more > 0 else "")
        plural = "s" if len(rejected) != 1 else ""
        raise UserError(
            f"{source}: {len(rejected)} row{plural} rejected, nothing imported: {shown}"
        )
    return checked
