"""Commands about timing models: ``devices``, ``bench``, ``benchmark-model``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from lce_nas.cli.options import (
    db_option,
    deploy_shape_options,
    engine_options,
    resolve_deploy_shape,
    resolve_device,
)
from lce_nas.cli.validate import FiniteFloatRange, ThreadCount, writable_output
from lce_nas.errors import UserError


@click.command("devices")
def devices_cmd() -> None:
    """List device profiles (built-in, ~/.config/lce-nas/devices.toml, ./lce-nas.toml)."""
    from rich.console import Console
    from rich.table import Table

    from lce_nas.engine.devices import list_devices

    table = Table(title="devices", title_justify="left")
    for column in ("name", "kind", "address", "threads", "engine", "kernel options", "from", "ok"):
        table.add_column(column)
    for device in list_devices():
        options = ", ".join(k.removeprefix("use_") for k, v in device.kernel_options.items() if v)
        missing = device.missing()
        table.add_row(
            device.name,
            device.kind,
            device.address,
            str(device.threads),
            device.engine,
            options or "-",
            device.origin,
            "needs " + ", ".join(missing) if missing else "yes",
        )
    Console().print(table)


def _build_from_space(space_name: str, preset: str, shape, console) -> tuple[bytes, str, Any, Any]:
    from lce_nas.space import get_space

    space = get_space(space_name)
    config = space.preset(preset)
    with console.status(f"building and converting {space_name}/{preset} ({shape.label})"):
        from lce_nas.engine.convert import convert_deploy

        # The same seeded build as search and export, so the timed file is the exported one.
        _, tflite = convert_deploy(space, config, shape)
    return tflite, space.fingerprint(config), space, config


def _open_store(db: str | None, warn):
    from lce_nas.settings import resolve_db_url

    try:
        from lce_nas.latency_db import LatencyStore
    except ImportError:
        warn("the latency database is not available in this installation; nothing is recorded")
        return None
    return LatencyStore(resolve_db_url(db))


def _latency_table(m, source: str, factor: float | None = None):
    from rich.table import Table

    table = Table(
        title=f"latency on {m.device} ({source})", title_justify="left", show_header=False
    )
    table.add_column("", style="bold")
    table.add_column("")
    options = ", ".join(f"{k}={v}" for k, v in sorted(m.kernel_options.items())) or "-"
    rows = [
        ("median", f"{m.median_ms:.3f} ms"),
        ("p10 / p90", f"{m.p10_ms:.3f} / {m.p90_ms:.3f} ms"),
        ("mean ± std", f"{m.mean_ms:.3f} ± {m.std_ms:.3f} ms"),
        ("CV", f"{m.cv * 100:.2f} %"),
        ("runs (warm-up)", f"{m.runs} ({m.warmup_runs})"),
        ("threads", str(m.threads)),
        ("engine", f"{m.engine} {m.engine_version}"),
        ("kernel options", options),
        ("cpu", str(m.host_facts.get("cpu_model", "?"))),
        ("core slowdown", "-" if factor is None else f"{factor:.2f}x (speed sentinel vs usual)"),
        ("measured at", m.measured_at.isoformat(timespec="seconds")),
        ("fingerprint", str(m.fingerprint)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _breakdown_table(m):
    from rich.table import Table

    table = Table(title="breakdown (per-op profile)", title_justify="left")
    for column in ("category", "ms", "share"):
        table.add_column(column, justify="right" if column != "category" else "left")
    total = sum(m.breakdown_ms.values()) or 1.0
    for name, ms in m.breakdown_ms.items():
        table.add_row(name, f"{ms:.3f}", f"{ms / total * 100:.1f} %")
    return table


@click.command("bench")
@click.argument("model", required=False)
@click.option("--space", "space_name", help="Build the model from a search space instead.")
@click.option("--preset", help="Preset of --space to build (e.g. quicknet-small).")
@engine_options
@click.option("--profile", is_flag=True, help="Per-op profile and latency breakdown.")
@click.option("--max-seconds", type=FiniteFloatRange(min=0.1), help="Cap on timing time.")
@click.option("--fresh", is_flag=True, help="Measure even if the database has this key.")
@deploy_shape_options
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the measurement as JSON.")
def bench_cmd(
    model: str | None,
    space_name: str | None,
    preset: str | None,
    device_name: str,
    device_host: str | None,
    threads: int | None,
    engine: str | None,
    indirect_bgemm: bool | None,
    xnnpack: bool | None,
    reference_bconv: bool | None,
    profile: bool,
    max_seconds: float | None,
    fresh: bool,
    input_shape_text: str | None,
    classes_text: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Time MODEL.tflite (or --space/--preset) on a device; answers from the database cache.

    \b
    lce-nas bench model.tflite --device host --threads 1
    lce-nas bench --space quicknet --preset quicknet --device rpi4 --device-host pi@10.0.0.7
    """
    from rich.console import Console

    from lce_nas.engine.measuring import measure, measurement_key, tflite_fingerprint
    from lce_nas.engine.tflite_info import load_tflite

    console = Console(stderr=True)

    def warn(message: str) -> None:
        console.print(f"warning: {message}", style="yellow", highlight=False, soft_wrap=True)

    if (model is None) == (space_name is None):
        raise UserError("give either MODEL.tflite or --space NAME --preset PRESET")
    if space_name and not preset:
        raise UserError(f"--space {space_name} needs --preset (e.g. --preset quicknet-small)")
    device = resolve_device(
        device_name, device_host, threads, engine, indirect_bgemm, xnnpack, reference_bconv
    )
    if profile and not device.times_ops:
        raise UserError(
            "per-op profiles on the host need --engine native (LCE's Python interpreter has "
            "no per-op timers), or a device that runs lce_benchmark_model"
        )
    shape = resolve_deploy_shape(input_shape_text, classes_text)
    if model is not None and (input_shape_text or classes_text):
        raise UserError("--input-shape and --classes apply to --space models, not MODEL.tflite")
    key = measurement_key(device, shape.label)

    space = config = None
    if model is not None:
        tflite = load_tflite(Path(model))
        fingerprint = tflite_fingerprint(tflite)
    else:
        tflite, fingerprint, space, config = _build_from_space(space_name, preset, shape, console)

    store = _open_store(db, warn)
    result = imported_from = None
    if store is not None and not fresh:
        from lce_nas.latency_db.records import measurement_from_row

        row = store.lookup_measurement_row(fingerprint, key)
        cached = None if row is None else measurement_from_row(row)
        if cached is not None and (not profile or cached.breakdown_ms):
            result, origin = cached, "cache"
            imported_from = row["origin"]
            imported = f" (imported from {imported_from})" if imported_from else ""
            source = f"from the database cache{imported}; --fresh measures again"
    if result is None:
        with console.status(f"measuring on {device.name} ...") as status:
            result = measure(
                tflite,
                device,
                profile=profile,
                max_seconds=max_seconds,
                fingerprint=fingerprint,
                progress=lambda msg: status.update(f"measuring on {device.name}: {msg}"),
                warn=warn,
            )
        result.deploy_shape = shape.label
        origin, source = "measured", "measured now"
        if store is not None:
            store.record_device(device.name, device.kind, device.to_spec())
            if space is not None:
                store.record_config(space, config)
            store.record_measurement(result)
            source += ", recorded in the database"
    from lce_nas.engine.sentinel import is_slowed

    factor = None if store is None else store.slowdown(result)
    if is_slowed(factor):
        warn(
            f"the timing core ran {factor:.2f}x slower than usual while this was timed (its "
            "speed sentinel against the device's recent ones: a busy or throttled host); the "
            "latency is recorded, but time it again with --fresh when the host is quiet"
        )
    if as_json:
        record = {"source": origin, "imported_from": imported_from, **result.to_dict()}
        record["slowdown"] = None if factor is None else round(factor, 4)
        click.echo(json.dumps(record, indent=2))
        return
    out = Console()
    out.print(_latency_table(result, source, factor))
    if result.breakdown_ms:
        out.print(_breakdown_table(result))


_BOOL = click.BOOL


@click.command("benchmark-model", context_settings={"ignore_unknown_options": False})
@click.option("--graph", required=True, help="Path to the .tflite model.")
@click.option("--num_threads", type=ThreadCount(), default=-1, show_default=True)
@click.option("--warmup_runs", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--warmup_min_secs", type=FiniteFloatRange(min=0), default=0.5, show_default=True)
@click.option("--num_runs", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--min_secs", type=FiniteFloatRange(min=0), default=1.0, show_default=True)
@click.option(
    "--max_secs", type=FiniteFloatRange(min=0, min_open=True), default=150.0, show_default=True
)
@click.option("--run_delay", type=float, default=-1.0, show_default=True)
@click.option("--use_xnnpack", type=_BOOL, default=False, show_default=True)
@click.option("--use_indirect_bgemm", type=_BOOL, default=False, show_default=True)
@click.option("--use_reference_bconv", type=_BOOL, default=False, show_default=True)
@click.option("--enable_op_profiling", type=_BOOL, default=False, show_default=True)
@click.option("--profiling_output_csv_file", default="", help="Write op profiles here.")
@click.option(
    "--engine",
    type=click.Choice(["lce", "native"]),
    default="lce",
    show_default=True,
    help="lce-nas extension: native has per-op timers.",
)
def benchmark_model_cmd(**flags: Any) -> None:
    """LCE's lce_benchmark_model, in Python: same flags, same output.

    \b
    lce-nas benchmark-model --graph=m.tflite --num_threads=1 --num_runs=50 \\
        --use_xnnpack=true --use_indirect_bgemm=true
    """
    from lce_nas.engine.benchmark_model import BenchmarkFlags, run_benchmark_model

    if flags["profiling_output_csv_file"]:
        writable_output(Path(flags["profiling_output_csv_file"]), "--profiling_output_csv_file")
    run_benchmark_model(BenchmarkFlags(**flags), echo=lambda line: print(line, flush=True))
    sys.stdout.flush()


def register(group: click.Group) -> None:
    """Add this module's commands to the CLI."""
    group.add_command(devices_cmd)
    group.add_command(bench_cmd)
    group.add_command(benchmark_model_cmd)
