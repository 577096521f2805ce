"""Commands about search spaces: ``spaces``, ``describe``, ``convert``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from lce_nas.cli.options import (
    architecture_options,
    deploy_shape_options,
    resolve_architecture,
    resolve_deploy_shape,
)
from lce_nas.cli.validate import writable_output, write_error

# Caps far above any deployable model: past them a build needs tens of GB.
MAX_INPUT_SIZE = 4096


def register(group: click.Group) -> None:
    """Add this module's commands to the CLI."""
    group.add_command(spaces)
    group.add_command(describe)
    group.add_command(convert)


@click.command()
def spaces() -> None:
    """List the search spaces, where each comes from, and their presets.

    A plug-in that fails to load is named in one ``error:`` line (exit code 1);
    the other spaces are still listed.
    """
    from rich.console import Console
    from rich.table import Table

    from lce_nas.space import list_spaces, plugin_failures, space_origin

    table = Table("space", "version", "origin", "presets", "what it searches")
    for space in list_spaces():
        table.add_row(
            space.name,
            space.version,
            space_origin(space.name),
            ", ".join(space.presets()),
            space.summary,
        )
    Console().print(table)
    failures = plugin_failures()
    for failure in failures:
        click.echo(f"error: {failure}", err=True)
    if failures:
        raise SystemExit(1)


@click.command()
@architecture_options()
@deploy_shape_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of a table.")
def describe(
    space_name, preset, params_json, params_file, input_shape_text, classes_text, as_json
) -> None:
    """Summarise an architecture: parameters, binary/float MACs, packed size, fingerprint.

    \b
    lce-nas describe --space quicknet --preset quicknet-small
    lce-nas describe --params '{"section_blocks": [2, 2, 2, 2]}'
    lce-nas describe --space birealnet --preset birealnet --input-shape 96x96x1 --classes 2
    """
    space, config = resolve_architecture(space_name, preset, params_json, params_file)
    shape = resolve_deploy_shape(input_shape_text, classes_text)
    summary = space.describe(config, shape.input_shape, shape.classes)
    record = {
        "space": space.name,
        "space_version": space.version,
        "preset": space.preset_name(config),
        "fingerprint": space.fingerprint(config),
        "deploy_shape": shape.label,
        "config": space.to_params(config),
        **summary.to_dict(),
    }
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("space", f"{space.name} (version {space.version})")
    table.add_row("preset", record["preset"] or "-")
    table.add_row("fingerprint", record["fingerprint"])
    table.add_row("deploy shape", f"{shape.label} (input HxWxC / classes)")
    table.add_row("config", space.config_json(config))
    table.add_row("parameters", f"{summary.parameters:,}")
    table.add_row("binary MACs", f"{summary.binary_macs:,}")
    table.add_row("float MACs", f"{summary.float_macs:,}")
    table.add_row("packed size", f"{summary.packed_bytes:,} bytes ({summary.packed_mb:.2f} MB)")
    Console().print(table)


@click.command()
@architecture_options()
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="The .tflite to write."
)
@click.option(
    "--input-size",
    type=click.IntRange(1, MAX_INPUT_SIZE),
    help="Input height and width (3 channels; or --input-shape).",
)
@deploy_shape_options
def convert(
    space_name,
    preset,
    params_json,
    params_file,
    output,
    input_size,
    input_shape_text,
    classes_text,
) -> None:
    """Build an architecture's deploy model and convert it with LCE to .tflite.

    \b
    lce-nas convert --space quicknet --preset quicknet -o quicknet.tflite
    lce-nas convert --preset quicknet-small --input-shape 96x96x1 --classes 2 -o q.tflite
    """
    space, config = resolve_architecture(space_name, preset, params_json, params_file)
    shape = resolve_deploy_shape(input_shape_text, classes_text, input_size)
    writable_output(output, "-o")
    from lce_nas.engine.convert import convert_model, op_counts

    start = time.perf_counter()
    model = space.build_deploy(config, input_shape=shape.input_shape, classes=shape.classes)
    built = time.perf_counter()
    tflite = convert_model(model)
    converted = time.perf_counter()
    tmp = output.with_name(output.name + ".part")
    try:
        tmp.write_bytes(tflite)
        tmp.replace(output)
    except OSError as err:
        raise write_error(output, err, "-o") from None
    ops = ", ".join(f"{n} {op}" for op, n in sorted(op_counts(tflite).items()))
    click.echo(
        f"wrote {output} ({len(tflite):,} bytes; built in {built - start:.1f} s, "
        f"converted in {converted - built:.1f} s)\nops: {ops}"
    )
