"""Dashboard fixtures: a database two small searches wrote, a server, a headless browser."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dashboard_support import Api, DashboardProcess, FixtureDb, build_fixture_db

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def fixture_db(tmp_path_factory) -> FixtureDb:
    """The shared database: real LCE models timed here, two Optuna studies (read-only use!)."""
    return build_fixture_db(tmp_path_factory.mktemp("db") / "lce-nas.db")


@pytest.fixture
def db_copy(fixture_db, tmp_path) -> FixtureDb:
    """A private copy of the database, for tests that write to it."""
    target = tmp_path / "lce-nas.db"
    for suffix in ("", "-wal"):
        source = fixture_db.path.with_name(fixture_db.path.name + suffix)
        if source.exists():
            shutil.copyfile(source, target.with_name(target.name + suffix))
    return FixtureDb(
        path=target,
        url=f"sqlite:///{target}",
        measurement_ids=fixture_db.measurement_ids,
        presets=fixture_db.presets,
        trials=fixture_db.trials,
        tflite=fixture_db.tflite,
    )


@pytest.fixture(scope="session")
def server(fixture_db):
    """``lce-nas dashboard`` on a free loopback port, polling every second."""
    process = DashboardProcess("--db", fixture_db.url, "--port", "0", "--refresh", "1")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def api(server) -> Api:
    return Api(server.url)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright, headless."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh --test (installs chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    """A fresh page that fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"
