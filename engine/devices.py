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
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lce_nas.errors import UserError

KINDS = ("host", "ssh", "adb")
HOST_ENGINES = ("lce", "native")
PRIORITIES = ("normal", "high", "realtime")
PROJECT_FILE = Path("lce-nas.toml")


def user_config_file() -> Path:
    """The per-user device file (``$XDG_CONFIG_HOME`` honoured).

    Example:
        >>> user_config_file().name
        'devices.toml'
    """
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lce-nas" / "devices.toml"


@dataclass(frozen=True)
class Device:
    """One place to time models, with how to reach it and how to run there.

    Kernel options (``use_indirect_bgemm``, ``use_xnnpack``,
    ``use_reference_bconv``) and ``threads`` are part of every latency's key.
    The run policy (warm-up, minimum runs, stability tolerance, time cap)
    decides how long a measurement takes, not what it means.

    Example:
        >>> d = get_device("host", threads=1)
        >>> d.kind, d.engine, d.kernel_options["use_xnnpack"]
        ('host', 'lce', True)
    """

    name: str
    kind: str
    threads: int = 1
    engine: str = "lce"
    use_indirect_bgemm: bool = True
    use_xnnpack: bool = True
    use_reference_bconv: bool = False
    description: str = ""
    # host: the cores the timing worker is pinned to (None: the last `threads` cores),
    # and its CPU priority: realtime (SCHED_FIFO), high (nice -10) or normal.
    cpus: tuple[int, ...] | None = None
    priority: str = "realtime"
    # ssh and adb
    host: str | None = None
    user: str | None = None
    port: int = 22
    identity_file: str | None = None
    known_hosts: str | None = None
    trust_on_first_use: bool = False
    serial: str | None = None
    adb: str = "adb"
    benchmark_binary: str = "lce_benchmark_model"
    remote_dir: str = "/tmp/lce-nas"
    keep_models: bool = True
    engine_version: str | None = None
    connect_timeout_s: float = 10.0
    run_timeout_s: float = 900.0
    retries: int = 3
    retry_backoff_s: float = 1.0
    # run policy
    warmup_runs: int = 5
    min_runs: int = 20
    max_runs: int = 2000
    batch_runs: int = 20
    tolerance: float = 0.01
    min_seconds: float = 1.0
    max_seconds: float = 30.0
    origin: str = "built-in"

    @property
    def kernel_options(self) -> dict[str, bool]:
        """LCE kernel switches, as stored in a measurement's key."""
        if self.kind == "host" and self.engine == "native":
            return {}
        return {
            "use_indirect_bgemm": self.use_indirect_bgemm,
            "use_reference_bconv": self.use_reference_bconv,
            "use_xnnpack": self.use_xnnpack,
        }

    @property
    def reserved_cpus(self) -> tuple[int, ...]:
        """The cores of this machine that timing on this device keeps for itself.

        Other work (proxy trainers) must stay off them. Remote devices reserve
        nothing here. The default, the last ``threads`` cores of the machine
        (or container), is the same in every process, however that process
        itself is pinned.

        Example:
            >>> get_device("host").reserved_cpus  # doctest: +SKIP
            (1,)
        """
        if self.kind != "host":
            return ()
        if self.cpus:
            return tuple(self.cpus)
        available = machine_cpus()
        return tuple(available[-min(self.threads, len(available)) :])

    @property
    def address(self) -> str:
        """Where the device is, for display."""
        if self.kind == "ssh":
            who = f"{self.user}@" if self.user else ""
            return f"{who}{self.host or '?'}:{self.port}"
        if self.kind == "adb":
            return self.serial or "(default adb device)"
        return "this machine"

    def missing(self) -> list[str]:
        """Settings a profile needs before it can be used."""
        if self.kind == "ssh":
            return [key for key in ("host", "user") if not getattr(self, key)]
        return []

    def to_spec(self) -> dict[str, Any]:
        """A JSON-able description for the database (no secrets, no origin)."""
        spec = dataclasses.asdict(self)
        spec.pop("origin")
        spec.pop("identity_file")
        if spec["cpus"] is not None:
            spec["cpus"] = list(spec["cpus"])
        return spec


def _parse_cpu_list(text: str) -> list[int]:
    cpus: list[int] = []
    for part in text.strip().split(","):
        if part:
            low, _, high = part.partition("-")
            cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def machine_cpus() -> list[int]:
    """The cores this machine or container may use, whatever this process's own pinning.

    Read from the cgroup's cpuset (v2, then v1), else the kernel's online list.

    Example:
        >>> machine_cpus()  # doctest: +SKIP
        [0, 1]
    """
    candidates = []
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                candidates.append(Path("/sys/fs/cgroup", path.lstrip("/"), "cpuset.cpus.effective"))
            elif "cpuset" in controllers.split(","):
                base = Path("/sys/fs/cgroup/cpuset", path.lstrip("/"))
                candidates.append(base / "cpuset.effective_cpus")
    except (OSError, ValueError):
        pass
    candidates.append(Path("/sys/devices/system/cpu/online"))
    for candidate in candidates:
        try:
            cpus = _parse_cpu_list(candidate.read_text())
        except (OSError, ValueError):
            continue
        if cpus:
            return cpus
    return sorted(os.sched_getaffinity(0))


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

_FIELDS = {f.name: f for f in dataclasses.fields(Device)}
_SETTABLE = set(_FIELDS) - {"name", "origin"}


def _check_value(name: str, key: str, value: Any, where: str) -> Any:
    if key not in _SETTABLE:
        known = ", ".join(sorted(_SETTABLE))
        raise UserError(f"unknown setting '{key}' for device '{name}' in {where} (known: {known})")
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
    kind = settings.get("kind")
    if kind not in KINDS:
        raise UserError(
            f"device '{name}' ({' + '.join(entry.origins)}) needs kind = one of {', '.join(KINDS)}"
        )
    if kind == "ssh" or kind == "adb":
        settings.setdefault("engine", "lce_benchmark_model")
    engine = settings.get("engine", "lce")
    if kind == "host" and engine not in HOST_ENGINES:
        raise UserError(f"device '{name}': engine must be lce or native, got {engine!r}")
    if settings.get("priority", "realtime") not in PRIORITIES:
        raise UserError(f"device '{name}': priority must be one of {', '.join(PRIORITIES)}")
    if int(settings.get("threads", 1)) < 1:
        raise UserError(f"device '{name}': threads must be at least 1")
    return Device(name=name, origin=" + ".join(entry.origins), **settings)


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
