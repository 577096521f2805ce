"""The dashboard's access token: required beyond loopback, bearer header or a one-time query."""

from __future__ import annotations

import http.client
import urllib.parse

import pytest
from click.testing import CliRunner
from dashboard_support import Api, DashboardProcess

from lce_nas.cli import main

TOKEN = "Zt3q-access-token-for-tests"


@pytest.fixture(scope="module")
def gated(fixture_db):
    """A dashboard on 0.0.0.0 with its token taken from the environment."""
    process = DashboardProcess(
        "--db", fixture_db.url, "--host", "0.0.0.0", "--port", "0",
        env={"LCE_NAS_DASHBOARD_TOKEN": TOKEN},
    )  # fmt: skip
    port = int(process.url.rstrip("/").rsplit(":", 1)[1])
    yield port
    process.stop()


def _get(port: int, path: str, headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def test_a_non_loopback_host_without_a_token_refuses_to_start(fixture_db, monkeypatch):
    monkeypatch.delenv("LCE_NAS_DASHBOARD_TOKEN", raising=False)
    result = CliRunner().invoke(
        main, ["dashboard", "--db", fixture_db.url, "--host", "0.0.0.0", "--port", "0"]
    )
    assert result.exit_code == 2
    assert result.output.startswith("error: refusing to serve the dashboard on 0.0.0.0")
    assert "--token" in result.output and "Traceback" not in result.output


def test_a_short_token_is_refused(fixture_db):
    result = CliRunner().invoke(
        main,
        ["dashboard", "--db", fixture_db.url, "--host", "0.0.0.0", "--port", "0"],
        env={"LCE_NAS_DASHBOARD_TOKEN": "short"},
    )
    assert result.exit_code == 2
    assert "at least 16 characters" in result.output


def test_requests_without_the_token_are_refused(gated):
    for path in ("/", "/api/studies", "/api/openapi.json"):
        status, headers, body = _get(gated, path)
        assert status == 401, path
        assert "access token" in body and "Bearer" in headers["www-authenticate"]
    wrong = {"Authorization": f"Bearer {TOKEN[:-1]}x"}
    assert _get(gated, "/api/studies", wrong)[0] == 401
    assert _get(gated, "/api/studies?token=nope")[0] == 401
    assert _get(gated, "/", {"Cookie": "lce_nas_dashboard=forged"})[0] == 401


def test_the_bearer_header_lets_a_script_in(gated, fixture_db):
    studies = Api(f"http://127.0.0.1:{gated}/", token=TOKEN).get("/api/studies")
    assert {s["name"] for s in studies} == {fixture_db.main_study, fixture_db.other_study}


def test_the_query_token_sets_a_cookie_once(gated, fixture_db):
    path = f"/studies/{urllib.parse.quote(fixture_db.main_study)}?token={TOKEN}&x=1"
    status, headers, _ = _get(gated, path)
    # Redirected to the same page without the token in the address.
    assert status == 303
    assert headers["location"] == f"/studies/{urllib.parse.quote(fixture_db.main_study)}?x=1"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    jar = cookie.split(";", 1)[0]
    status, _, body = _get(gated, headers["location"], {"Cookie": jar})
    assert status == 200 and fixture_db.main_study in body
    # The page's own polling carries the cookie too.
    status, _, _ = _get(gated, "/api/studies", {"Cookie": jar})
    assert status == 200


def test_loopback_stays_token_free(server):
    assert Api(server.url).status("/api/studies")[0] == 200
