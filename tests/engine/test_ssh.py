"""SSH devices against a real OpenSSH server on loopback, with ``lce-nas benchmark-model``
as the device-side binary."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from engine_support import LCE_NAS, run_cli, ssh_profile, start_sshd


def _bench(cwd: Path, model: Path, *extra: str):
    return run_cli(
        "bench", str(model), "--device", "loopback", "--json", "--db", f"sqlite:///{cwd}/t.db",
        *extra, cwd=cwd,
    )  # fmt: skip


def test_bench_over_ssh_returns_full_measurement(sshd, tiny_tflite, tmp_path):
    remote = tmp_path / "remote"
    (tmp_path / "lce-nas.toml").write_text(ssh_profile(sshd, remote))
    proc = _bench(tmp_path, tiny_tflite)
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    sha = hashlib.sha256(tiny_tflite.read_bytes()).hexdigest()
    assert m["source"] == "measured"
    assert m["device"] == "loopback"
    assert m["engine"] == "lce_benchmark_model" and m["engine_version"] == "0.16.0"
    assert m["model_sha256"] == sha and m["fingerprint"] == f"tflite:{sha}"
    assert 0 < m["p10_ms"] <= m["median_ms"] <= m["p90_ms"]
    assert m["cv"] >= 0 and m["std_ms"] >= 0
    # Samples are per-call means; runs counts every timed inference of every call.
    assert len(m["samples_ms"]) >= 3
    assert m["runs"] >= 5 * len(m["samples_ms"])
    assert m["kernel_options"] == {
        "use_indirect_bgemm": True,
        "use_reference_bconv": False,
        "use_xnnpack": True,
    }
    facts = m["host_facts"]
    assert facts["kernel"].startswith("Linux") and facts["machine"]
    assert facts["cpu_count"] >= 1 and facts["calls"] == len(m["samples_ms"])
    # The model sits on the device under its content address, and nothing else is left.
    assert sorted(p.name for p in remote.iterdir()) == [f"{sha}.tflite"]
    stamp = (remote / f"{sha}.tflite").stat().st_mtime_ns

    again = _bench(tmp_path, tiny_tflite)
    assert json.loads(again.stdout)["source"] == "cache", again.stderr
    fresh = _bench(tmp_path, tiny_tflite, "--fresh")
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout)["source"] == "measured"
    assert (remote / f"{sha}.tflite").stat().st_mtime_ns == stamp  # copy skipped


def test_unknown_host_key_is_refused_by_default(sshd, tiny_tflite, tmp_path):
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    (tmp_path / "lce-nas.toml").write_text(
        ssh_profile(sshd, tmp_path / "remote", known_hosts=str(empty))
    )
    proc = _bench(tmp_path, tiny_tflite)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: host key of [127.0.0.1]:")
    assert "unknown" in proc.stderr and "trust_on_first_use" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "remote").exists()  # nothing ran on the device
    assert empty.read_text() == ""


def test_trust_on_first_use_records_the_key(sshd, tiny_tflite, tmp_path):
    known = tmp_path / "fresh_known_hosts"
    (tmp_path / "lce-nas.toml").write_text(
        ssh_profile(
            sshd,
            tmp_path / "remote",
            known_hosts=str(known),
            trust_on_first_use=True,
            keep_models=False,
        )
    )
    proc = _bench(tmp_path, tiny_tflite, "--max-seconds", "5")
    assert proc.returncode == 0, proc.stderr
    key_b64 = sshd.host_key_line.split()[2]
    assert key_b64 in known.read_text()
    assert list((tmp_path / "remote").iterdir()) == []  # keep_models = false cleans up


def test_changed_host_key_is_refused_even_with_tofu(sshd, tiny_tflite, tmp_path):
    other = start_sshd(tmp_path / "other")
    try:
        wrong = tmp_path / "wrong_known_hosts"
        # The other server's key, filed under this server's address.
        wrong.write_text(other.host_key_line.replace(f":{other.port}", f":{sshd.port}") + "\n")
    finally:
        other.stop()
    (tmp_path / "lce-nas.toml").write_text(
        ssh_profile(sshd, tmp_path / "remote", known_hosts=str(wrong), trust_on_first_use=True)
    )
    proc = _bench(tmp_path, tiny_tflite)
    assert proc.returncode == 2
    assert "CHANGED" in proc.stderr and proc.stderr.startswith("error: ")


def _wait_for(predicate, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_sshd_stopped_mid_run_retries_then_fails_clearly(own_sshd, tiny_tflite, tmp_path):
    (tmp_path / "lce-nas.toml").write_text(
        ssh_profile(own_sshd, tmp_path / "remote", retries=3, retry_backoff_s=0.2)
    )
    bench = subprocess.Popen(
        [LCE_NAS, "bench", str(tiny_tflite), "--device", "loopback", "--db",
         f"sqlite:///{tmp_path}/t.db"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / ".config")},
    )  # fmt: skip

    def benchmark_running() -> bool:
        for pid in own_sshd.descendants():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"benchmark-model" in cmdline and b"--graph=" in cmdline:
                return True
        return False

    _wait_for(benchmark_running)
    own_sshd.stop()
    _, stderr = bench.communicate(timeout=120)
    assert bench.returncode == 2, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    retries = [ln for ln in lines if "retrying in" in ln]
    assert len(retries) == 2, stderr  # tries 2 and 3
    assert "0.2 s" in retries[0] and "0.4 s" in retries[1]  # exponential backoff
    assert lines[-1].startswith("error: lost device 'loopback' (")
    assert "gave up after 3 tries" in lines[-1]


def test_model_path_with_spaces_and_quotes_injects_nothing(sshd, tiny_tflite, tmp_path):
    odd_dir = tmp_path / 'it\'s a "dir" $(touch pwned1)'
    odd_dir.mkdir()
    model = odd_dir / "my model 'v1' \"q\"; touch pwned2 `touch pwned3`.tflite"
    shutil.copy(tiny_tflite, model)
    remote = tmp_path / "remote dir 'x' \"y\" $(touch pwned4); touch pwned5"
    (tmp_path / "lce-nas.toml").write_text(ssh_profile(sshd, remote))
    proc = _bench(tmp_path, model, "--max-seconds", "5")
    assert proc.returncode == 0, proc.stderr
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    assert (remote / f"{sha}.tflite").read_bytes() == model.read_bytes()
    # The remote shell starts in the login directory; the client runs here.
    places = [tmp_path, Path("~").expanduser(), Path("/"), Path.cwd()]
    planted = list(tmp_path.rglob("pwned*")) + [p for d in places[1:] for p in d.glob("pwned*")]
    assert planted == []


def test_profile_over_ssh_gives_breakdown(sshd, tiny_tflite, tmp_path):
    # The device-side tool prints op tables when it runs the native engine.
    binary = f"{LCE_NAS} benchmark-model --engine=native"
    (tmp_path / "lce-nas.toml").write_text(
        ssh_profile(sshd, tmp_path / "remote", benchmark_binary=binary)
    )
    proc = _bench(tmp_path, tiny_tflite, "--profile", "--max-seconds", "3")
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    types = [row["op_type"] for row in m["op_profile"]]
    assert types[:3] == ["CONV_2D", "LceQuantize", "LceBconv2d"] and len(types) == 10
    assert m["op_profile"][0]["category"] == "first_layer"
    assert m["op_profile"][-1]["category"] == "last_layer"
    assert set(m["breakdown_ms"]) == {"first_layer", "binary_conv", "glue", "last_layer"}
    assert m["breakdown_ms"]["binary_conv"] > 0


def test_builtin_rpi4_completed_by_device_host(sshd, tiny_tflite, tmp_path):
    # Keys and the device-side tool come from the file; host, user and port from the flag.
    (tmp_path / "lce-nas.toml").write_text(
        "[devices.rpi4]\n"
        f'identity_file = "{sshd.client_key}"\n'
        f'known_hosts = "{sshd.known_hosts}"\n'
        f'benchmark_binary = "{LCE_NAS} benchmark-model"\n'
        f'remote_dir = "{tmp_path / "pi"}"\n'
        "batch_runs = 5\n"
    )
    proc = run_cli(
        "bench", str(tiny_tflite), "--device", "rpi4", "--device-host",
        f"{sshd.user}@127.0.0.1:{sshd.port}", "--threads", "2", "--json", "--max-seconds", "3",
        "--db", f"sqlite:///{tmp_path}/t.db", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    assert (m["device"], m["threads"], m["engine_version"]) == ("rpi4", 2, "unknown")
    # rpi4's own defaults: LCE's aarch64 kernels, not the x86 indirect BGEMM path.
    assert m["kernel_options"]["use_indirect_bgemm"] is False
