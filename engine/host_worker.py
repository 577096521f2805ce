"""The timing process of the host engine: ``python -m lce_nas.engine.host_worker``.

It pins itself to its reserved cores before loading any interpreter (so every
thread the interpreter starts inherits the pinning), reads one JSON request on
stdin, and answers with JSON lines on stdout: ``{"progress": ...}`` while it
runs, then ``{"result": ...}`` or ``{"error": ..., "user_error": bool}``.

Engines it can load (the seam the native engine plugs into):

- ``lce``: LCE's pybind interpreter (``LiteInterpreter``), loaded from its
  shared library directly so that TensorFlow is not imported;
- ``native``: ``lce_nas.engine.native.load(model_path, num_threads=N)``, an
  object with ``run(x)`` and ``profile(x)``; ``profile`` returns, in run
  order, one row per op with ``op_type, name, microseconds, share`` (tuples,
  or objects with those attributes), averaged over the runs it chose.
  ``native.engine_version()`` names the version in latency keys.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from lce_nas.engine.adaptive import RunPolicy, StabilityTracker
from lce_nas.engine.sentinel import SENTINEL_INTERVAL_S, sentinel_facts, sentinel_ms
from lce_nas.engine.tflite_info import read_model_info

from lce_nas.errors import UserError

PROGRESS_INTERVAL_S = 0.5
# Under SCHED_FIFO the kernel throttles real-time tasks that use more than 95 %
# of a second (sched_rt_runtime_us), which would stall one run in ~60 by
# 50 ms. Resting 6 % of each run's time between runs stays under that limit.
REALTIME_REST_SHARE = 0.06


def load_lce_wrapper():
    """LCE's pybind interpreter module, loaded from its shared library (no TensorFlow).

    Example:
        >>> load_lce_wrapper().LiteInterpreter  # doctest: +SKIP
        <class 'interpreter_wrapper_lite.LiteInterpreter'>
    """
    spec = importlib.util.find_spec("larq_compute_engine")
    if spec is None or spec.origin is None:
        raise UserError("larq-compute-engine is not installed (pip install larq-compute-engine)")
    path = Path(spec.origin).parent / "tflite" / "python" / "interpreter_wrapper_lite.so"
    lib_spec = importlib.util.spec_from_file_location("interpreter_wrapper_lite", path)
    module = importlib.util.module_from_spec(lib_spec)
    lib_spec.loader.exec_module(module)
    return module


class _LceRunner:
    def __init__(self, model: bytes, request: dict[str, Any]) -> None:
        wrapper = load_lce_wrapper()
        self._interp = wrapper.LiteInterpreter(
            model,
            int(request["threads"]),
            bool(request["use_reference_bconv"]),
            bool(request["use_indirect_bgemm"]),
            bool(request["use_xnnpack"]),
        )

    def run(self, inputs: list[np.ndarray]) -> None:
        self._interp.predict(inputs)

    def profile(self, inputs: list[np.ndarray]):
        raise UserError(
            "per-op profiles need --engine native or a device running lce_benchmark_model "
            "(LCE's Python interpreter has no per-op timers)"
        )


class _NativeRunner:
    def __init__(self, model_path: str, request: dict[str, Any]) -> None:
        from lce_nas.engine import native

        self._engine = native.load(model_path, num_threads=int(request["threads"]))

    def run(self, inputs: list[np.ndarray]) -> None:
        self._engine.run(inputs[0])

    def profile(self, inputs: list[np.ndarray]):
        return profile_rows(self._engine, inputs[0])


def profile_rows(engine, x: np.ndarray) -> list[tuple[str, str, float, float]]:
    """``engine.profile(x)`` as ``(op_type, name, microseconds, share)`` tuples.

    Example:
        >>> profile_rows(native.load("m.tflite"), x)[0]  # doctest: +SKIP
        ('CONV_2D', 'model/stem/Conv2D', 355.5, 0.15)
    """
    rows = []
    for row in engine.profile(x):
        if isinstance(row, tuple | list):
            op_type, name, micros, share = row
        else:
            op_type, name, micros, share = row.op_type, row.name, row.microseconds, row.share
        rows.append((str(op_type), str(name), float(micros), float(share)))
    return rows


def set_priority(priority: str) -> str:
    """Raise this process's CPU priority as asked; returns what it got.

    Pinning keeps the tool's own work off the timing core, but not other
    programs on a shared machine: ``high`` (nice -10) makes the scheduler give
    the timing worker most of its core when something else lands there;
    ``realtime`` (SCHED_FIFO, the default) gives it all of it, resting briefly
    between runs (see ``REALTIME_REST_SHARE``). Both need root or
    CAP_SYS_NICE; without them the worker falls back (realtime, then high,
    then normal) and says which it got.

    Example:
        >>> set_priority("normal")
        'normal'
    """
    if priority == "realtime":
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            return "SCHED_FIFO"
        except (PermissionError, OSError):
            priority = "high"
    if priority == "high":
        try:
            os.setpriority(os.PRIO_PROCESS, 0, -10)
            return "nice -10"
        except (PermissionError, OSError):
            return "normal (no permission to raise priority)"
    return "normal"


def make_inputs(model: bytes, seed: int = 0) -> list[np.ndarray]:
    """Random inputs matching a model's input tensors (floats in [-1, 1], any int8 value).

    Example:
        >>> make_inputs(open("m.tflite", "rb").read())[0].shape  # doctest: +SKIP
        (1, 224, 224, 3)
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in read_model_info(model).inputs:
        shape = tuple(max(1, d) for d in tensor.shape)
        if tensor.dtype.startswith("float"):
            arrays.append(rng.uniform(-1, 1, size=shape).astype(tensor.dtype))
        elif tensor.dtype == "int8":
            arrays.append(rng.integers(-128, 128, size=shape).astype(np.int8))
        else:
            arrays.append(np.zeros(shape, dtype=tensor.dtype))
    return arrays


#: Profile passes (of the engine's own repeated runs each) whose per-op median is reported.
PROFILE_PASSES = 5


def _profile(runner, inputs) -> list[list[Any]]:
    # A per-op median over passes: one pass that shares the core with a burst of other
    # work would otherwise shift every op it covered (a predictor learns from these rows).
    passes = [runner.profile(inputs) for _ in range(PROFILE_PASSES)]
    rows = [
        (t, n, float(np.median([p[i][2] for p in passes])))
        for i, (t, n, _us, _share) in enumerate(passes[0])
    ]
    total = sum(r[2] for r in rows) or 1.0
    return [[t, n, us, us / total] for t, n, us in rows]


def run_request(request: dict[str, Any], emit) -> dict[str, Any]:
    """Time one model as the request says; ``emit`` receives progress dicts.

    Example:
        >>> run_request({"model_path": "m.tflite", "engine": "lce", "threads": 1,
        ...              "cpus": [1], "use_indirect_bgemm": True, "use_xnnpack": True,
        ...              "use_reference_bconv": False, "policy": {}}, print)["stop_reason"]
        ... # doctest: +SKIP
        'median stable'
    """
    cpus = request.get("cpus")
    if cpus:
        os.sched_setaffinity(0, cpus)
    scheduling = set_priority(request.get("priority", "normal"))
    model = Path(request["model_path"]).read_bytes()
    inputs = make_inputs(model)
    t0 = time.perf_counter()
    if request["engine"] == "native":
        runner = _NativeRunner(request["model_path"], request)
    else:
        runner = _LceRunner(model, request)
    init_ms = (time.perf_counter() - t0) * 1e3
    if request.get("profile") and request["engine"] != "native":
        runner.profile(inputs)  # raises the explanation before any timing is wasted

    policy = RunPolicy(**request["policy"])
    t0 = time.perf_counter()
    runner.run(inputs)
    first_ms = (time.perf_counter() - t0) * 1e3
    rest = REALTIME_REST_SHARE if scheduling == "SCHED_FIFO" else 0.0
    sentinels = [sentinel_ms()]
    warm_start = time.perf_counter()
    warmup = 0
    while warmup < policy.warmup_runs or (time.perf_counter() - warm_start) < 0.2:
        t0 = time.perf_counter()
        runner.run(inputs)
        warmup += 1
        if rest:
            time.sleep((time.perf_counter() - t0) * rest)

    tracker = StabilityTracker(policy)
    start = last_emit = last_sentinel = time.perf_counter()
    while not tracker.done:
        t0 = time.perf_counter_ns()
        runner.run(inputs)
        sample = (time.perf_counter_ns() - t0) / 1e6
        if rest:
            time.sleep(sample / 1e3 * rest)
        now = time.perf_counter()
        tracker.add(sample, elapsed_s=now - start)
        if now - last_sentinel >= SENTINEL_INTERVAL_S:
            # Between runs and off the clock: a sample never includes it.
            sentinels.append(sentinel_ms())
            last_sentinel = time.perf_counter()
        if now - last_emit >= PROGRESS_INTERVAL_S:
            last_emit = now
            emit({"runs": len(tracker.samples), "median_ms": float(np.median(tracker.samples))})

    sentinels.append(sentinel_ms())
    profile = _profile(runner, inputs) if request.get("profile") else None
    return {
        "samples_ms": tracker.samples,
        "warmup_runs": warmup + 1,
        "init_ms": init_ms,
        "first_ms": first_ms,
        "stop_reason": tracker.reason,
        "cpus": sorted(os.sched_getaffinity(0)),
        "scheduling": scheduling,
        "profile": profile,
        "sentinel": sentinel_facts(sentinels),
    }


def _send(stream: TextIO, payload: dict[str, Any]) -> None:
    stream.write(json.dumps(payload) + "\n")
    stream.flush()


def main() -> int:
    """Serve one request from stdin; the answer goes to the original stdout.

    Example:
        >>> # echo '{"model_path": ...}' | python -m lce_nas.engine.host_worker
    """
    # Interpreters may print to fd 1; keep the protocol stream clean by
    # pointing fd 1 at stderr and answering on a private copy of it.
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        request = json.loads(sys.stdin.read())
        result = run_request(request, lambda p: _send(proto, {"progress": p}))
        _send(proto, {"result": result})
    except UserError as err:
        _send(proto, {"error": str(err), "user_error": True})
    except Exception as err:  # reported to the parent, which decides how to show it
        _send(proto, {"error": f"{type(err).__name__}: {err}", "user_error": False})
    return 0


if __name__ == "__main__":
    sys.exit(main())
