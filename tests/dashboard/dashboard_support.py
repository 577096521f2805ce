"""A database as a search writes it, and a dashboard server to read it.

The database is filled through the real store API and real Optuna studies,
following the README's "What a search stores": real QuickNet-space models are
converted with LCE and timed on this machine (the native engine with a per-op
profile, and LCE's interpreter), and Optuna trials carry the contract's
values, user attributes and constraints. Two things are not a real search:
deploy models are built at 64x64x3 with 10 classes (so that converting the
three presets takes seconds), and proxy accuracies are a synthetic function
of the binary MACs, stored under the dataset name ``synthetic-fixture``
(training every candidate would take minutes).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INPUT_SHAPE = (64, 64, 3)
CLASSES = 10
DATASET = "synthetic-fixture"
PROXY_SETTINGS = {"kind": "synthetic accuracy for dashboard tests", "version": 1}
SEARCHED = [
    {
        "section_blocks": [1, 1, 1, 1],
        "section_filters": [32, 32, 64, 64],
        "stem_filters": 8,
        "transition": "maxpool",
    },
    {"section_blocks": [2, 2, 2, 2], "section_filters": [32, 64, 128, 256], "stem_filters": 16},
    {
        "section_blocks": [2, 3, 4, 2],
        "section_filters": [64, 64, 128, 256],
        "stem_filters": 16,
        "transition": "avgpool",
        "kernel_size": 5,
        "activation": "relu6",
    },
    {
        "section_blocks": [1, 2, 2, 1],
        "section_filters": [32, 64, 96, 128],
        "stem_filters": 8,
        "activation": "none",
    },
]
PRESETS = ("quicknet-small", "quicknet", "quicknet-large")
FAILURE_TRAINING = "training failed: RuntimeError: injected by the dashboard test fixture"
FAILURE_CONVERSION = "conversion failed: ValueError: injected by the dashboard test fixture"


@dataclass
class FixtureDb:
    """What the fixture wrote, for tests to compare the dashboard with."""

    path: Path
    url: str
    main_study: str = "fixture-native"
    other_study: str = "fixture-lce"
    measurement_ids: dict[str, int] = field(default_factory=dict)
    presets: dict[str, str] = field(default_factory=dict)
    #: study -> what each trial was told: number, state, values, preset, failure.
    trials: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: fingerprint -> the converted model (for export downloads).
    tflite: dict[str, bytes] = field(default_factory=dict)


def file_digest(path: Path) -> str:
    """sha256 of a SQLite database file together with its write-ahead log, if any."""
    digest = hashlib.sha256(path.read_bytes())
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        digest.update(wal.read_bytes())
    return digest.hexdigest()


def synthetic_top1(binary_macs: int) -> float:
    """A made-up, monotone proxy accuracy (labelled synthetic in the database)."""
    return round(min(0.95, 0.40 + 0.045 * math.log2(max(binary_macs, 1) / 1e5)), 4)


def _models(space) -> dict[str, tuple[Any, bytes]]:
    """fingerprint -> (config, tflite) for the presets and the searched configs."""
    from lce_nas.engine.convert import convert_model

    configs = [space.preset(name) for name in PRESETS]
    configs += [space.config_from_params(params) for params in SEARCHED]
    models = {}
    for config in configs:
        model = space.build_deploy(config, input_shape=INPUT_SHAPE, classes=CLASSES)
        models[space.fingerprint(config)] = (config, convert_model(model))
    return models


def build_fixture_db(path: Path) -> FixtureDb:
    """Fill a new SQLite database at ``path`` as two small searches would.

    ``fixture-native``: all models timed by the native engine with a per-op
    profile, a latency limit that QuickNet-Large breaks, a duplicate
    proposal, two failed trials and one left running. ``fixture-lce``: three
    models timed by LCE's interpreter (no profile), no limit, finished.
    """
    import optuna
    from lce_nas.engine import get_device, measure
    from lce_nas.latency_db import AccuracyEvaluation, LatencyStore
    from lce_nas.space import get_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{path}"
    info = FixtureDb(path=path, url=url)
    space = get_space("quicknet")
    models = _models(space)
    info.presets = {name: space.fingerprint(space.preset(name)) for name in PRESETS}
    small = info.presets["quicknet-small"]
    info.tflite = {small: models[small][1]}
    policy = {"max_seconds": 1.0, "min_seconds": 0.2, "min_runs": 10, "warmup_runs": 2}
    devices = {
        "native": get_device("host", engine="native", **policy),
        "lce": get_device("host", **policy),
    }
    timed = {"native": list(models), "lce": [*list(models)[:2], list(models)[3]]}
    store = LatencyStore(url)
    results: dict[str, dict[str, tuple[Any, int, Any]]] = {"native": {}, "lce": {}}
    for fingerprint, (config, tflite) in models.items():
        summary = space.describe(config, input_shape=INPUT_SHAPE, classes=CLASSES)
        store.record_architecture(
            fingerprint, space.name, space.version, space.to_params(config), **summary.to_dict()
        )
        top1 = synthetic_top1(summary.binary_macs)
        store.record_accuracy(
            AccuracyEvaluation(fingerprint, DATASET, PROXY_SETTINGS, top1=top1, loss=1.0 - top1)
        )
        for engine, device in devices.items():
            if fingerprint in timed[engine]:
                profile = engine == "native"
                m = measure(tflite, device, profile=profile, fingerprint=fingerprint)
                results[engine][fingerprint] = (m, store.record_measurement(m), summary)
    info.measurement_ids = {fp: r[1] for fp, r in results["native"].items()}
    for study, engine in ((info.main_study, "native"), (info.other_study, "lce")):
        main = study == info.main_study
        info.trials[study] = _write_study(
            store, space, study, devices[engine], models, results[engine], info, main
        )
    store.close()
    return info


def _latency_attr(m, measurement_id: int) -> dict[str, Any]:
    return {
        "median_ms": m.median_ms,
        "p10_ms": m.p10_ms,
        "p90_ms": m.p90_ms,
        "mean_ms": m.mean_ms,
        "std_ms": m.std_ms,
        "cv": m.cv,
        "runs": m.runs,
        "measurement_id": measurement_id,
    }


def _write_study(store, space, name, device, models, results, info, main) -> list[dict]:
    """One study per the contract: presets first, searched configs, a duplicate, failures."""
    import optuna
    from lce_nas.engine import measurement_key
    from optuna.trial import TrialState

    from lce_nas import __version__

    key = measurement_key(device)
    medians = {fp: r[0].median_ms for fp, r in results.items()}
    presets = [fp for fp in info.presets.values() if fp in results]
    searched = [fp for fp in results if fp not in presets]
    # The latency limit makes QuickNet-Large (the slowest) infeasible in the main study.
    max_latency = 0.9 * medians[info.presets["quicknet-large"]] if main else None
    reference_latency = max_latency or 2.0 * max(medians[fp] for fp in presets)
    study = optuna.create_study(
        study_name=name,
        storage=store.url.render_as_string(hide_password=False),
        directions=["maximize", "minimize"],
    )
    study.set_user_attr(
        "lce_nas",
        {
            "space": space.name,
            "space_version": space.version,
            "device": device.name,
            "measurement_key": {
                "device": key.device,
                "engine": key.engine,
                "engine_version": key.engine_version,
                "threads": key.threads,
                "kernel_options": key.kernel_options,
            },
            "dataset": DATASET,
            "proxy_settings": PROXY_SETTINGS,
            "reference_point": {"accuracy": 0.0, "latency_ms": reference_latency},
            "presets": dict(info.presets),
            "constraints": {"max_latency_ms": max_latency, "max_size_mb": None},
            "sampler": "tpe",
            "lce_nas_version": __version__,
        },
    )
    store.record_search(
        name,
        name,
        space.name,
        device.name,
        {"trials": 10, "engine": device.engine},
        status="running" if main else "finished",
    )
    told: list[dict[str, Any]] = []
    seen: set[str] = set()
    for fingerprint in presets + searched + ([searched[1]] if main else []):
        config = models[fingerprint][0]
        preset = space.preset_name(config)
        study.enqueue_trial(space.trial_params(config), user_attrs={"preset": preset})
        trial = study.ask()
        assert space.fingerprint(space.suggest(trial)) == fingerprint
        m, measurement_id, summary = results[fingerprint]
        feasible = max_latency is None or m.median_ms <= max_latency
        cached = fingerprint in seen
        seen.add(fingerprint)
        attrs: dict[str, Any] = {
            "fingerprint": fingerprint,
            "config": space.to_params(config),
            "latency": _latency_attr(m, measurement_id),
            "summary": summary.to_dict(),
            "feasible": feasible,
            "cached": {"latency": cached, "accuracy": cached and feasible},
        }
        top1 = 0.0
        if feasible:
            top1 = synthetic_top1(summary.binary_macs)
            attrs["accuracy"] = {"top1": top1, "loss": 1 - top1, "epochs": 0, "train_seconds": 0.0}
        for attr, value in attrs.items():
            trial.set_user_attr(attr, value)
        if max_latency is not None:
            trial.set_constraint("latency", m.median_ms - max_latency)
        study.tell(trial, [top1, m.median_ms])
        told.append(
            {
                "number": trial.number,
                "state": "COMPLETE",
                "accuracy": top1,
                "latency_ms": m.median_ms,
                "feasible": feasible,
                "preset": preset,
                "fingerprint": fingerprint,
                "measurement_id": measurement_id,
            }
        )
    if not main:
        return told
    # A candidate timed but not trained, one that did not convert, and one in flight.
    fingerprint = searched[0]
    m, measurement_id, summary = results[fingerprint]
    trial = study.ask()
    space.suggest(trial)
    trial.set_user_attr("fingerprint", fingerprint)
    trial.set_user_attr("config", space.to_params(models[fingerprint][0]))
    trial.set_user_attr("preset", None)
    trial.set_user_attr("latency", _latency_attr(m, measurement_id))
    trial.set_user_attr("summary", summary.to_dict())
    trial.set_user_attr("failure", FAILURE_TRAINING)
    study.tell(trial, state=TrialState.FAIL)
    told.append(
        {
            "number": trial.number,
            "state": "FAIL",
            "latency_ms": m.median_ms,
            "failure": FAILURE_TRAINING,
            "fingerprint": fingerprint,
        }
    )
    trial = study.ask()
    space.suggest(trial)
    trial.set_user_attr("failure", FAILURE_CONVERSION)
    study.tell(trial, state=TrialState.FAIL)
    told.append(
        {
            "number": trial.number,
            "state": "FAIL",
            "latency_ms": None,
            "failure": FAILURE_CONVERSION,
            "fingerprint": None,
        }
    )
    trial = study.ask()
    space.suggest(trial)  # left RUNNING, as by a search in progress
    told.append({"number": trial.number, "state": "RUNNING", "latency_ms": None})
    return told


class Api:
    """GET JSON from a running dashboard."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _request(self, path: str) -> urllib.request.Request:
        return urllib.request.Request(self.base + path, headers=self.headers)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self._request(path), timeout=30) as response:
            return json.loads(response.read())

    def status(self, path: str) -> tuple[int, str, str]:
        """(status, content type, body) of any response, errors included."""
        try:
            with urllib.request.urlopen(self._request(path), timeout=30) as response:
                return response.status, response.headers["content-type"], response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.headers["content-type"], err.read().decode()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DashboardProcess:
    """``lce-nas dashboard`` in a subprocess; ``url`` once it listens."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        command = [str(Path(sys.executable).with_name("lce-nas")), "dashboard", *args]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"Dashboard at (http://\S+/)", line)
            if found:
                return found.group(1)
        self.process.wait(timeout=30)
        stderr = self.process.stderr.read() if self.process.stderr else ""
        raise RuntimeError(f"dashboard exited with {self.process.returncode}: {stderr}")

    def stop(self) -> str:
        """Stop the server (as Ctrl-C would) and return its stderr."""
        self.process.send_signal(2)
        try:
            _, stderr = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return stderr


def wait_until(condition, timeout_s: float = 30.0, what: str = "condition") -> None:
    """Poll ``condition()`` until true (for servers that start in another process)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
