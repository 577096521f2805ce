"""Options shared by several commands, and how they turn into domain objects."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lce_nas.cli.validate import FiniteFloatRange, parse_params, read_params_file
from lce_nas.cli.validate import writable_output as writable_output
from lce_nas.errors import UserError


def architecture_options(
    required: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--space``, ``--preset``, ``--params`` and ``--params-file`` on a command."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option(
            "--params-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="A JSON file with the architecture's parameters.",
        )(func)
        func = click.option(
            "--params", "params_json", help="The architecture's parameters as JSON."
        )(func)
        func = click.option("--preset", help="A named architecture of the space, e.g. quicknet.")(
            func
        )
        return click.option(
            "--space",
            "space_name",
            default="quicknet" if required else None,
            show_default=required,
            help="Search space (see `lce-nas spaces`).",
        )(func)

    return decorate


def resolve_architecture(
    space_name: str, preset: str | None, params_json: str | None, params_file: Path | None
):
    """The space and config that the architecture options name.

    Exactly one of ``preset``, ``params_json`` and ``params_file`` may be
    given; with none, the space's first preset is used.
    """
    from lce_nas.space import get_space

    space = get_space(space_name)
    given = [
        name
        for name, v in (
            ("--preset", preset),
            ("--params", params_json),
            ("--params-file", params_file),
        )
        if v is not None
    ]
    if len(given) > 1:
        raise UserError(f"give only one of {', '.join(given)}")
    if preset is not None:
        return space, space.preset(preset)
    if params_file is not None:
        params_json = read_params_file(params_file)
        return space, space.config_from_params(parse_params(params_json, "--params-file"))
    if params_json is not None:
        return space, space.config_from_params(parse_params(params_json))
    first = next(iter(space.presets()))
    return space, space.preset(first)


def proxy_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--dataset`` and the proxy flags ``--epochs``, ``--subset``, ``--width``,
    ``--batch-size``; the command gets ``dataset`` and ``proxy`` (a ``ProxySettings``)."""

    @functools.wraps(func)
    def with_proxy(*args: Any, epochs, subset, width, batch_size, **kwargs: Any) -> Any:
        return func(*args, proxy=proxy_settings(epochs, subset, width, batch_size), **kwargs)

    options = [
        click.option(
            "--dataset",
            default="fashion-mnist",
            show_default=True,
            help="fashion-mnist, npz:FILE, folder:DIR or tfds:NAME.",
        ),
        click.option("--batch-size", type=click.IntRange(min=1), help="Proxy batch size."),
        click.option("--width", type=click.FloatRange(min=0.01), help="Proxy width multiplier."),
        click.option("--subset", type=click.IntRange(min=10), help="Proxy training images."),
        click.option("--epochs", type=click.IntRange(min=1), help="Proxy training epochs."),
    ]
    command: Callable[..., Any] = with_proxy
    for option in options:
        command = option(command)
    return command


def proxy_settings(
    epochs: int | None, subset: int | None, width: float | None, batch_size: int | None
):
    """The default proxy settings with the given flags applied."""
    from lce_nas.workers.trainer import ProxySettings

    return ProxySettings().replace(epochs=epochs, subset=subset, width=width, batch_size=batch_size)


def count_option(flag: str, default: int, help: str) -> Callable[..., Any]:
    """A whole-number option of at least 1 with a shown default.

    Example:
        >>> @click.command()
        ... @count_option("--parallel", 2, "Candidates in flight at once.")
        ... def run(parallel): ...
    """
    return click.option(
        flag, type=click.IntRange(min=1), default=default, show_default=True, help=help
    )


def limit_option(flag: str, help: str) -> Callable[..., Any]:
    """An optional limit: a finite number above zero (``nan`` and ``inf`` are refused).

    Example:
        >>> @click.command()
        ... @limit_option("--max-latency-ms", "Latency limit.")
        ... def run(max_latency_ms): ...
    """
    return click.option(flag, type=FiniteFloatRange(min=0, min_open=True), help=help)


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--db URL`` on a command (default: ``$LCE_NAS_DB``, else ``sqlite:///lce-nas.db``).

    Example:
        >>> @click.command()
        ... @db_option
        ... def show(db): ...
    """
    return click.option(
        "--db", metavar="URL", help="Database URL (default: $LCE_NAS_DB or sqlite:///lce-nas.db)."
    )(func)


_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | None) -> float | None:
    """Seconds in ``90s``, ``15m``, ``2h`` or ``1h30m`` (a bare number is seconds).

    Example:
        >>> parse_duration("1h30m"), parse_duration("45")
        (5400.0, 45.0)
    """
    import re

    if text is None:
        return None
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UserError(f"--time-budget {text!r}: use e.g. 90s, 15m, 2h or 1h30m")
    return float(sum(float(n) * _DURATION[u] for n, u in parts))


def device_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--device NAME`` and ``--device-host USER@HOST[:PORT]``."""
    func = click.option(
        "--device-host", help="USER@HOST[:PORT] of an SSH device (completes rpi4)."
    )(func)
    return click.option(
        "--device",
        "device_name",
        default="host",
        show_default=True,
        help="Device profile (see `lce-nas devices`).",
    )(func)


def device_host_overrides(device_host: str | None) -> dict[str, Any]:
    """The device settings that ``--device-host`` stands for (none when not given)."""
    from lce_nas.engine.devices import parse_device_host

    return parse_device_host(device_host) if device_host else {}


def deploy_shape_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--input-shape HxWxC`` and ``--classes N``: the shape deploy models are built at."""
    func = click.option(
        "--classes",
        "classes_text",
        metavar="N",
        help="Output classes of the deploy model (default 1000).",
    )(func)
    return click.option(
        "--input-shape",
        "input_shape_text",
        metavar="HxWxC",
        help="Input height x width x channels of the deploy model (default 224x224x3).",
    )(func)


def resolve_deploy_shape(
    input_shape_text: str | None, classes_text: str | int | None, input_size: int | None = None
):
    """The :class:`~lce_nas.space.shape.DeployShape` the deploy-shape options name.

    ``input_size`` (``convert --input-size``) sets height and width and keeps 3 channels.
    """
    from lce_nas.space.shape import parse_input_shape

    if input_size is not None and input_shape_text is not None:
        raise UserError("give only one of --input-size and --input-shape")
    if input_size is not None:
        input_shape_text = f"{input_size}x{input_size}x3"
    classes = 1000
    if classes_text is not None:
        try:
            classes = int(classes_text)
        except ValueError:
            raise UserError(f"--classes must be a whole number, got {classes_text!r}") from None
    return parse_input_shape(input_shape_text or "224x224x3", classes)


def engine_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--device``, ``--device-host`` and the engine settings that are part of a latency's key.

    The command gets ``device_name``, ``device_host``, ``threads``, ``engine``,
    ``indirect_bgemm``, ``xnnpack`` and ``reference_bconv``; see :func:`resolve_device`.
    """
    options = [
        click.option(
            "--reference-bconv/--no-reference-bconv", default=None, help="Reference bconv."
        ),
        click.option("--xnnpack/--no-xnnpack", default=None, help="XNNPACK for float ops."),
        click.option("--indirect-bgemm/--no-indirect-bgemm", default=None, help="LCE kernel path."),
        click.option("--engine", type=click.Choice(["lce", "native"]), help="Host engine."),
        click.option("--threads", type=click.IntRange(min=1), help="Inference threads."),
    ]
    for option in options:
        func = option(func)
    return device_options(func)


def resolve_device(
    device_name: str,
    device_host: str | None = None,
    threads: int | None = None,
    engine: str | None = None,
    indirect_bgemm: bool | None = None,
    xnnpack: bool | None = None,
    reference_bconv: bool | None = None,
):
    """The device that :func:`engine_options` name, its profile overridden by the flags given."""
    from lce_nas.engine.devices import HostDevice, get_device

    settings = {
        "threads": threads,
        "engine": engine,
        "use_indirect_bgemm": indirect_bgemm,
        "use_xnnpack": xnnpack,
        "use_reference_bconv": reference_bconv,
    }
    overrides = {k: v for k, v in settings.items() if v is not None}
    overrides.update(device_host_overrides(device_host))
    device = get_device(device_name, **overrides)
    if engine and not isinstance(device, HostDevice):
        raise UserError(f"--engine applies to host devices; '{device.name}' runs {device.engine}")
    return device
