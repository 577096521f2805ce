"""Spaces from plug-ins: a package installed here registers one, and it is searched."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from optuna.trial import TrialState

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "lce-nas-tiny-space"
version = "0.1.0"

[project.entry-points."lce_nas.spaces"]
tinyquick = "tiny_space:TinyQuickSpace"
broken = "tiny_space.broken:BrokenSpace"

[tool.setuptools]
packages = ["tiny_space"]
"""
SPACE = '''
"""A tiny QuickNet-like space: 1-2 blocks per section, 32-64 filters."""

from lce_nas.space.quicknet import QuickNetConfig, QuickNetSpace


class TinyQuickSpace(QuickNetSpace):
    name = "tinyquick"
    version = "1"
    summary = "tiny QuickNets for a plug-in test"

    def suggest(self, trial):
        blocks = trial.suggest_int("blocks", 1, 2)
        filters = trial.suggest_categorical("filters", [32, 64])
        return QuickNetConfig((blocks,) * 4, (32, 32, filters, filters), 8)

    def trial_params(self, config):
        return {"blocks": config.section_blocks[0], "filters": config.section_filters[-1]}

    def presets(self):
        return {"tiny": QuickNetConfig((1, 1, 1, 1), (32, 32, 32, 32), 8)}
'''
BROKEN = "import lce_nas_tiny_space_missing_dependency  # noqa\n"


@pytest.fixture(scope="module")
def plugin_installed(tmp_path_factory) -> dict[str, str]:
    """The tiny plug-in package, pip-installed into a folder of its own: the environment
    (``PYTHONPATH``) that sees it. Installing it into the test environment would show it
    to every other test running beside these."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "pyproject.toml").write_text(PYPROJECT)
    package = root / "tiny_space"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(SPACE))
    (package / "broken.py").write_text(BROKEN)
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps",
         "--no-build-isolation", "--no-index", "--target", str(site), str(root)],
        check=True, capture_output=True,
    )  # fmt: skip
    return {"PYTHONPATH": str(site)}


def test_spaces_lists_the_plugin_with_its_origin_and_names_the_broken_one(
    plugin_installed, workspace
):
    result = workspace.run(
        workspace.command("spaces")[:-2], env={**plugin_installed, "COLUMNS": "400"}
    )
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "plug-in lce-nas-tiny-space 0.1.0 (tiny_space:TinyQuickSpace)" in lines["tinyquick"]
    for name in ("quicknet", "birealnet", "binarydensenet", "realtobinary"):
        assert "built-in" in lines[name]
    errors = result.stderr.strip().splitlines()
    assert errors == [
        "error: plug-in space 'broken' from package 'lce-nas-tiny-space' failed to import "
        "(ModuleNotFoundError: No module named 'lce_nas_tiny_space_missing_dependency')"
    ]
    assert result.returncode == 1
    broken = workspace.run(
        workspace.command("describe", "--space", "broken")[:-2], env=plugin_installed
    )
    assert broken.returncode == 2
    assert broken.stderr.strip().splitlines() == errors


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_plugin_space_is_searched(plugin_installed, workspace):
    result = workspace.run(
        workspace.search_args("plugin", "--space", "tinyquick", "--trials", "2", "--parallel", "1"),
        env=plugin_installed,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    study = workspace.study("plugin")
    completed = [t for t in study.get_trials() if t.state == TrialState.COMPLETE]
    assert len(completed) == 2
    assert {t.user_attrs.get("preset") for t in completed} >= {"tiny"}
    from lce_nas.latency_db import LatencyStore

    with LatencyStore(workspace.db) as store:
        for trial in completed:
            fingerprint = trial.user_attrs["fingerprint"]
            assert store.architecture(fingerprint)["space"] == "tinyquick"
            assert store.measurements(fingerprint=fingerprint)
