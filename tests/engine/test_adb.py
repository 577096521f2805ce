"""adb devices, through a stand-in ``adb`` that answers with recorded real-format output.

No phone is attached here: the stand-in keeps a directory as the phone's file
system, records every call, and prints what ``lce_benchmark_model`` printed on
a phone (fixtures/android_pixel_run.txt, and an op-profiling run).
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
import textwrap

import pytest
from engine_support import FIXTURES
from lce_nas.engine import get_device, measure

from lce_nas.errors import UserError

FAKE_ADB = textwrap.dedent(
    """
    import json, os, shlex, shutil, sys
    state = os.environ["FAKE_ADB_STATE"]
    fixtures = os.environ["FAKE_ADB_FIXTURES"]
    args = sys.argv[1:]
    with open(os.path.join(state, "calls.jsonl"), "a") as log:
        log.write(json.dumps(args) + "\\n")
    if args[:1] == ["-s"]:
        args = args[2:]
    offline = os.path.join(state, "offline")
    if os.path.exists(offline):
        left = int(open(offline).read())
        if left > 0:
            open(offline, "w").write(str(left - 1))
            sys.stderr.write("error: device offline\\n")
            sys.exit(1)
    phone = os.path.join(state, "phone")
    def on_phone(path):
        return os.path.join(phone, path.lstrip("/"))
    if args[0] == "push":
        os.makedirs(os.path.dirname(on_phone(args[2])), exist_ok=True)
        shutil.copy(args[1], on_phone(args[2]))
        print(f"{args[1]}: 1 file pushed, 0 skipped. 41.3 MB/s (10492 bytes in 0.000s)")
        sys.exit(0)
    command = args[1]
    words = shlex.split(command)
    if words[:2] == ["mkdir", "-p"]:
        path = words[-1]
        if os.path.exists(on_phone(path)):
            print(path)
            sys.exit(0)
        print(f"ls: {path}: No such file or directory")
        sys.exit(1)
    if "uname -srm" in command:
        # A device shell may print before the command's own output.
        print("WARNING: linker: unused DT entry")
        print(command.split("'")[1])
        print("Linux 4.14.190-perf-g3f6e3d2 aarch64")
        print("Hardware\\t: Qualcomm Technologies, Inc SM8150")
        print("8")
        sys.exit(0)
    graph = [w for w in words if w.startswith("--graph=")][0][len("--graph="):]
    if not os.path.exists(on_phone(graph)):
        print(f"ERROR: Could not open '{graph}'.")
        sys.exit(1)
    name = "rpi4_quicknet_profile_xnnpack.txt" if "--enable_op_profiling=true" in words \\
        else "android_pixel_run.txt"
    sys.stdout.write(open(os.path.join(fixtures, name)).read())
    """
)


@pytest.fixture
def phone(tmp_path, monkeypatch):
    script = tmp_path / "fake_adb.py"
    script.write_text(FAKE_ADB)
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("FAKE_ADB_STATE", str(state))
    monkeypatch.setenv("FAKE_ADB_FIXTURES", str(FIXTURES))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    device = get_device(
        "android",
        adb=f"{sys.executable} {script}",
        serial="FA8X1 0001",
        retry_backoff_s=0.01,
        engine_version="0.16.0",
    )

    def calls() -> list[list[str]]:
        lines = (state / "calls.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    return device, state, calls


def test_measurement_from_recorded_phone_output(phone, tiny_tflite):
    device, _, calls = phone
    m = measure(tiny_tflite, device)
    assert m.median_ms == pytest.approx(25.5123)
    assert m.runs == 40 * len(m.samples_ms) and len(m.samples_ms) >= 3
    assert (m.engine, m.engine_version, m.device) == ("lce_benchmark_model", "0.16.0", "android")
    assert m.host_facts["cpu_model"] == "Qualcomm Technologies, Inc SM8150"
    assert m.host_facts["machine"] == "aarch64" and m.host_facts["cpu_count"] == 8
    assert m.host_facts["init_ms"] == pytest.approx(96.402)

    sha = hashlib.sha256(tiny_tflite.read_bytes()).hexdigest()
    remote = f"/data/local/tmp/lce-nas/{sha}.tflite"
    recorded = calls()
    assert all(c[:2] == ["-s", "FA8X1 0001"] for c in recorded)
    pushes = [c for c in recorded if c[2] == "push"]
    assert len(pushes) == 1 and pushes[0][4] == remote
    runs = [shlex.split(c[3]) for c in recorded if c[2] == "shell" and "--graph=" in c[3]]
    assert runs[0] == [
        "/data/local/tmp/lce_benchmark_model",
        f"--graph={remote}",
        "--num_threads=1",
        "--warmup_runs=5",
        "--num_runs=20",
        "--use_xnnpack=true",
        "--use_indirect_bgemm=false",
    ]

    # The model is on the phone now: a second measurement does not push it again.
    measure(tiny_tflite, device, max_seconds=1)
    assert len([c for c in calls() if c[2] == "push"]) == 1


def test_profile_and_breakdown(phone, tiny_tflite):
    device, _, _ = phone
    m = measure(tiny_tflite, device, profile=True, max_seconds=1)
    assert len(m.op_profile) == 49
    assert m.op_profile[0].op_type == "TfLiteXNNPackDelegate"
    assert m.op_profile[0].category == "first_layer"
    assert m.op_profile[-1].category == "last_layer"
    assert m.breakdown_ms["binary_conv"] > m.breakdown_ms["last_layer"] > 0
    assert sum(m.breakdown_ms.values()) == pytest.approx(40.619, abs=1e-3)


def test_offline_device_is_retried_then_reported(phone, tiny_tflite):
    device, state, _ = phone
    notices: list[str] = []
    (state / "offline").write_text("2")
    m = measure(tiny_tflite, device, max_seconds=1, warn=notices.append)
    assert m.median_ms > 0
    assert len(notices) == 2 and "device offline" in notices[0] and "retrying" in notices[0]

    (state / "offline").write_text("99")
    with pytest.raises(UserError, match=r"lost device 'android'.*gave up after 3 tries"):
        measure(tiny_tflite, device, max_seconds=1, warn=notices.append)


def test_missing_adb_binary(tmp_path, tiny_tflite, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    device = get_device("android", adb=str(tmp_path / "no-adb-here"))
    with pytest.raises(UserError, match="adb not found"):
        measure(tiny_tflite, device)
