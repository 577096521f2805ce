"""Helpers of the engine tests: run the CLI, start a real sshd, write device profiles."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
LCE_NAS = str(Path(sys.executable).with_name("lce-nas"))
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def run_cli(*args: str, cwd: Path, timeout: float = 300, env: dict | None = None):
    """Run ``lce-nas`` as a user would; returns the CompletedProcess."""
    full_env = {**os.environ, "XDG_CONFIG_HOME": str(cwd / ".config"), **(env or {})}
    return subprocess.run(
        [LCE_NAS, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc), deepest last."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@dataclass
class SshServer:
    """A running sshd on 127.0.0.1 and the files a client needs."""

    port: int
    user: str
    client_key: Path
    known_hosts: Path
    host_key_line: str
    process: subprocess.Popen
    log: Path

    def descendants(self) -> list[int]:
        return _children(self.process.pid)

    def stop(self) -> None:
        """Kill the server and every session it started, as if the device vanished."""
        pids = [self.process.pid, *self.descendants()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def start_sshd(directory: Path) -> SshServer:
    """Start OpenSSH's sshd on a free loopback port with throw-away keys."""
    directory.mkdir(parents=True, exist_ok=True)
    host_key = directory / "host_ed25519"
    client_key = directory / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
            check=True,
            capture_output=True,
        )
    authorized = directory / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    port = _free_port()
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"PidFile {directory / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "StrictModes no",
                "UsePAM no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "Subsystem sftp internal-sftp",
                "LogLevel ERROR",
                # The account's shell start-up files may rehash pyenv shims on every
                # login, waiting up to a minute on a lock a killed session left behind.
                "SetEnv PYENV_REHASH_TIMEOUT=1",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        # sshd running as root insists on its privilege-separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = directory / "sshd.log"
    with log.open("w") as log_handle:
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=log_handle, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"sshd did not listen on {port}: {log.read_text()}") from None
            time.sleep(0.05)
    key_type, key_b64 = host_key.with_suffix(".pub").read_text().split()[:2]
    line = f"[127.0.0.1]:{port} {key_type} {key_b64}"
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(line + "\n")
    return SshServer(port, getpass.getuser(), client_key, known_hosts, line, process, log)


def ssh_profile(server: SshServer, remote_dir: Path, **extra) -> str:
    """A ``[devices.loopback]`` table that runs ``lce-nas benchmark-model`` over ``server``."""
    settings = {
        "kind": "ssh",
        "host": "127.0.0.1",
        "port": server.port,
        "user": server.user,
        "identity_file": str(server.client_key),
        "known_hosts": str(server.known_hosts),
        "benchmark_binary": f"{LCE_NAS} benchmark-model",
        "remote_dir": str(remote_dir),
        "engine_version": "0.16.0",
        # Three calls of five runs at least; each call starts a Python process.
        "batch_runs": 5,
        "warmup_runs": 1,
        "min_runs": 15,
        "max_seconds": 20.0,
        "retries": 3,
        "retry_backoff_s": 0.2,
        "connect_timeout_s": 5.0,
    }
    settings.update(extra)
    lines = ["[devices.loopback]"]
    for key, value in settings.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"{key} = {value}")
        else:
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{key} = "{escaped}"')
    return "\n".join(lines) + "\n"
