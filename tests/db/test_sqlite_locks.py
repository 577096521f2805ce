"""Opening a store never drops the SQLite locks this process already holds.

Closing any descriptor of a database file releases every POSIX lock the process
holds on it. A store that opened the file itself (to check its header) while
another store of the same process was connected let a second process take the
exclusive lock, fold the write-ahead log away and leave "database disk image is
malformed" behind: that is what happened to a search's database when its
driver opened one more store while its Ray workers closed theirs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lce_nas.latency_db import LatencyStore


def _posix_locks_held(path: Path, pid: int) -> int:
    """How many POSIX locks ``pid`` holds on ``path`` (from /proc/locks)."""
    inode = os.stat(path).st_ino
    count = 0
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # "1: POSIX  ADVISORY  READ 1234 fd:01:5678 0 EOF" (dev major:minor:inode)
        ours = len(fields) >= 6 and fields[1] == "POSIX" and fields[4] == str(pid)
        if ours and fields[5].rsplit(":", 1)[-1] == str(inode):
            count += 1
    return count


def test_a_second_store_in_the_process_keeps_the_first_ones_locks(tmp_path):
    url = f"sqlite:///{tmp_path / 'lce-nas.db'}"
    db = tmp_path / "lce-nas.db"
    first = LatencyStore(url)
    first.record_device("host", "x86_64", {"cores": 2})
    # The pooled connection stays open in WAL mode, holding a shared lock.
    assert first.devices()
    held = _posix_locks_held(db, os.getpid())
    assert held >= 1

    second = LatencyStore(url)
    assert _posix_locks_held(db, os.getpid()) == held

    # Another process that opens and closes the database believes it is the
    # last one only if this process's locks were gone: the log must stay.
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from lce_nas.latency_db import LatencyStore; "
            "s = LatencyStore(sys.argv[1]); s.devices(); s.close()",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert other.returncode == 0, other.stderr
    assert (tmp_path / "lce-nas.db-wal").exists()
    first.record_device("phone", "aarch64", {"cores": 8})
    assert {d["name"] for d in second.devices()} == {"host", "phone"}
    second.close()
    first.close()
    check = subprocess.run(
        [sys.executable, "-c", f"import sqlite3; print(sqlite3.connect({str(db)!r})"
         ".execute('PRAGMA integrity_check').fetchone()[0])"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.stdout.strip() == "ok", check.stderr
