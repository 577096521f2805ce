"""Failed training on purpose, for tests: wraps the real trainer, never part of the product.

``LCE_NAS_TEST_FAIL_TRAINING`` is ``all`` or comma-separated fingerprint
prefixes. In a process that has this folder on ``PYTHONPATH`` (so that its
``sitecustomize`` runs at start-up, Ray's workers included), training a
selected candidate raises :class:`InjectedTrainingFailure` after the trainer's
cache lookup, so cached results are still returned and everything around the
failure (the Ray task, the pool, the search loop) is the real one.

Example:
    >>> env = {**os.environ, **subprocess_env("all")}  # doctest: +SKIP
    >>> subprocess.run(["lce-nas", "search", ...], env=env)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import importlib.abc
import os
import sys
from pathlib import Path
from typing import Any

ENV = "LCE_NAS_TEST_FAIL_TRAINING"
TRAINER = "lce_nas.workers.trainer"
FOLDER = Path(__file__).resolve().parent


class InjectedTrainingFailure(RuntimeError):
    """Raised on purpose for a candidate that ``LCE_NAS_TEST_FAIL_TRAINING`` selects."""


def selected(fingerprint: str, wanted: str) -> bool:
    """Whether ``wanted`` (``all`` or fingerprint prefixes) selects this fingerprint."""
    prefixes = [p.strip().lower() for p in wanted.split(",") if p.strip()]
    return "all" in prefixes or any(fingerprint.startswith(p) for p in prefixes)


def failing(train: Any, wanted: str) -> Any:
    """``train`` (the trainer's ``_train``), failing for the selected candidates."""

    @functools.wraps(train)
    def wrapper(space, config, fingerprint, *args, **kwargs):
        if selected(fingerprint, wanted):
            raise InjectedTrainingFailure(
                f"training of {fingerprint[:12]} failed on purpose ({ENV}={wanted})"
            )
        return train(space, config, fingerprint, *args, **kwargs)

    return wrapper


def subprocess_env(wanted: str) -> dict[str, str]:
    """Environment additions that make a child process (and its Ray workers) fail training."""
    path = os.environ.get("PYTHONPATH", "")
    return {ENV: wanted, "PYTHONPATH": os.pathsep.join(p for p in (str(FOLDER), path) if p)}


class _WrapOnImport(importlib.abc.MetaPathFinder):
    """Wraps the trainer's ``_train`` once the trainer module has been loaded."""

    def __init__(self, wanted: str) -> None:
        self.wanted = wanted

    def find_spec(self, fullname, path, target=None):
        if fullname != TRAINER:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        load = spec.loader.exec_module
        wanted = self.wanted

        def exec_module(module):
            load(module)
            module._train = failing(module._train, wanted)

        spec.loader.exec_module = exec_module
        return spec


def install_from_env() -> None:
    """At start-up: arrange for the trainer to fail if ``LCE_NAS_TEST_FAIL_TRAINING`` is set."""
    wanted = os.environ.get(ENV, "").strip()
    if wanted:
        sys.meta_path.insert(0, _WrapOnImport(wanted))
