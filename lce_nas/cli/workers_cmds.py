"""``evaluate``: one candidate through both workers, accuracy and latency."""

from __future__ import annotations

import json

import click

from lce_nas.cli.options import (
    architecture_options,
    db_option,
    deploy_shape_options,
    device_host_overrides,
    device_options,
    proxy_options,
    resolve_architecture,
    resolve_deploy_shape,
)


def register(group: click.Group) -> None:
    """Add this module's commands to the CLI."""
    group.add_command(evaluate)


@click.command()
@architecture_options()
@deploy_shape_options
@device_options
@click.option("--ray-address", help="Join an existing Ray cluster instead of a local one.")
@proxy_options
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def evaluate(
    space_name,
    preset,
    params_json,
    params_file,
    input_shape_text,
    classes_text,
    device_name,
    device_host,
    ray_address,
    dataset,
    proxy,
    db,
    as_json,
) -> None:
    """Train a candidate's proxy and time it on a device, in parallel on Ray.

    \b
    lce-nas evaluate --space quicknet --preset quicknet-small --device host
    """
    from rich.console import Console

    from lce_nas.engine.devices import get_device
    from lce_nas.settings import resolve_db_url
    from lce_nas.workers import Pool

    space, config = resolve_architecture(space_name, preset, params_json, params_file)
    shape = resolve_deploy_shape(input_shape_text, classes_text)
    device = get_device(device_name, **device_host_overrides(device_host))
    url = resolve_db_url(db)
    params = space.to_params(config)
    console = Console(stderr=True)
    with (
        console.status("training the proxy and timing the deploy model on Ray"),
        Pool(device, url, dataset=dataset, proxy=proxy, ray_address=ray_address) as pool,
    ):
        accuracy_future = pool.submit_accuracy(space.name, params)
        latency_future = pool.submit_latency(space.name, params, deploy_shape=shape.label)
        try:
            accuracy, latency = accuracy_future.result(), latency_future.result()
        except Exception as err:
            # Whatever finished is in the database; say what failed in one line.
            from lce_nas.workers import failure_reason

            click.echo(f"error: evaluation failed: {failure_reason(err)}", err=True)
            raise SystemExit(1) from None
    m = latency.measurement
    record = {
        "space": space.name,
        "fingerprint": space.fingerprint(config),
        "preset": space.preset_name(config),
        "accuracy": accuracy.evaluation.top1,
        "loss": accuracy.evaluation.loss,
        "dataset": accuracy.evaluation.dataset,
        "proxy_settings": proxy.to_dict(),
        "train_seconds": accuracy.evaluation.train_seconds,
        "accuracy_cached": accuracy.cached,
        "median_ms": m.median_ms,
        "p10_ms": m.p10_ms,
        "p90_ms": m.p90_ms,
        "cv": m.cv,
        "runs": m.runs,
        "device": m.device,
        "engine": m.engine,
        "engine_version": m.engine_version,
        "threads": m.threads,
        "kernel_options": m.kernel_options,
        "latency_cached": latency.cached,
        "deploy_shape": shape.label,
    }
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    out = Console()
    acc_src = "database" if accuracy.cached else f"trained in {record['train_seconds']:.0f} s"
    lat_src = "database" if latency.cached else "measured now"
    out.print(f"{space.name} {record['preset'] or record['fingerprint'][:12]}")
    out.print(f"  proxy top-1  {record['accuracy']:.4f} on {record['dataset']} ({acc_src})")
    out.print(
        f"  latency      {m.median_ms:.2f} ms median (p10 {m.p10_ms:.2f}, p90 {m.p90_ms:.2f}, "
        f"CV {m.cv:.3f}, {m.runs} runs) on {m.device}, {m.engine} {m.engine_version}, "
        f"{m.threads} thread(s), deploy shape {shape.label} ({lat_src})"
    )
