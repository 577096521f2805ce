"""``lce-nas dashboard``: the bind rule, read-only connections and clear errors."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy
from click.testing import CliRunner
from dashboard_support import Api, DashboardProcess
from lce_nas.dashboard.server import check_host, is_loopback, serve

from lce_nas.cli import main
from lce_nas.errors import UserError


def test_default_binds_loopback_only(server):
    assert server.url.startswith("http://127.0.0.1:")
    port = int(server.url.rstrip("/").rsplit(":", 1)[1])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        own = probe.getsockname()[0]
    assert own == "127.0.0.1"
    # Reachable on loopback, and nothing listens on the port on other addresses.
    for info in socket.getaddrinfo(socket.gethostname(), port, socket.AF_INET):
        address = info[4][0]
        if address.startswith("127."):
            continue
        with socket.socket() as other, pytest.raises(OSError):
            other.settimeout(2)
            other.connect((address, port))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_need_nothing(host):
    assert is_loopback(host)
    assert check_host(host, allow_remote=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_other_hosts_only_when_asked_explicitly(host):
    assert not is_loopback(host)
    with pytest.raises(UserError, match="pass --host explicitly"):
        check_host(host, allow_remote=False)
    with pytest.raises(UserError, match="without an access token"):
        check_host(host, allow_remote=True)
    token = "0123456789abcdef"
    assert check_host(host, allow_remote=True, token=token).startswith("warning: serving on")


def test_serve_refuses_before_binding():
    with pytest.raises(UserError, match="refusing to serve"):
        serve(object(), "0.0.0.0", 0)


def test_a_host_from_configuration_is_not_explicit(fixture_db):
    # Click fills --host from a default map (configuration), not from the command line.
    result = CliRunner().invoke(
        main,
        ["dashboard", "--db", fixture_db.url, "--port", "0"],
        default_map={"dashboard": {"host": "0.0.0.0"}},
    )
    assert result.exit_code == 2
    assert "refusing to serve the dashboard on 0.0.0.0" in result.output


def test_explicit_non_loopback_host_with_a_token_warns_and_serves(fixture_db):
    token = "a-token-for-the-cli-test"
    process = DashboardProcess(
        "--db", fixture_db.url, "--host", "0.0.0.0", "--port", "0", "--token", token
    )
    try:
        port = process.url.rstrip("/").rsplit(":", 1)[1]
        api = Api(f"http://127.0.0.1:{port}/", token=token)
        studies = api.get("/api/studies")
        assert {s["name"] for s in studies} == {fixture_db.main_study, fixture_db.other_study}
        assert Api(f"http://127.0.0.1:{port}/").status("/api/studies")[0] == 401
    finally:
        stderr = process.stop()
    assert "warning: serving on 0.0.0.0 over plain HTTP" in stderr


def test_the_dashboards_connection_cannot_write(fixture_db):
    from lce_nas.dashboard.data import DashboardData

    data = DashboardData(fixture_db.url)
    try:
        assert [s.name for s in data.studies.studies()] == sorted(
            [fixture_db.main_study, fixture_db.other_study]
        )
        assert data.studies.engine is data.measurements.engine is data.engine
        with (
            data.engine.connect() as conn,
            pytest.raises(sqlalchemy.exc.OperationalError, match="readonly"),
        ):
            conn.execute(sqlalchemy.text("CREATE TABLE dashboard_probe (a INTEGER)"))
        study_id = data.studies.study(fixture_db.main_study).study_id
        with (
            data.engine.connect() as conn,
            pytest.raises(sqlalchemy.exc.OperationalError, match="readonly"),
        ):
            conn.execute(
                sqlalchemy.text("UPDATE studies SET study_name = 'x' WHERE study_id = :id"),
                {"id": study_id},
            )
    finally:
        data.close()


def test_a_database_without_studies_shows_an_empty_list(tmp_path):
    from lce_nas.latency_db import LatencyStore

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    LatencyStore(url).close()
    process = DashboardProcess("--db", url, "--port", "0")
    try:
        assert Api(process.url).get("/api/studies") == []
        status, _, body = Api(process.url).status("/")
        assert status == 200 and "Studies" in body
    finally:
        process.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "sqlite:////nonexistent/lce-nas.db"], "no database at"),
        (["--db", "sqlite://"], "in-memory database"),
        (["--db", "mysql://u@h/db"], "unsupported database backend"),
        (["--host", "no-such-host.invalid"], "cannot resolve --host"),
        (["--exports", "/nonexistent/exports"], "no such folder"),
    ],
)
def test_bad_input_is_one_clear_line(fixture_db, args, message):
    if "--db" not in args:
        args = ["--db", fixture_db.url, *args]
    result = CliRunner().invoke(main, ["dashboard", *args, "--port", "0"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_busy_port_is_a_clear_error(fixture_db):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            main, ["dashboard", "--db", fixture_db.url, "--port", str(port)]
        )
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is in use" in result.output


@pytest.mark.parametrize("content", [b"hello, not a database\n", bytes(range(256)) * 16])
def test_a_file_that_is_not_a_database_is_refused_at_start(tmp_path, content):
    import subprocess
    import sys

    path = tmp_path / "notes.db"
    path.write_bytes(content)
    args = ["dashboard", "--db", f"sqlite:///{path}", "--port", "0"]
    proc = subprocess.run(
        [sys.executable, "-m", "lce_nas.cli", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: cannot read database") and "not a database" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == content
