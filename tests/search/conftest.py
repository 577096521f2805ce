"""A working folder with a fast host profile and one database shared by the search tests.

Sharing the database is deliberate: later searches find the presets' results
from earlier ones, which is the cache behaviour under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from search_support import TINY_PROXY, fast_host_profile, lce_nas_command

FAST_HOST = fast_host_profile(
    "fast-host", max_seconds=2.0, description="the host, with short timing runs for tests"
)


class SearchWorkspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = f"sqlite:///{root / 'searches.db'}"
        (root / "lce-nas.toml").write_text(FAST_HOST)

    def command(self, *args: str) -> list[str]:
        return lce_nas_command(*args, db=self.db)

    def search_args(self, study: str, *extra: str) -> list[str]:
        return self.command(
            "search", "--device", "fast-host", "--study-name", study, *TINY_PROXY, *extra
        )

    def run(
        self,
        args: list[str],
        env: dict[str, str] | None = None,
        timeout: float = 1500,
        fail_training: str | None = None,
    ):
        """Run a command here; ``fail_training`` (``all`` or fingerprint prefixes) makes
        the real trainer fail on purpose, through the test plug-in in tests/plugins."""
        env = dict(env or {})
        if fail_training:
            env.update(_failure_env(fail_training))
        return subprocess.run(
            args,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "COLUMNS": "200", **env},
        )

    def study(self, name: str):
        import optuna

        return optuna.load_study(study_name=name, storage=self.db)


def _failure_env(wanted: str) -> dict[str, str]:
    plugins = str(Path(__file__).resolve().parents[1] / "plugins")
    if plugins not in sys.path:
        sys.path.insert(0, plugins)
    from training_failures import subprocess_env

    return subprocess_env(wanted)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> SearchWorkspace:
    return SearchWorkspace(tmp_path_factory.mktemp("searches"))
