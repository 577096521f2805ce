"""Commands about predicted latency: ``predict`` and ``calibrate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from lce_nas.cli.options import (
    architecture_options,
    db_option,
    deploy_shape_options,
    engine_options,
    resolve_architecture,
    resolve_deploy_shape,
    resolve_device,
)
from lce_nas.cli.validate import FiniteFloatRange
from lce_nas.errors import UserError


def _key_and_store(device_options: dict[str, Any], shape_texts: tuple[Any, Any], db: str | None):
    from lce_nas.engine.measuring import measurement_key
    from lce_nas.latency_db import LatencyStore
    from lce_nas.settings import resolve_db_url

    device = resolve_device(**device_options)
    shape = resolve_deploy_shape(*shape_texts)
    return device, shape, measurement_key(device, shape.label), LatencyStore(resolve_db_url(db))


def _trained_on(info: dict[str, Any]) -> list[tuple[str, str]]:
    key = info["key"]
    cv = info["cross_validated"]
    profiles = info["profiles_from"]
    source = "its own per-op profiles"
    if profiles and profiles != key:
        source = f"per-op profiles of {profiles['engine']} {profiles['engine_version']}"
    lines = [
        (
            "key",
            f"{key['device']}, {key['engine']} {key['engine_version']}, "
            f"{key['threads']} thread(s), {key.get('deploy_shape', '224x224x3/1000')}",
        ),
        ("kernel options", json.dumps(key["kernel_options"], sort_keys=True)),
        (
            "trained on",
            f"{info['examples']} timed models, {info['profiled']} with a profile"
            + (
                f" ({info['slowed']} timed on a slowed core left out)" if info.get("slowed") else ""
            ),
        ),
        ("kernel times from", source),
    ]
    if cv.get("n"):
        lines.append(
            (
                "cross-validated",
                f"{cv['within_10pct'] * 100:.0f} % within +-10 % (median error "
                f"{cv['median_abs_pct']:.1f} %, 90th pct {cv['p90_abs_pct']:.1f} %, n={cv['n']})",
            )
        )
    return lines


@click.command("predict")
@architecture_options()
@engine_options
@deploy_shape_options
@click.option("--evaluate", is_flag=True, help="Print cross-validated error figures of the key.")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the prediction as JSON.")
def predict_cmd(
    space_name: str,
    preset: str | None,
    params_json: str | None,
    params_file: Path | None,
    input_shape_text: str | None,
    classes_text: str | None,
    evaluate: bool,
    db: str | None,
    as_json: bool,
    **device_options: Any,
) -> None:
    """Predict an architecture's latency on a device from the database (nothing is converted).

    \b
    lce-nas predict --space quicknet --preset quicknet-large --device host
    lce-nas predict --evaluate --device host --engine native
    """
    from lce_nas.predictor.service import load_predictor

    space, config = resolve_architecture(space_name, preset, params_json, params_file)
    _, shape, key, store = _key_and_store(device_options, (input_shape_text, classes_text), db)
    predictor = load_predictor(store, space, key)
    info = predictor.describe()
    if evaluate:
        if as_json:
            click.echo(json.dumps(info, indent=2))
            return
        for name, value in _trained_on(info):
            click.echo(f"{name:>18}: {value}")
        return
    prediction = predictor.predict(config)
    if as_json:
        record = {
            "space": space.name,
            "fingerprint": space.fingerprint(config),
            "prediction": prediction.to_dict(),
            "predictor": info,
        }
        click.echo(json.dumps(record, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"predicted latency of {space.name} {preset or 'config'} ({shape.label})")
    table.add_column("", style="bold")
    table.add_column("")
    interval = "too few models for an interval"
    if prediction.low_ms > 0 and prediction.high_ms < float("inf"):
        interval = f"90 % interval {prediction.low_ms:.2f}-{prediction.high_ms:.2f} ms"
    table.add_row("median", f"{prediction.median_ms:.2f} ms ({interval})")
    for category, ms in prediction.breakdown_ms.items():
        table.add_row(category.replace("_", " "), f"{ms:.3f} ms")
    for name, value in _trained_on(info):
        table.add_row(name, value)
    Console().print(table)


@click.command("calibrate")
@click.option("--space", "space_name", default="quicknet", show_default=True, help="Search space.")
@engine_options
@click.option("--n", "count", type=click.IntRange(min=1, max=10_000), default=60, show_default=True,
              help="Configs to measure besides the presets.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Which configs are drawn.")
@click.option(
    "--max-ops-ratio",
    type=FiniteFloatRange(min=1.0),
    default=4.0,
    show_default=True,
    help="Leave out configs with more operations than this times the largest preset's.",
)
@deploy_shape_options
@db_option
def calibrate_cmd(
    space_name: str,
    count: int,
    seed: int,
    max_ops_ratio: float,
    input_shape_text: str | None,
    classes_text: str | None,
    db: str | None,
    **device_options: Any,
) -> None:
    """Time the presets and N configs spread over a space, with per-op profiles, for the predictor.

    Every measurement is cached: a calibration that stopped resumes where it was.

    \b
    lce-nas calibrate --space quicknet --device host --n 60
    """
    from rich.console import Console

    from lce_nas.predictor.calibration import calibration_configs, measure_configs
    from lce_nas.predictor.service import load_predictor
    from lce_nas.settings import resolve_db_url
    from lce_nas.space import get_space

    space = get_space(space_name)
    space.kernels(next(iter(space.presets().values())))  # a space without kernels says so now
    device, shape, key, store = _key_and_store(device_options, (input_shape_text, classes_text), db)
    configs = list(space.presets().values())
    configs += calibration_configs(space, count, seed, shape, max_ops_ratio)
    console = Console(stderr=True)
    done = {"measured": 0, "cached": 0}

    def show(result: tuple[str, bool, float]) -> None:
        fingerprint, cached, median_ms = result
        done["cached" if cached else "measured"] += 1
        total = done["cached"] + done["measured"]
        source = "cached" if cached else "measured"
        console.print(
            f"[{total}/{len(configs)}] {fingerprint[:12]} {median_ms:.2f} ms ({source})",
            highlight=False,
        )

    measure_configs(space, configs, device, resolve_db_url(db), shape, on_result=show)
    try:
        predictor = load_predictor(store, space, key)
    except UserError as err:
        raise UserError(f"calibrated, but no predictor could be fitted: {err}") from None
    click.echo(
        f"calibrated {space.name} on {device.name}: {done['measured']} measured, "
        f"{done['cached']} from the cache"
    )
    for name, value in _trained_on(predictor.describe()):
        click.echo(f"{name:>18}: {value}")


def register(group: click.Group) -> None:
    group.add_command(predict_cmd)
    group.add_command(calibrate_cmd)
