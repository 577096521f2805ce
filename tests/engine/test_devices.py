"""Device profiles: built-ins, the two TOML files, overrides, incomplete profiles."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest
from engine_support import run_cli
from lce_nas.engine.devices import (
    AdbDevice,
    HostDevice,
    RemoteDevice,
    SshDevice,
    get_device,
    list_devices,
    machine_cpus,
    parse_device_host,
)

from lce_nas.errors import UserError


@pytest.fixture
def config_dirs(tmp_path, monkeypatch):
    """Run in an empty project directory with an empty per-user config."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    user_file = tmp_path / ".config" / "lce-nas" / "devices.toml"
    user_file.parent.mkdir(parents=True)
    return tmp_path / "lce-nas.toml", user_file


def test_builtins(config_dirs):
    devices = {d.name: d for d in list_devices()}
    assert list(devices) == ["host", "rpi4", "android"]
    host = devices["host"]
    assert (host.kind, host.engine, host.threads, host.origin) == ("host", "lce", 1, "built-in")
    assert host.kernel_options == {
        "use_indirect_bgemm": True,
        "use_reference_bconv": False,
        "use_xnnpack": True,
    }
    assert devices["rpi4"].kind == "ssh" and devices["rpi4"].missing() == ["host", "user"]
    assert devices["android"].kind == "adb"


def test_host_reserves_the_last_core_by_default(config_dirs):
    cores = machine_cpus()
    assert set(cores) >= set(os.sched_getaffinity(0))
    assert get_device("host").reserved_cpus == (cores[-1],)
    assert get_device("host", threads=len(cores)).reserved_cpus == tuple(cores)
    assert get_device("host", cpus=(0,)).reserved_cpus == (0,)
    assert get_device("rpi4", host="h", user="u").reserved_cpus == ()


def test_reserved_cores_do_not_depend_on_the_callers_pinning(config_dirs):
    # A process pinned off the reserved core (as Ray workers are) must still
    # pin its timing worker to the reserved core, not to one of its own.
    script = (
        "import os\n"
        "from lce_nas.engine.devices import get_device\n"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "print(get_device('host').reserved_cpus)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == str(get_device("host").reserved_cpus)


def test_project_file_overrides_user_file_key_by_key(config_dirs):
    project, user = config_dirs
    user.write_text('[devices.rpi4]\nhost = "pi.user"\nuser = "alice"\nthreads = 2\n')
    project.write_text(
        '[devices.rpi4]\nhost = "pi.project"\n\n[devices.lab]\nkind = "ssh"\n'
        'host = "10.0.0.9"\nuser = "bob"\nport = 2222\n'
    )
    rpi4 = get_device("rpi4")
    assert (rpi4.host, rpi4.user, rpi4.threads) == ("pi.project", "alice", 2)
    assert rpi4.origin == f"built-in + {user} + ./lce-nas.toml"
    lab = get_device("lab", threads=4)
    assert (lab.address, lab.threads, lab.origin) == ("bob@10.0.0.9:2222", 4, "./lce-nas.toml")

    proc = run_cli("devices", cwd=project.parent, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"lab .*ssh.*bob@10\.0\.0\.9:2222.*\./lce-nas\.toml", proc.stdout)
    assert re.search(r"rpi4 .*pi\.project:22.*built-in \+", proc.stdout)


def test_incomplete_profile_gives_the_toml_line_to_add(config_dirs):
    project, _ = config_dirs
    with pytest.raises(UserError) as err:
        get_device("rpi4")
    message = str(err.value)
    assert "\n" not in message
    snippet = re.search(r"'(devices\.rpi4 = \{.*\})'", message).group(1)
    assert tomllib.loads(snippet) == {
        "devices": {"rpi4": {"host": "raspberrypi.local", "user": "pi"}}
    }
    # The line does what it says.
    project.write_text(snippet.replace("raspberrypi.local", "10.0.0.5") + "\n")
    assert get_device("rpi4").address == "pi@10.0.0.5:22"


def test_device_host_completes_rpi4(config_dirs):
    assert parse_device_host("pi@10.0.0.7:2222") == {"user": "pi", "host": "10.0.0.7", "port": 2222}
    device = get_device("rpi4", **parse_device_host("pi@10.0.0.7"))
    assert device.address == "pi@10.0.0.7:22"
    with pytest.raises(UserError, match="USER@HOST"):
        parse_device_host("pi@")


def test_bad_files_and_settings(config_dirs):
    project, _ = config_dirs
    project.write_text("[devices.x]\nkind = 'ssh'\nhots = 'typo'\n")
    with pytest.raises(UserError, match=r"unknown setting 'hots' for device 'x' in ./lce-nas.toml"):
        get_device("x")
    project.write_text("[devices.x]\nkind = 'host'\nthreads = 'two'\n")
    with pytest.raises(UserError, match="threads must be a int"):
        get_device("x")
    project.write_text("[devices.x\n")
    with pytest.raises(UserError, match="not valid TOML"):
        list_devices()
    project.write_text("[devices.x]\nthreads = 2\n")
    with pytest.raises(UserError, match="needs kind = one of host, ssh, adb"):
        get_device("x")
    project.write_text("[devices.x]\nkind = 'host'\nengine = 'tpu'\n")
    with pytest.raises(UserError, match="engine must be lce or native"):
        get_device("x")


def test_unknown_device(config_dirs):
    with pytest.raises(UserError, match=r"unknown device 'nope' \(known: host, rpi4, android\)"):
        get_device("nope")


def test_each_kind_is_its_own_typed_config(config_dirs):
    host = get_device("host", engine="native")
    pi = get_device("rpi4", host="10.0.0.7", user="pi")
    phone = get_device("android", serial="R58M12345")
    assert (type(host), type(pi), type(phone)) == (HostDevice, SshDevice, AdbDevice)
    assert isinstance(pi, RemoteDevice) and isinstance(phone, RemoteDevice)
    assert not isinstance(host, RemoteDevice)
    # Settings of one kind are not attributes of another.
    assert not hasattr(host, "port") and not hasattr(phone, "host") and not hasattr(pi, "cpus")
    assert host.kernel_options == {} and host.times_ops
    assert not get_device("host").times_ops and pi.times_ops
    assert (pi.engine, phone.engine) == ("lce_benchmark_model", "lce_benchmark_model")
    assert phone.address == "R58M12345"
    spec = pi.to_spec()
    assert spec["kind"] == "ssh" and spec["host"] == "10.0.0.7" and "cpus" not in spec
    assert get_device("host", cpus=(1,)).to_spec()["cpus"] == [1]
    keyed = get_device("rpi4", host="h", user="u", identity_file="~/.ssh/lab")
    assert "identity_file" not in keyed.to_spec()


def test_settings_of_another_kind_are_refused(config_dirs):
    project, _ = config_dirs
    project.write_text("[devices.host]\nport = 2222\n")
    with pytest.raises(UserError, match=r"device 'host' .*: port does not apply to host devices"):
        get_device("host")
    with pytest.raises(UserError, match=r"host, user do not apply to adb devices"):
        get_device("android", host="h", user="u")


@pytest.mark.parametrize("port", [0, 65536, 99999, -1])
def test_ssh_port_out_of_range_is_refused(config_dirs, port):
    with pytest.raises(UserError, match=rf"port must be in 1\.\.65535, got {port}"):
        get_device("rpi4", host="h", user="u", port=port)
    assert get_device("rpi4", host="h", user="u", port=65535).port == 65535


def test_ssh_port_out_of_range_is_one_line_on_the_command_line(config_dirs, tiny_tflite):
    project, _ = config_dirs
    args = ("bench", str(tiny_tflite), "--device", "rpi4", "--device-host", "pi@10.0.0.7:99999")
    proc = run_cli(*args, cwd=project.parent)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "error: device 'rpi4': port must be in 1..65535, got 99999"
    project.write_text('[devices.lab]\nkind = "ssh"\nhost = "h"\nuser = "u"\nport = 99999\n')
    proc = run_cli("devices", cwd=project.parent)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "error: device 'lab': port must be in 1..65535, got 99999"
