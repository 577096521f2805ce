"""Helpers for the Ray tests: listening sockets of processes, and a client without the token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        # The command name may contain spaces; the parent pid follows its ')'.
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` (its children, theirs, ...)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = ancestor = int(entry)
        try:
            while ancestor > 1 and ancestor != root:
                ancestor = _parent(ancestor)
        except (OSError, ValueError, IndexError):
            continue
        if ancestor == root and pid != root:
            found.append(pid)
    return found


def _decode(address: str) -> str:
    host, port = address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = ".".join(str(b) for b in raw[::-1])
    else:
        words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
        joined = b"".join(words)
        if joined[:12] == b"\0" * 10 + b"\xff\xff":
            ip = ".".join(str(b) for b in joined[12:])
        else:
            ip = ":".join(joined[i : i + 2].hex() for i in range(0, 16, 2))
    return f"{ip}:{int(port, 16)}"


def listening(pids: list[int]) -> dict[str, list[int]]:
    """The TCP addresses ``pids`` listen on (IPv4-mapped IPv6 shown as IPv4), with their pids."""
    by_inode: dict[str, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                by_inode[fields[9]] = _decode(fields[1])
    found: dict[str, list[int]] = {}
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        for link in links:
            if link.startswith("socket:["):
                address = by_inode.get(link[8:-1])
                if address:
                    found.setdefault(address, []).append(pid)
    return found


_CLIENT = """
import sys
from ray._raylet import GcsClient
client = GcsClient(address=sys.argv[1])
client.internal_kv_keys(b"", namespace=None, timeout=10)
print("ADMITTED")
"""


def try_client(address: str, env: dict[str, str], home: Path) -> subprocess.CompletedProcess:
    """A Ray client process asking the GCS at ``address``, with only ``env``'s RAY_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    clean.update(env)
    clean["HOME"] = str(home)  # no ~/.ray/auth_token to fall back on
    return subprocess.run(
        [sys.executable, "-c", _CLIENT, address],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
