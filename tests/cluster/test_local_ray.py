"""The local Ray a search starts: loopback only, token required, private token, no secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from lce_nas.engine.devices import get_device
from lce_nas.workers import Pool
from lce_nas.workers.ray_setup import check_ray_version, private_token, worker_env
from ray_support import descendants, listening, try_client

from lce_nas.cli import main
from lce_nas.errors import UserError

PASSWORD = "pw-that-must-stay-home"


def test_a_ray_without_authentication_is_refused():
    with pytest.raises(UserError, match=r"install ray>=2\.52"):
        check_ray_version("2.51.1")
    with pytest.raises(UserError, match="has no authentication"):
        check_ray_version("2.9.3")
    assert check_ray_version("2.52.0") == "2.52.0"
    assert check_ray_version("3.0.0rc1") == "3.0.0rc1"


def test_the_search_refuses_an_old_ray_in_one_line(tmp_path, monkeypatch):
    import ray

    monkeypatch.setattr(ray, "__version__", "2.47.1")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["search", "--trials", "1", "--db", f"sqlite:///{tmp_path / 'x.db'}"]
    )
    assert result.exit_code == 2
    assert result.output.startswith("error: Ray 2.47.1 has no authentication")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_a_token_file_readable_by_others_is_made_private(tmp_path):
    token = tmp_path / "auth_token"
    token.write_text("x" * 32)
    token.chmod(0o644)
    said: list[str] = []
    private_token(token, said.append)
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert said and "readable by its owner only" in said[0]
    private_token(token, said.append)
    assert len(said) == 1  # already private: nothing to say


def test_workers_get_only_the_settings_they_need(monkeypatch):
    monkeypatch.setenv("LCE_NAS_DB", f"postgresql://me:{PASSWORD}@db/lce")
    monkeypatch.setenv("LCE_NAS_DASHBOARD_TOKEN", "t" * 20)
    monkeypatch.setenv("LCE_NAS_NATIVE_PORTABLE", "1")
    env = worker_env()
    assert env["LCE_NAS_NATIVE_PORTABLE"] == "1" and env["TF_USE_LEGACY_KERAS"] == "1"
    assert "LCE_NAS_DB" not in env and "LCE_NAS_DASHBOARD_TOKEN" not in env
    assert not any(PASSWORD in value for value in env.values())


@pytest.fixture(scope="module")
def local_pool():
    """A pool on a local Ray, started while the password sits in the environment."""
    url = f"postgresql+psycopg://me:{PASSWORD}@127.0.0.1:1/lce"
    secrets = {
        "LCE_NAS_DB": url,
        "PGPASSWORD": PASSWORD,
        "MY_APP_DATABASE": f"dsn with {PASSWORD} inside",
        "LCE_NAS_DASHBOARD_TOKEN": "dashboard-token-" + "x" * 8,
    }
    saved = {k: os.environ.get(k) for k in secrets}
    os.environ.update(secrets)
    device = get_device("host", max_seconds=1.0, min_seconds=0.2, min_runs=3, warmup_runs=1)
    pool = Pool(device, url, device_wait_s=60)
    try:
        yield pool
    finally:
        pool.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _remote(function):
    """``function`` as a Ray task, shipped by value (workers cannot import test modules)."""
    import sys

    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return ray.remote(num_cpus=0)(function)


def _worker_pid() -> int:
    return os.getpid()


def _worker_environ() -> dict[str, str]:
    return dict(os.environ)


def _ray_processes() -> list[int]:
    return descendants(os.getpid())


def test_every_port_of_the_local_ray_is_on_loopback(local_pool):
    import ray

    pool = local_pool
    # Make Ray start the worker processes a search uses: a task and the device actor.
    assert ray.get(_remote(_worker_pid).remote()) > 0
    ray.get(pool.device_worker.pid.remote(), timeout=120)
    found = listening([*_ray_processes(), os.getpid()])
    assert len(found) >= 5, found  # GCS, raylet (2), the driver, workers
    assert all(address.startswith("127.0.0.1:") for address in found), found


def test_a_client_without_the_token_is_refused(local_pool, tmp_path):
    import ray

    address = ray.get_runtime_context().gcs_address
    token_path = os.environ["RAY_AUTH_TOKEN_PATH"]
    wrong = try_client(address, {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 32}, tmp_path)
    assert wrong.returncode != 0 and "InvalidAuthToken" in wrong.stderr
    none = try_client(address, {"RAY_AUTH_MODE": "disabled"}, tmp_path)
    assert none.returncode != 0 and "InvalidAuthToken" in none.stderr
    right = try_client(
        address, {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": token_path}, tmp_path
    )
    assert "ADMITTED" in right.stdout, right.stderr


def test_the_token_is_readable_by_its_owner_only(local_pool):
    token = Path(os.environ["RAY_AUTH_TOKEN_PATH"])
    assert os.environ["RAY_AUTH_MODE"] == "token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(token.parent.stat().st_mode) == 0o700
    # Ray's sockets and logs sit in that private folder too.
    import ray

    session = Path(ray._private.worker.global_worker.node.address_info["session_dir"])
    assert token.parent in session.parents


def test_no_ray_dashboard_is_started(local_pool):
    import ray

    assert ray._private.worker.global_worker.node.address_info["webui_url"] in ("", None)
    # Ray always runs a head process for its own bookkeeping; without a
    # dashboard it has no web frontend and no modules beyond usage statistics.
    heads = []
    for pid in _ray_processes():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"dashboard/dashboard.py") for part in command):
            heads.append(pid)
            assert b"--disable-frontend" in command
            assert b"--modules-to-load=UsageStatsHead" in command
    assert not any(pid in heads for pids in listening(heads).values() for pid in pids)


def test_no_ray_process_has_the_password_in_its_environment(local_pool):
    import ray

    pool = local_pool
    task_env = ray.get(_remote(_worker_environ).remote())
    assert task_env.get("RAY_AUTH_MODE") == "token"
    assert not [k for k, v in task_env.items() if PASSWORD in v]
    ray.get(pool.device_worker.pid.remote(), timeout=120)
    checked = 0
    for pid in _ray_processes():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        checked += 1
        assert PASSWORD.encode() not in environ, Path(f"/proc/{pid}/cmdline").read_bytes()
    assert checked >= 4
    # The driver's own environment is left as it was.
    assert PASSWORD in os.environ["LCE_NAS_DB"]
