"""Android devices reached with ``adb push`` and ``adb shell``.

``adb shell`` hands its arguments to the phone's shell as one command line,
so the line is built with every argument quoted, as for SSH. adb's own
failures ("device offline", "no devices/emulators found") are retried with
backoff; a non-zero exit of the benchmark itself is reported at once.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from lce_nas.engine.devices import AdbDevice
from lce_nas.engine.remote import quote_command, remote_model_path, retrying

from lce_nas.errors import UserError

# adb's messages when the device is gone (as opposed to a command failing on it).
_ADB_TRANSIENT = ("device offline", "no devices", "device not found", "closed", "protocol fault")


class AdbUnavailable(ConnectionError):
    """adb could not reach the device this time."""


class AdbTransport:
    """Commands to one Android device through the ``adb`` client.

    Example:
        >>> t = AdbTransport(get_device("android", serial="R58M12345"))  # doctest: +SKIP
        >>> t.run("getprop ro.product.model")  # doctest: +SKIP
        'Pixel 4\\n'
    """

    def __init__(self, device: AdbDevice, warn: Callable[[str], None] | None = None) -> None:
        self.device = device
        self.warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
        self._base = [*shlex.split(device.adb)]
        if device.serial:
            self._base += ["-s", device.serial]

    def _adb(self, args: list[str], timeout_s: float) -> str:
        try:
            proc = subprocess.run(
                [*self._base, *args],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except FileNotFoundError:
            raise UserError(
                f"adb not found ({self._base[0]}); install Android platform-tools or set "
                f"adb = \"/path/to/adb\" in the profile of '{self.device.name}'"
            ) from None
        except subprocess.TimeoutExpired:
            raise UserError(
                f"adb {args[0]} on '{self.device.name}' did not finish within {timeout_s:.0f} s"
            ) from None
        output = proc.stdout + proc.stderr
        if proc.returncode != 0:
            if any(marker in output for marker in _ADB_TRANSIENT):
                raise AdbUnavailable(output.strip().splitlines()[-1])
            last = [ln for ln in output.splitlines() if ln.strip()][-1:] or ["no output"]
            raise UserError(
                f"adb {args[0]} failed on '{self.device.name}' (exit {proc.returncode}): "
                f"{last[0].strip()}"
            )
        return output

    def _retry(self, what: str, action: Callable[[], str]) -> str:
        return retrying(
            what,
            action,
            device=self.device,
            transient=(AdbUnavailable,),
            reconnect=lambda: None,
            progress=self.warn,
        )

    def run(self, command: str) -> str:
        """Run a quoted command line in the device's shell."""
        return self._retry(
            "running the benchmark",
            lambda: self._adb(["shell", command], self.device.run_timeout_s),
        )

    def ensure_model(self, tflite: bytes, sha256: str) -> str:
        """``adb push`` the model under its content address unless it is there."""
        path = remote_model_path(self.device, sha256)
        directory = path.rsplit("/", 1)[0]
        probe = quote_command(["mkdir", "-p", directory]) + " && " + quote_command(["ls", path])
        timeout = self.device.connect_timeout_s * 3

        def present() -> str:
            try:
                self._adb(["shell", probe], timeout)
                return "yes"
            except UserError:
                return "no"

        if self._retry("checking the model", present) == "yes":
            return path
        with tempfile.TemporaryDirectory(prefix="lce-nas-") as tmp:
            local = Path(tmp) / f"{sha256}.tflite"
            local.write_bytes(tflite)
            self._retry(
                "copying the model",
                lambda: self._adb(["push", str(local), path], self.device.run_timeout_s),
            )
        return path

    def close(self) -> None:
        """Nothing to release: every adb call is its own process."""
