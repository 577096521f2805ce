"""The host engine: time a model on this machine, in a worker pinned to reserved cores.

The worker (:mod:`lce_nas.engine.host_worker`) is a fresh Python process, so
nothing else in the tool (TensorFlow, Ray, training threads) shares its
cores or its memory allocator while it times.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from lce_nas.engine.adaptive import Progress, TimingRequest
from lce_nas.engine.devices import HostDevice, machine_cpus
from lce_nas.engine.measurement import Measurement, OpTiming

from lce_nas.errors import UserError

LCE_ENGINE = "lce-interpreter"
# Loading an interpreter and building inputs, beyond the timing cap itself.
_START_ALLOWANCE_S = 120.0


def lce_version() -> str:
    """The installed LCE version, without importing TensorFlow.

    Example:
        >>> lce_version()  # doctest: +SKIP
        '0.16.0'
    """
    try:
        return metadata.version("larq-compute-engine")
    except metadata.PackageNotFoundError:
        return "unknown"


def host_engine(device: HostDevice) -> tuple[str, str]:
    """(engine name, engine version) for a host device: part of the latency key.

    Example:
        >>> host_engine(get_device("host"))  # doctest: +SKIP
        ('lce-interpreter', '0.16.0')
    """
    if device.engine == "native":
        from lce_nas.engine import native

        return native.ENGINE_NAME, native.engine_version()
    return LCE_ENGINE, lce_version()


def host_facts(cpus: list[int] | tuple[int, ...] | None = None) -> dict[str, Any]:
    """What this machine is: CPU model, kernel, core count, frequency governor.

    Example:
        >>> sorted(host_facts())[:3]  # doctest: +SKIP
        ['cpu_count', 'cpu_model', 'governor']
    """
    facts: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "kernel": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    governor = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    if governor.exists():
        facts["governor"] = governor.read_text().strip()
    if cpus is not None:
        facts["pinned_cpus"] = list(cpus)
    return facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _request(device: HostDevice, model_path: str, timing: TimingRequest) -> dict[str, Any]:
    priority = device.priority
    if priority == "realtime" and set(device.reserved_cpus) >= set(machine_cpus()):
        # Never hold every core of the machine at real-time priority.
        priority = "high"
    return {
        "model_path": model_path,
        "engine": device.engine,
        "threads": device.threads,
        "cpus": list(device.reserved_cpus),
        "priority": priority,
        "use_indirect_bgemm": device.use_indirect_bgemm,
        "use_xnnpack": device.use_xnnpack,
        "use_reference_bconv": device.use_reference_bconv,
        "policy": dataclasses.asdict(timing.policy),
        "profile": timing.profile,
    }


def _run_worker(request: dict[str, Any], timeout_s: float, progress: Progress | None) -> dict:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lce_nas.engine.host_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdin and proc.stdout
        proc.stdin.write(json.dumps(request))
        proc.stdin.close()
        answer: dict[str, Any] | None = None
        # The worker enforces the timing cap itself; this watchdog only
        # catches a hung interpreter.
        killed = threading.Event()

        def _kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout_s, _kill)
        timer.start()
        try:
            for line in proc.stdout:
                message = json.loads(line)
                if "progress" in message and progress:
                    p = message["progress"]
                    progress(f"{p['runs']} runs, median {p['median_ms']:.2f} ms")
                elif "progress" not in message:
                    answer = message
            proc.wait()
        finally:
            timer.cancel()
        stderr = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if answer is None:
        tail = stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        if killed.is_set():
            raise UserError(f"the host worker did not finish within {timeout_s:.0f} s")
        raise UserError(f"the interpreter could not run this model (worker died: {tail[0]})")
    if "error" in answer:
        if answer.get("user_error"):
            raise UserError(answer["error"])
        raise UserError(f"the interpreter could not run this model: {answer['error']}")
    return answer["result"]


def measure_host(tflite: bytes, device: HostDevice, timing: TimingRequest) -> Measurement:
    """Time ``tflite`` on this machine in a pinned worker process.

    Example:
        >>> timing = TimingRequest(RunPolicy())  # doctest: +SKIP
        >>> m = measure_host(tflite, get_device("host"), timing)  # doctest: +SKIP
        >>> m.engine, m.runs > 0  # doctest: +SKIP
        ('lce-interpreter', True)
    """
    engine, version = host_engine(device)
    timeout_s = timing.policy.max_seconds + _START_ALLOWANCE_S
    with tempfile.TemporaryDirectory(prefix="lce-nas-") as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(tflite)
        result = _run_worker(_request(device, str(path), timing), timeout_s, timing.progress)
    facts = host_facts(result["cpus"])
    facts.update(
        init_ms=round(result["init_ms"], 3),
        first_inference_ms=round(result["first_ms"], 3),
        stop_reason=result["stop_reason"],
        scheduling=result["scheduling"],
        sampling="per-run wall clock of one inference (set input, invoke, read output)",
        **result["sentinel"],
    )
    op_profile = None
    if result.get("profile"):
        op_profile = [
            OpTiming(op_type=t, name=n, avg_ms=us / 1e3, share=share)
            for t, n, us, share in result["profile"]
        ]
    return Measurement.from_samples(
        result["samples_ms"],
        device=device.name,
        engine=engine,
        engine_version=version,
        threads=device.threads,
        warmup_runs=result["warmup_runs"],
        kernel_options=device.kernel_options,
        host_facts=facts,
        op_profile=op_profile,
    )
