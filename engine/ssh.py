"""SSH devices (e.g. a Raspberry Pi 4) reached with paramiko.

Host keys are checked strictly: the device's key must already be in its
``known_hosts`` file (the profile's, else ``~/.ssh/known_hosts`` or lce-nas's
own ``~/.config/lce-nas/known_hosts``), unless the profile opts in with
``trust_on_first_use = true``, which appends an unknown key to lce-nas's own
file (or the profile's) on first contact; a *changed* or ``@revoked`` key is
always refused (see :mod:`.known_hosts`). Every remote
argument is shell-quoted; connections and runs have timeouts; a dropped
connection is retried with exponential backoff, then reported in one line.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import paramiko
from lce_nas.engine import known_hosts
from lce_nas.engine.devices import Device
from lce_nas.engine.remote import quote_command, remote_model_path, retrying

from lce_nas.errors import UserError

# Errors after which a reconnect may help; authentication and host-key
# problems are not among them (they would fail the same way again).
TRANSIENT = (
    OSError,
    EOFError,
    socket.timeout,
    paramiko.ssh_exception.NoValidConnectionsError,
    paramiko.SSHException,
)


class ConnectionLost(ConnectionError):
    """The channel closed before the remote command reported an exit status."""


class SshTransport:
    """A paramiko connection to one device, reopened after drops.

    Example:
        >>> from lce_nas.engine.devices import get_device
        >>> pi = get_device("rpi4", host="pi.local", user="pi")
        >>> with SshTransport(pi) as t:  # doctest: +SKIP
        ...     t.run("uname -m")
        'aarch64\\n'
    """

    def __init__(self, device: Device, warn: Callable[[str], None] | None = None) -> None:
        self.device = device
        self.warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
        self._client: paramiko.SSHClient | None = None
        # The profile's file, else the user's (read only) and lce-nas's own.
        own = known_hosts.own_file()
        if device.known_hosts:
            own = Path(os.path.expanduser(device.known_hosts)).absolute()
            self._known_hosts_files = [own]
        else:
            self._known_hosts_files = [Path(os.path.expanduser(known_hosts.USER_FILE)), own]
        self._record_in = own if device.trust_on_first_use else None
        self._retry(lambda: "connected", "connecting")

    def __enter__(self) -> SshTransport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _connect(self) -> None:
        self.close()
        device = self.device
        client = paramiko.SSHClient()
        known = known_hosts.KnownHosts.load(self._known_hosts_files)
        known.install(client.get_host_keys())
        client.set_missing_host_key_policy(known_hosts.CheckedPolicy(known, self._record_in))
        key_file = os.path.expanduser(device.identity_file) if device.identity_file else None
        try:
            client.connect(
                device.host,
                port=device.port,
                username=device.user,
                key_filename=key_file,
                timeout=device.connect_timeout_s,
                banner_timeout=device.connect_timeout_s,
                auth_timeout=device.connect_timeout_s,
                look_for_keys=key_file is None,
                allow_agent=key_file is None,
            )
        except paramiko.BadHostKeyException as err:
            client.close()
            where = known.where(known_hosts.host_name(device.host, device.port))
            raise UserError(
                f"host key of {device.address} CHANGED ({err.key.get_name()}); refusing to "
                f"connect: if the device was reinstalled, remove its line ({where})"
            ) from None
        except paramiko.AuthenticationException as err:
            client.close()
            raise UserError(
                f"SSH login to {device.address} failed ({err}); set identity_file and user "
                f"in the profile of '{device.name}'"
            ) from None
        except BaseException:
            client.close()
            raise
        self._client = client

    def _retry(self, action: Callable[[], str], what: str) -> str:
        def attempt() -> str:
            if self._client is None:
                self._connect()
            return action()

        return retrying(
            what,
            attempt,
            device=self.device,
            transient=(*TRANSIENT, ConnectionLost),
            reconnect=self._connect,
            progress=self.warn,
        )

    def _exec(self, command: str, timeout_s: float) -> str:
        assert self._client is not None
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise ConnectionLost("connection closed")
        channel = transport.open_session(timeout=self.device.connect_timeout_s)
        channel.set_combine_stderr(True)
        channel.settimeout(5.0)
        channel.exec_command(command)
        chunks = io.BytesIO()
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                try:
                    data = channel.recv(65536)
                except TimeoutError:
                    if not transport.is_active():
                        raise ConnectionLost("connection dropped") from None
                    if time.monotonic() > deadline:
                        raise UserError(
                            f"command on '{self.device.name}' did not finish within "
                            f"{timeout_s:.0f} s (run_timeout_s)"
                        ) from None
                    continue
                if not data:
                    break
                chunks.write(data)
            if not channel.exit_status_ready() and not transport.is_active():
                raise ConnectionLost("connection dropped")
            status = channel.recv_exit_status()
        finally:
            channel.close()
        output = chunks.getvalue().decode("utf-8", "replace")
        if status == -1:
            raise ConnectionLost("connection dropped before the command finished")
        if status != 0:
            last = [ln for ln in output.splitlines() if ln.strip()][-1:] or ["no output"]
            raise UserError(
                f"command failed on '{self.device.name}' (exit {status}): {last[0].strip()}"
            )
        return output

    def run(self, command: str) -> str:
        """Run a (quoted) command line on the device; its output, or UserError."""
        return self._retry(
            lambda: self._exec(command, self.device.run_timeout_s), "running the benchmark"
        )

    def ensure_model(self, tflite: bytes, sha256: str) -> str:
        """Upload under the content address unless an equal-sized file is already there."""
        path = remote_model_path(self.device, sha256)

        def upload() -> str:
            directory = path.rsplit("/", 1)[0]
            self._exec(quote_command(["mkdir", "-p", directory]), self.device.connect_timeout_s)
            assert self._client is not None
            with self._client.open_sftp() as sftp:
                try:
                    if sftp.stat(path).st_size == len(tflite):
                        return path
                except FileNotFoundError:
                    pass
                # Upload beside, then rename: a dropped copy never leaves a
                # truncated file under the content address.
                partial = f"{path}.part-{uuid.uuid4().hex[:8]}"
                try:
                    sftp.putfo(io.BytesIO(tflite), partial)
                    sftp.posix_rename(partial, path)
                finally:
                    with contextlib.suppress(OSError):
                        sftp.remove(partial)
            return path

        return self._retry(upload, "copying the model")

    def close(self) -> None:
        """Close the connection (safe to call twice)."""
        if self._client is not None:
            self._client.close()
            self._client = None
