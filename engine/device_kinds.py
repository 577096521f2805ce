"""Device kinds as typed configs: one class per kind, the shared settings once.

:class:`Device` holds what every device has (threads, kernel options, the run
policy); :class:`HostDevice` adds pinning and priority; :class:`RemoteDevice`
adds what SSH and adb devices share (the benchmark tool, timeouts, retries),
and :class:`SshDevice` and :class:`AdbDevice` how each is reached. Values are
checked when a profile is built, so a bad one fails as one clear line.

Example:
    >>> SshDevice(name="lab-pi", host="10.0.0.7", user="pi", port=2222).address
    'pi@10.0.0.7:2222'
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from lce_nas.engine.adaptive import RunSettings

from lce_nas.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable

    from lce_nas.engine.remote import Transport

HOST_ENGINES = ("lce", "native")
PRIORITIES = ("normal", "high", "realtime")
REMOTE_ENGINE = "lce_benchmark_model"


@dataclass(frozen=True, kw_only=True)
class Device(RunSettings):
    """One place to time models, with how to run there (the settings every kind has).

    Kernel options (``use_indirect_bgemm``, ``use_xnnpack``,
    ``use_reference_bconv``) and ``threads`` are part of every latency's key.
    The run policy (warm-up, minimum runs, stability tolerance, time cap)
    decides how long a measurement takes, not what it means.

    Example:
        >>> d = HostDevice(name="host", threads=1)
        >>> d.kind, d.engine, d.kernel_options["use_xnnpack"]
        ('host', 'lce', True)
    """

    kind: ClassVar[str] = ""

    name: str
    threads: int = 1
    engine: str = "lce"
    use_indirect_bgemm: bool = True
    use_xnnpack: bool = True
    use_reference_bconv: bool = False
    description: str = ""
    # Remote devices time this many runs per round trip.
    batch_runs: int = 20
    origin: str = "built-in"

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise UserError(f"device '{self.name}': threads must be at least 1")

    @property
    def kernel_options(self) -> dict[str, bool]:
        """LCE kernel switches, as stored in a measurement's key."""
        return {
            "use_indirect_bgemm": self.use_indirect_bgemm,
            "use_reference_bconv": self.use_reference_bconv,
            "use_xnnpack": self.use_xnnpack,
        }

    @property
    def reserved_cpus(self) -> tuple[int, ...]:
        """The cores of this machine that timing on this device keeps for itself (none here)."""
        return ()

    @property
    def address(self) -> str:
        """Where the device is, for display."""
        raise NotImplementedError

    @property
    def times_ops(self) -> bool:
        """Whether this device's engine has per-op timers (for latency breakdowns)."""
        return True

    def missing(self) -> list[str]:
        """Settings a profile needs before it can be used."""
        return []

    def to_spec(self) -> dict[str, Any]:
        """A JSON-able description for the database (no secrets, no origin)."""
        spec = {"kind": self.kind, **dataclasses.asdict(self)}
        spec.pop("origin")
        spec.pop("identity_file", None)
        return spec


@dataclass(frozen=True, kw_only=True)
class HostDevice(Device):
    """This machine: a timing worker pinned to its own cores, at a chosen CPU priority.

    ``cpus`` are the cores the worker is pinned to (None: the last ``threads``
    cores); ``priority`` is realtime (SCHED_FIFO), high (nice -10) or normal.

    Example:
        >>> HostDevice(name="host", engine="native").kernel_options
        {}
    """

    kind: ClassVar[str] = "host"

    cpus: tuple[int, ...] | None = None
    priority: str = "realtime"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.engine not in HOST_ENGINES:
            raise UserError(
                f"device '{self.name}': engine must be lce or native, got {self.engine!r}"
            )
        if self.priority not in PRIORITIES:
            raise UserError(
                f"device '{self.name}': priority must be one of {', '.join(PRIORITIES)}"
            )
        if self.cpus is not None and any(c < 0 for c in self.cpus):
            raise UserError(f"device '{self.name}': cpus must be core numbers (0 or more)")

    @property
    def kernel_options(self) -> dict[str, bool]:
        """LCE kernel switches; the native engine has none (its kernels are in its version)."""
        return {} if self.engine == "native" else super().kernel_options

    @property
    def reserved_cpus(self) -> tuple[int, ...]:
        """The cores of this machine that timing on this device keeps for itself.

        Other work (proxy trainers) must stay off them. The default, the last
        ``threads`` cores of the machine (or container), is the same in every
        process, however that process itself is pinned.

        Example:
            >>> HostDevice(name="host").reserved_cpus  # doctest: +SKIP
            (1,)
        """
        if self.cpus:
            return tuple(self.cpus)
        available = machine_cpus()
        return tuple(available[-min(self.threads, len(available)) :])

    @property
    def address(self) -> str:
        """Where the device is, for display."""
        return "this machine"

    @property
    def times_ops(self) -> bool:
        """Only the native engine has per-op timers on the host (LCE's interpreter has none)."""
        return self.engine == "native"

    def to_spec(self) -> dict[str, Any]:
        """A JSON-able description for the database (no secrets, no origin)."""
        spec = super().to_spec()
        if spec["cpus"] is not None:
            spec["cpus"] = list(spec["cpus"])
        return spec


@dataclass(frozen=True, kw_only=True)
class RemoteDevice(Device):
    """A device running LCE's ``lce_benchmark_model``: what SSH and adb devices share.

    ``engine_version`` names the LCE release of the device's tool (part of the
    latency key); models stay in ``remote_dir`` unless ``keep_models`` is false;
    a dropped connection is retried ``retries`` times, backing off from
    ``retry_backoff_s``.
    """

    engine: str = REMOTE_ENGINE
    benchmark_binary: str = "lce_benchmark_model"
    remote_dir: str = "/tmp/lce-nas"
    keep_models: bool = True
    engine_version: str | None = None
    connect_timeout_s: float = 10.0
    run_timeout_s: float = 900.0
    retries: int = 3
    retry_backoff_s: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("connect_timeout_s", "run_timeout_s"):
            if getattr(self, key) <= 0:
                raise UserError(f"device '{self.name}': {key} must be more than 0 seconds")
        if self.retry_backoff_s < 0:
            raise UserError(f"device '{self.name}': retry_backoff_s must be 0 or more seconds")

    def open_transport(self, warn: Callable[[str], None] | None = None) -> Transport:
        """A connection that copies models to the device and runs commands there."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class SshDevice(RemoteDevice):
    """A device reached over SSH (e.g. a Raspberry Pi 4); needs ``host`` and ``user``.

    Example:
        >>> SshDevice(name="pi", host="pi.local", port=99999)
        Traceback (most recent call last):
        ...
        lce_nas.errors.UserError: device 'pi': port must be in 1..65535, got 99999
    """

    kind: ClassVar[str] = "ssh"

    host: str | None = None
    user: str | None = None
    port: int = 22
    identity_file: str | None = None
    known_hosts: str | None = None
    trust_on_first_use: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.port <= 65535:
            raise UserError(f"device '{self.name}': port must be in 1..65535, got {self.port}")

    @property
    def address(self) -> str:
        """``user@host:port``, for display."""
        who = f"{self.user}@" if self.user else ""
        return f"{who}{self.host or '?'}:{self.port}"

    def missing(self) -> list[str]:
        """``host`` and ``user`` until they are set."""
        return [key for key in ("host", "user") if not getattr(self, key)]

    def open_transport(self, warn: Callable[[str], None] | None = None) -> Transport:
        """An SSH connection to the device (host keys checked)."""
        from lce_nas.engine.ssh import SshTransport

        return SshTransport(self, warn=warn)


@dataclass(frozen=True, kw_only=True)
class AdbDevice(RemoteDevice):
    """An Android phone reached with ``adb`` (``serial`` picks one of several)."""

    kind: ClassVar[str] = "adb"

    serial: str | None = None
    adb: str = "adb"

    @property
    def address(self) -> str:
        """The adb serial, for display."""
        return self.serial or "(default adb device)"

    def open_transport(self, warn: Callable[[str], None] | None = None) -> Transport:
        """``adb push`` and ``adb shell`` to the device."""
        from lce_nas.engine.adb import AdbTransport

        return AdbTransport(self, warn=warn)


#: Each kind's class, by the name a profile gives in ``kind = "..."``.
DEVICE_KINDS: dict[str, type[Device]] = {
    cls.kind: cls for cls in (HostDevice, SshDevice, AdbDevice)
}


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
