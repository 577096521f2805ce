"""Devices that time models: built-in profiles plus the user's TOML files.

Profiles come from three places, later ones overriding earlier ones key by key:

1. built-ins: ``host`` (this machine), ``rpi4`` (a Raspberry Pi 4 over SSH),
   ``android`` (a phone over adb);
2. ``~/.config/lce-nas/devices.toml``;
3. ``./lce-nas.toml`` (the project's own file wins).

Both files use one table per device::

    [devices.rpi4]
    host = "raspberrypi.local"
    user = "pi"

    [devices.lab-pi]
    kind = "ssh"
    host = "10.0.0.7"
    user = "pi"
    threads = 4

Each profile becomes the typed config of its kind (:mod:`lce_nas.engine.device_kinds`).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lce_nas.engine.device_kinds import (
    DEVICE_KINDS,
    AdbDevice,
    Device,
    HostDevice,
    RemoteDevice,
    SshDevice,
    machine_cpus,
)

from lce_nas.errors import UserError

__all__ = [
    "KINDS",
    "AdbDevice",
    "Device",
    "HostDevice",
    "RemoteDevice",
    "SshDevice",
    "get_device",
    "list_devices",
    "machine_cpus",
    "parse_device_host",
    "user_config_file",
]

KINDS = tuple(DEVICE_KINDS)
PROJECT_FILE = Path("lce-nas.toml")


def user_config_file() -> Path:
    """The per-user device file (``$XDG_CONFIG_HOME`` honoured).

    Example:
        >>> user_config_file().name
        'devices.toml'
    """
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lce-nas" / "devices.toml"


_BUILTINS: dict[str, dict[str, Any]] = {
    "host": {
        "kind": "host",
        "description": "this machine, LCE's interpreter in a pinned worker process",
    },
    "rpi4": {
        "kind": "ssh",
        "description": "Raspberry Pi 4 (aarch64) running lce_benchmark_model over SSH",
        "use_indirect_bgemm": False,
        "max_seconds": 120.0,
        "tolerance": 0.02,
        "remote_dir": "/tmp/lce-nas",
    },
    "android": {
        "kind": "adb",
        "description": "Android phone (arm64) running lce_benchmark_model over adb",
        "use_indirect_bgemm": False,
        "max_seconds": 120.0,
        "tolerance": 0.02,
        "benchmark_binary": "/data/local/tmp/lce_benchmark_model",
        "remote_dir": "/data/local/tmp/lce-nas",
    },
}

# Every kind's settings; which of them a profile may use depends on its kind.
_FIELDS = {f.name: f for cls in DEVICE_KINDS.values() for f in dataclasses.fields(cls)}
_KIND_FIELDS = {
    kind: {f.name for f in dataclasses.fields(cls)} - {"name", "origin"}
    for kind, cls in DEVICE_KINDS.items()
}
_SETTABLE = (set(_FIELDS) - {"name", "origin"}) | {"kind"}


def _check_value(name: str, key: str, value: Any, where: str) -> Any:
    if key not in _SETTABLE:
        known = ", ".join(sorted(_SETTABLE))
        raise UserError(f"unknown setting '{key}' for device '{name}' in {where} (known: {known})")
    if key == "kind":
        if not isinstance(value, str):
            raise UserError(f"device '{name}' in {where}: kind must be a string, got {value!r}")
        return value
    default = _FIELDS[key].default
    if key == "cpus":
        if not isinstance(value, list) or not all(isinstance(c, int) for c in value):
            raise UserError(f"device '{name}' in {where}: cpus must be a list of core numbers")
        return tuple(value)
    expected: type | tuple[type, ...]
    if isinstance(default, bool):
        expected = bool
    elif isinstance(default, float):
        expected = (int, float)
    elif isinstance(default, int):
        expected = int
    else:
        expected = str
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        kind = expected.__name__ if isinstance(expected, type) else "number"
        raise UserError(f"device '{name}' in {where}: {key} must be a {kind}, got {value!r}")
    return float(value) if expected == (int, float) else value


def _read_file(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path} is not valid TOML: {err}") from None
    devices = data.get("devices", {})
    if not isinstance(devices, dict) or not all(isinstance(v, dict) for v in devices.values()):
        raise UserError(f"{path}: devices must be tables, e.g. [devices.NAME]")
    return devices


@dataclass
class _Entry:
    settings: dict[str, Any] = field(default_factory=dict)
    origins: list[str] = field(default_factory=list)


def _config_files() -> list[Path]:
    # Lowest priority first: the project file overrides the user's file.
    return [user_config_file(), PROJECT_FILE]


def _entries() -> dict[str, _Entry]:
    entries = {name: _Entry(dict(cfg), ["built-in"]) for name, cfg in _BUILTINS.items()}
    for path in _config_files():
        where = str(path) if path.is_absolute() else f"./{path}"
        for name, cfg in _read_file(path).items():
            entry = entries.setdefault(name, _Entry())
            for key, value in cfg.items():
                entry.settings[key] = _check_value(name, key, value, where)
            entry.origins.append(where)
    return entries


def _build(name: str, entry: _Entry, overrides: dict[str, Any]) -> Device:
    settings = dict(entry.settings)
    settings.update({k: v for k, v in overrides.items() if v is not None})
    kind = settings.pop("kind", None)
    origin = " + ".join(entry.origins)
    if kind not in DEVICE_KINDS:
        raise UserError(f"device '{name}' ({origin}) needs kind = one of {', '.join(KINDS)}")
    foreign = sorted(set(settings) - _KIND_FIELDS[kind])
    if foreign:
        raise UserError(
            f"device '{name}' ({origin}): {', '.join(foreign)} "
            f"{'does' if len(foreign) == 1 else 'do'} not apply to {kind} devices "
            f"(their settings: {', '.join(sorted(_KIND_FIELDS[kind]))})"
        )
    return DEVICE_KINDS[kind](name=name, origin=origin, **settings)


def list_devices() -> list[Device]:
    """Every known profile (built-ins and both files), incomplete ones included.

    Example:
        >>> [d.name for d in list_devices()][:3]
        ['host', 'rpi4', 'android']
    """
    return [_build(name, entry, {}) for name, entry in _entries().items()]


def get_device(name: str, **overrides: Any) -> Device:
    """A complete profile by name; ``overrides`` (``None`` values ignored) win over files.

    Raises :class:`UserError` for an unknown name or an incomplete profile,
    with the one line of TOML that completes it.

    Example:
        >>> get_device("rpi4", host="10.0.0.7", user="pi", threads=4).threads
        4
    """
    entries = _entries()
    if name not in entries:
        raise UserError(
            f"unknown device '{name}' (known: {', '.join(entries)}); "
            f"add it as [devices.{name}] to ./lce-nas.toml"
        )
    for key in overrides:
        if key not in _SETTABLE:
            raise TypeError(f"unknown device setting {key!r}")
    device = _build(name, entries[name], overrides)
    missing = device.missing()
    if missing:
        example = {"host": '"raspberrypi.local"', "user": '"pi"'}
        pairs = ", ".join(f"{key} = {example[key]}" for key in missing)
        raise UserError(
            f"device '{name}' is incomplete: add the line 'devices.{name} = {{ {pairs} }}' "
            f"at the top of ./lce-nas.toml (or pass --device-host USER@HOST)"
        )
    return device


def parse_device_host(value: str) -> dict[str, Any]:
    """``USER@HOST[:PORT]`` as device overrides.

    Example:
        >>> parse_device_host("pi@10.0.0.7:2222")
        {'user': 'pi', 'host': '10.0.0.7', 'port': 2222}
    """
    user, _, rest = value.rpartition("@")
    host, _, port = rest.partition(":")
    if not host:
        raise UserError(f"--device-host {value!r}: expected USER@HOST[:PORT]")
    out: dict[str, Any] = {"host": host}
    if user:
        out = {"user": user, **out}
    if port:
        if not port.isdigit():
            raise UserError(f"--device-host {value!r}: port must be a number")
        out["port"] = int(port)
    return out
