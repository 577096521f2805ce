"""A real multi-node Ray cluster on this machine (Ray's own ``cluster_utils``), with its token.

Each node is a real raylet (the head also runs the GCS) started from this
test process; a search joins it from a subprocess with ``--ray-address`` and
the cluster's token, as a user's machine would. A node that times on the host
advertises ``device:host``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_support import running_server
from search_support import TINY_PROXY, fast_host_profile, lce_nas_command

FAST_HOST = fast_host_profile("host", max_seconds=1.5)


class RayCluster:
    """Ray's test cluster, with a private token and temp folder; nodes added and removed."""

    def __init__(self, folder: Path) -> None:
        import ray.cluster_utils
        from lce_nas.workers.ray_setup import reload_auth_settings

        self.folder = folder
        self.token_path = folder / "auth_token"
        fd = os.open(self.token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        self.env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_path)}
        self._saved = {k: os.environ.get(k) for k in (*self.env, "RAY_AUTH_TOKEN")}
        os.environ.update(self.env)
        os.environ.pop("RAY_AUTH_TOKEN", None)
        reload_auth_settings()
        # A test's cluster must not be found by other programs' plain ray.init()
        # on this machine (Ray writes its address to a shared file for that).
        utils = ray._private.utils
        self._write_address = utils.write_ray_address
        utils.write_ray_address = lambda *args, **kwargs: None
        self.cluster = ray.cluster_utils.Cluster(
            initialize_head=True, head_node_args=self._args(num_cpus=1)
        )

    def _args(self, **node_args):
        return {"temp_dir": str(self.folder / "ray"), "object_store_memory": 100 * 1024**2,
                **node_args}  # fmt: skip

    @property
    def address(self) -> str:
        return self.cluster.address

    @property
    def head_id(self) -> str:
        return self.cluster.head_node.node_id

    def add_node(self, **node_args):
        """A worker node (``num_cpus``, ``resources``...); returns Ray's node object."""
        return self.cluster.add_node(**self._args(**node_args))

    def remove_node(self, node) -> None:
        """Kill a node's processes at once, as a machine that drops off the network."""
        self.cluster.remove_node(node, allow_graceful=False)

    def shutdown(self) -> None:
        import ray
        from lce_nas.workers.ray_setup import reload_auth_settings

        try:
            self.cluster.shutdown()
        finally:
            ray._private.utils.write_ray_address = self._write_address
            for k, v in self._saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            reload_auth_settings()
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def ray_cluster() -> Iterator[RayCluster]:
    """A fresh cluster per test: a head with one CPU (nodes are added by the test)."""
    # Short: Ray's socket paths below it must fit in 107 characters.
    cluster = RayCluster(Path(tempfile.mkdtemp(prefix="lce-nas-rc-")))
    try:
        yield cluster
    finally:
        cluster.shutdown()


class ClusterWorkspace:
    """A folder with a fast ``host`` profile, and ``lce-nas search`` joining a cluster."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "lce-nas.toml").write_text(FAST_HOST)

    def search_args(self, db: str, study: str, address: str, *extra: str) -> list[str]:
        # Small deploy models: these tests are about placement and failures, and a 224 px
        # candidate of 100 M parameters would spend a minute converting.
        return lce_nas_command(
            "search", "--device", "host", "--study-name", study, "--ray-address", address,
            "--input-shape", "64x64x3", "--classes", "10", *TINY_PROXY, *extra, db=db,
        )  # fmt: skip

    def env(self, cluster: RayCluster) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "LCE_NAS_DB"))}
        return {**base, **cluster.env, "COLUMNS": "200"}

    def start(self, args: list[str], cluster: RayCluster) -> subprocess.Popen:
        return subprocess.Popen(
            args,
            cwd=self.root,
            env=self.env(cluster),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, args: list[str], cluster: RayCluster, timeout: float = 900):
        return subprocess.run(
            args, cwd=self.root, env=self.env(cluster), capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip


@pytest.fixture
def workspace(tmp_path) -> ClusterWorkspace:
    return ClusterWorkspace(tmp_path)


@pytest.fixture(scope="module")
def restartable_postgres():
    """A PostgreSQL server of this module's own, so a test may restart it."""
    with running_server() as server:
        yield server
