"""Starting Ray safely: a local Ray closed to others, or a cluster joined with its token.

A local Ray (no ``--ray-address``) binds every port to 127.0.0.1, requires
Ray's token authentication with a fresh token in a folder only its owner can
read (which also holds Ray's sockets and logs), starts no Ray dashboard, and
never joins a cluster that ``ray start`` runs on the same machine. Joining a
cluster requires token authentication too, with the cluster's token.

Ray workers get only the settings they need: the database URL (and its
password) reaches them as a task argument through Ray's object store, never
through an environment variable, which Ray records with the job.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lce_nas.errors import UserError

#: Ray releases before this one have no authentication (CVE-2023-48022).
MIN_RAY_VERSION = (2, 52)
#: The tool's settings a worker may need; anything else (a database URL, a
#: dashboard token) stays with the driver.
WORKER_SETTINGS = (
    "LCE_NAS_FASHION_MNIST_DIR",
    "LCE_NAS_NATIVE_PORTABLE",
    "LCE_NAS_TEST_FAIL_TRAINING",
)
# Keras 2 for larq, quiet TensorFlow.
_WORKER_ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
# Settings that carry secrets, kept out of the environment of a local Ray's processes.
_SECRET_VARS = ("LCE_NAS_DB", "LCE_NAS_DASHBOARD_TOKEN", "PGPASSWORD", "RAY_AUTH_TOKEN")
# Ray reads this when it is imported and again when it picks the node's address:
# off, a node's address is loopback, and its servers listen there.
_CLUSTER_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
DEFAULT_TOKEN_PATH = Path.home() / ".ray" / "auth_token"


def check_ray_version(version: str | None = None) -> str:
    """The installed Ray's version, or a :class:`UserError` for one without authentication.

    Example:
        >>> check_ray_version("2.60.0")
        '2.60.0'
    """
    if version is None:
        import ray

        version = ray.__version__
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    if tuple(parts) < MIN_RAY_VERSION:
        need = ".".join(map(str, MIN_RAY_VERSION))
        raise UserError(
            f"Ray {version} has no authentication, so anyone who reaches its ports can run "
            f"code on this machine; install ray>={need} (pip install -U 'ray>={need}')"
        )
    return version


def worker_env() -> dict[str, str]:
    """The environment variables Ray workers are started with (``runtime_env``)."""
    forwarded = {k: os.environ[k] for k in WORKER_SETTINGS if k in os.environ}
    return {**forwarded, **_WORKER_ENV}


def secret_env_names(secrets_: tuple[str, ...] = ()) -> list[str]:
    """Environment variables that must not reach Ray's processes.

    The known secret settings, and any variable whose value contains one of
    ``secrets_`` (the database password, however it was configured).
    """
    names = [name for name in _SECRET_VARS if name in os.environ]
    for name, value in os.environ.items():
        if name not in names and any(s and s in value for s in secrets_):
            names.append(name)
    return names


def private_token(path: Path, notify: Callable[[str], None] | None = None) -> Path:
    """Make sure a token file is readable by its owner only (Ray writes them 0644).

    Example:
        >>> private_token(Path("~/.ray/auth_token").expanduser())  # doctest: +SKIP
        PosixPath('/home/me/.ray/auth_token')
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        try:
            path.chmod(0o600)
        except PermissionError:
            raise UserError(
                f"the Ray token {path} is readable by other users and is not yours to fix: "
                f"ask its owner to run chmod 600 {path}"
            ) from None
        if notify is not None:
            was = f"{mode & 0o777:o}"
            notify(f"made the Ray token {path} readable by its owner only (it was {was})")
    return path


def reload_auth_settings() -> None:
    """Make this process read RAY_AUTH_* again: Ray caches them when it is imported."""
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _apply(values: dict[str, str | None]) -> None:
    """Set each environment variable, or remove it where the value is None."""
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def _environment(changes: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for a block, then put them back."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        _apply(changes)
        yield
    finally:
        _apply(saved)


class LocalRay:
    """A Ray started for one search, closed to everyone but its owner.

    Example:
        >>> local = LocalRay(num_cpus=1, resources={"device:host": 1})  # doctest: +SKIP
        >>> local.start(secrets_=("db-password",))  # doctest: +SKIP
        >>> local.stop()  # doctest: +SKIP
    """

    def __init__(self, num_cpus: int, resources: dict[str, float]) -> None:
        self.num_cpus = num_cpus
        self.resources = resources
        self.folder: Path | None = None
        self._restore: dict[str, str | None] = {}

    @property
    def token_path(self) -> Path:
        """The token file of this Ray (mode 0600 in a folder of mode 0700)."""
        assert self.folder is not None
        return self.folder / "auth_token"

    def start(self, secrets_: tuple[str, ...] = ()) -> None:
        """Start Ray's processes on 127.0.0.1 with a fresh token; secrets stay out of them."""
        import ray
        from ray._private import ray_constants

        check_ray_version(ray.__version__)
        # Short: Ray's socket paths below it must fit in 107 characters. Ray
        # opens its own folder inside to everyone (0777); this one stays 0700.
        self.folder = Path(tempfile.mkdtemp(prefix="lce-nas-ray-"))
        fd = os.open(self.token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        # The driver keeps talking to its Ray with this token until it stops it.
        auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_path)}
        self._restore = {name: os.environ.get(name) for name in (*auth, "RAY_AUTH_TOKEN")}
        os.environ.update(auth)
        os.environ.pop("RAY_AUTH_TOKEN", None)
        reload_auth_settings()
        hidden: dict[str, str | None] = dict.fromkeys(secret_env_names(secrets_))
        during_start = {
            **hidden,
            "RAY_ADDRESS": None,
            _CLUSTER_SWITCH: "0",
            "RAY_USAGE_STATS_ENABLED": "0",  # nothing leaves the machine
        }
        was_cluster = ray_constants.ENABLE_RAY_CLUSTER
        try:
            with _environment(during_start):
                ray_constants.ENABLE_RAY_CLUSTER = False
                ray.init(
                    address="local",
                    num_cpus=self.num_cpus,
                    resources=self.resources,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    _temp_dir=str(self.folder / "ray"),
                    logging_level=logging.ERROR,
                    log_to_driver=False,
                    runtime_env={"env_vars": worker_env()},
                )
        except BaseException:
            self.stop()
            raise
        finally:
            ray_constants.ENABLE_RAY_CLUSTER = was_cluster

    def stop(self) -> None:
        """Stop Ray, delete its folder (token, sockets, logs) and restore the environment."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
        _apply(self._restore)
        if self._restore:
            reload_auth_settings()
        self._restore = {}
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def join_cluster(address: str, notify: Callable[[str], None] | None = None) -> None:
    """Connect to the Ray cluster at ``address`` with its token (one-line errors).

    The token comes from ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or
    ``~/.ray/auth_token``, as Ray reads it; a token file readable by others
    is made private first.
    """
    import ray

    check_ray_version(ray.__version__)
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or DEFAULT_TOKEN_PATH).expanduser()
    private_token(path, notify)
    if not os.environ.get("RAY_AUTH_TOKEN") and not path.is_file():
        raise UserError(
            f"no Ray token to join the cluster at {address}: copy the head's "
            f"~/.ray/auth_token to {path} (chmod 600), or point RAY_AUTH_TOKEN_PATH at it"
        )
    os.environ["RAY_AUTH_MODE"] = "token"
    reload_auth_settings()
    try:
        ray.init(
            address=address,
            logging_level=logging.ERROR,
            log_to_driver=False,
            runtime_env={"env_vars": worker_env()},
        )
    except Exception as err:
        text = str(err).strip().splitlines()
        line = text[-1] if text else type(err).__name__
        if "auth" in str(err).lower():
            raise UserError(
                f"the Ray cluster at {address} refused this machine's token ({line}); "
                f"copy the head's ~/.ray/auth_token to {path}"
            ) from None
        raise UserError(
            f"cannot join the Ray cluster at {address}: {line} "
            "(check the address, or leave out --ray-address to start a local Ray)"
        ) from None
