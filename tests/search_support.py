"""What the tests that run ``lce-nas search`` share: a fast host profile, a tiny proxy,
the command line, and polling for a condition."""

from __future__ import annotations

import sys
import time

# Short timing runs: the tests check what is measured and stored, not how precisely.
TINY_PROXY = ["--epochs", "1", "--subset", "256", "--width", "0.125"]


def fast_host_profile(name: str, max_seconds: float, description: str = "") -> str:
    """A ``lce-nas.toml`` device section for the host with short timing runs."""
    lines = [f"[devices.{name}]", 'kind = "host"']
    if description:
        lines.append(f'description = "{description}"')
    lines += [f"max_seconds = {max_seconds}", "min_seconds = 0.3"]
    lines += ["min_runs = 5", "warmup_runs = 1"]
    return "\n".join(lines) + "\n"


def lce_nas_command(*args: str, db: str) -> list[str]:
    """``lce-nas ARGS --db DB`` run with this interpreter."""
    return [sys.executable, "-m", "lce_nas.cli", *args, "--db", db]


def wait_for(condition, timeout_s: float, what: str) -> None:
    """Poll ``condition()`` until it is true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
