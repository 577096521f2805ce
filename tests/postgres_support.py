"""A throwaway PostgreSQL server for tests: the Debian ``postgresql`` package's binaries
(initdb, pg_ctl) in a temporary folder, listening on 127.0.0.1 at a free port.

initdb refuses to run as root, so under root (as in CI) the server runs as the
``postgres`` system user. One recipe for every test folder that needs a server.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PASSWORD = "s3cret-pw"  # trust auth ignores it; it is there to test that it is hidden


def _postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl live (newest Debian version first), or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
        reverse=True,
    )
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _scratch_root() -> str | None:
    """A RAM-backed folder when there is a roomy one: creating and removing
    dozens of throwaway databases on disk is many times slower."""
    shm = Path("/dev/shm")
    try:
        roomy = shutil.disk_usage(shm).free > 2 * 1024**3 and os.access(shm, os.W_OK)
    except OSError:
        return None
    return str(shm) if roomy else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A throwaway PostgreSQL cluster; :meth:`new_database` gives each test its own."""

    def __init__(self, bindir: Path, base: Path, as_user: list[str]) -> None:
        self.bindir = bindir
        self.base = base
        self.data = base / "data"
        self.as_user = as_user
        self.port = _free_port()
        self._names = itertools.count()

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self.as_user, *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.base,  # a folder the postgres user can enter
        )
        if result.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stderr}\n{tail}")

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        self.launch()

    def launch(self) -> None:
        """Start the server on an initialised data folder (after :meth:`stop`, a restart)."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} "
            f"-c unix_socket_directories={self.base} -c fsync=off -c max_connections=60"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "server.log"),
            "-w", "-t", "60", "-o", options, "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        """A SQLAlchemy URL for one database of this server."""
        return f"postgresql+psycopg://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"lce_test_{os.getpid()}_{next(self._names)}"
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the block; skips the test without the binaries."""
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (scripts/setup.sh --test installs them)")
    base = Path(tempfile.mkdtemp(prefix="lce-nas-pg-", dir=_scratch_root()))
    as_user: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses root: run the cluster as the package's system user.
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(bindir, base, as_user)
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)
