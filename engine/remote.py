"""Timing on a remote device with ``lce_benchmark_model``: the part SSH and adb share.

A transport copies the model under its content address (skipping the copy
when the file is already there) and runs commands. Each call of the benchmark
tool re-creates its interpreter, warms up and times ``batch_runs`` runs; the
tool reports only their mean, so a measurement's samples are those per-call
means, and calls repeat until their median is stable or the time cap is
reached. The profile, when asked for, comes from one extra call with
``--enable_op_profiling=true``, so profiling overhead never enters the timing.
Models stay on the device as a cache (the next measurement skips the copy)
unless the profile says ``keep_models = false``.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from collections.abc import Callable
from typing import Protocol

from lce_nas.engine.adaptive import Progress, StabilityTracker, TimingRequest
from lce_nas.engine.bm_output import BenchmarkOutput, parse_benchmark_output
from lce_nas.engine.device_kinds import REMOTE_ENGINE, RemoteDevice
from lce_nas.engine.measurement import Measurement, OpTiming

from lce_nas.errors import UserError
from lce_nas.retry import Backoff, retry

MIN_CALLS = 3
# The device's shell start-up files may print before the command runs (banners,
# warnings): the facts are what follows this line.
FACTS_MARKER = "--- lce-nas host facts ---"
FACTS_COMMAND = (
    f"echo '{FACTS_MARKER}'; uname -srm; grep -m1 -E '^(model name|Model|Hardware)' /proc/cpuinfo; "
    "nproc 2>/dev/null || getconf _NPROCESSORS_ONLN"
)


class Transport(Protocol):
    """How the remote flow reaches a device."""

    def ensure_model(self, tflite: bytes, sha256: str) -> str:
        """Copy the model unless present; return its path on the device."""

    def run(self, command: str) -> str:
        """Run a shell command line; return its output (stdout and stderr)."""

    def close(self) -> None:
        """Release the connection."""


def remote_model_path(device: RemoteDevice, sha256: str) -> str:
    """The content-addressed path of a model on a device.

    A leading ``~/`` becomes a path relative to the login directory, which is
    where both SFTP and remote shells start (a quoted ``~`` would not expand).

    Example:
        >>> remote_model_path(get_device("android"), "ab" * 32)[:27]  # doctest: +SKIP
        '/data/local/tmp/lce-nas/abab'
    """
    directory = device.remote_dir.rstrip("/") or "/"
    if directory == "~":
        directory = "."
    elif directory.startswith("~/"):
        directory = directory[2:]
    return f"{directory}/{sha256}.tflite"


def benchmark_argv(
    device: RemoteDevice, graph: str, *, num_runs: int, warmup_runs: int, profile: bool = False
) -> list[str]:
    """The benchmark tool's argument vector (unquoted), flags named as LCE names them.

    Example:
        >>> from lce_nas.engine.devices import get_device
        >>> benchmark_argv(get_device("android"), "m.tflite", num_runs=20, warmup_runs=5)[1:4]
        ['--graph=m.tflite', '--num_threads=1', '--warmup_runs=5']
    """

    def flag(value: bool) -> str:
        return "true" if value else "false"

    argv = [
        *shlex.split(device.benchmark_binary),
        f"--graph={graph}",
        f"--num_threads={device.threads}",
        f"--warmup_runs={warmup_runs}",
        f"--num_runs={num_runs}",
        f"--use_xnnpack={flag(device.use_xnnpack)}",
        f"--use_indirect_bgemm={flag(device.use_indirect_bgemm)}",
    ]
    if device.use_reference_bconv:
        argv.append("--use_reference_bconv=true")
    if profile:
        argv.append("--enable_op_profiling=true")
    return argv


def quote_command(argv: list[str]) -> str:
    """One shell command line in which every argument is a single, literal word.

    Example:
        >>> quote_command(["lce_benchmark_model", "--graph=a b'; rm -rf ~"])
        'lce_benchmark_model \\'--graph=a b\\'"\\'"\\'; rm -rf ~\\''
    """
    return " ".join(shlex.quote(arg) for arg in argv)


def parse_facts(text: str) -> dict[str, object]:
    """Host facts from the output of :data:`FACTS_COMMAND`.

    Example:
        >>> parse_facts("Linux 6.1.21-v8+ aarch64")
        {'kernel': 'Linux 6.1.21-v8+', 'machine': 'aarch64'}
        >>> parse_facts(f"Welcome!\\n{FACTS_MARKER}\\nLinux 6.1.21-v8+ aarch64")["kernel"]
        'Linux 6.1.21-v8+'
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if FACTS_MARKER in lines:
        lines = lines[len(lines) - lines[::-1].index(FACTS_MARKER) :]
    facts: dict[str, object] = {}
    if lines:
        parts = lines[0].split()
        facts["kernel"] = " ".join(parts[:2])
        facts["machine"] = parts[-1] if len(parts) >= 3 else ""
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("model name", "Model", "Hardware"):
            facts["cpu_model"] = value.strip()
        elif line.isdigit():
            facts["cpu_count"] = int(line)
    return facts


def _ops_to_timings(output: BenchmarkOutput) -> list[OpTiming]:
    if not output.ops:
        raise UserError(
            "the benchmark tool printed no op-profiling table; "
            "is it lce_benchmark_model with --enable_op_profiling support?"
        )
    total = sum(r.avg_ms * r.times_called for r in output.ops) or 1.0
    return [
        OpTiming(
            op_type=r.node_type,
            name=r.name,
            avg_ms=r.avg_ms * r.times_called,
            share=r.avg_ms * r.times_called / total,
        )
        for r in output.ops
    ]


def measure_remote(
    tflite: bytes, sha256: str, device: RemoteDevice, transport: Transport, timing: TimingRequest
) -> Measurement:
    """Time a model on a device through ``transport``.

    Example:
        >>> with ssh_transport(device) as t:  # doctest: +SKIP
        ...     m = measure_remote(tflite, sha, device, t, TimingRequest(RunPolicy()))
    """
    policy = timing.policy
    say = timing.progress or (lambda _msg: None)
    say("copying model")
    graph = transport.ensure_model(tflite, sha256)
    facts = parse_facts(transport.run(FACTS_COMMAND))
    batch = max(1, device.batch_runs)
    call_policy = dataclasses.replace(
        policy,
        min_runs=MIN_CALLS,
        max_runs=max(MIN_CALLS, policy.max_runs // batch),
        min_seconds=0.0,
        check_every=1,
    )
    tracker = StabilityTracker(call_policy)
    runs = 0
    first: BenchmarkOutput | None = None
    start = time.monotonic()
    while not tracker.done:
        argv = benchmark_argv(device, graph, num_runs=batch, warmup_runs=policy.warmup_runs)
        output = parse_benchmark_output(transport.run(quote_command(argv)))
        first = first or output
        runs += output.runs or batch
        tracker.add(output.inference_avg_us / 1e3, elapsed_s=time.monotonic() - start)
        say(f"{len(tracker.samples)} calls, {runs} runs, median {_median(tracker.samples):.2f} ms")
    op_profile = None
    if timing.profile:
        say("profiling ops")
        argv = benchmark_argv(device, graph, num_runs=batch, warmup_runs=1, profile=True)
        op_profile = _ops_to_timings(parse_benchmark_output(transport.run(quote_command(argv))))
    assert first is not None
    if not device.keep_models:
        transport.run(quote_command(["rm", "-f", graph]))
    facts.update(
        init_ms=round(first.init_us / 1e3, 3),
        first_inference_ms=round(first.first_us / 1e3, 3),
        stop_reason=tracker.reason,
        calls=len(tracker.samples),
        runs_per_call=batch,
        sampling="mean of each lce_benchmark_model call (samples are per-call means)",
    )
    measurement = Measurement.from_samples(
        tracker.samples,
        device=device.name,
        engine=REMOTE_ENGINE,
        engine_version=device.engine_version or "unknown",
        threads=device.threads,
        warmup_runs=policy.warmup_runs * len(tracker.samples),
        kernel_options=device.kernel_options,
        host_facts=facts,
        op_profile=op_profile,
    )
    return dataclasses.replace(measurement, runs=runs)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def retrying(
    what: str,
    action: Callable[[], str],
    *,
    device: RemoteDevice,
    transient: tuple[type[BaseException], ...],
    reconnect: Callable[[], None],
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Run ``action``; on a transient error reconnect with exponential backoff, then give up.

    The device's ``retries`` and ``retry_backoff_s`` set :func:`lce_nas.retry.retry`'s policy.

    Example:
        >>> retrying("copy", lambda: "ok", device=d, transient=(OSError,),
        ...          reconnect=lambda: None)  # doctest: +SKIP
        'ok'
    """
    tries = max(1, device.retries)

    def notice(err: Exception, delay: float, next_try: int) -> None:
        if progress:
            progress(
                f"{what} failed ({_reason(err)}); retrying in {delay:.1f} s "
                f"(try {next_try} of {tries})"
            )

    def lost(err: Exception, _tries: int) -> Exception:
        return UserError(
            f"lost device '{device.name}' ({device.address}) while {what}: {_reason(err)} "
            f"(gave up after {tries} tries); check that it is up and reachable"
        )

    return retry(
        action,
        Backoff(first_s=device.retry_backoff_s, tries=tries),
        transient=lambda err: isinstance(err, transient),
        before_retry=reconnect,
        on_retry=notice,
        give_up=lost,
        sleep=sleep,
    )


def _reason(err: BaseException) -> str:
    return str(err) or type(err).__name__
