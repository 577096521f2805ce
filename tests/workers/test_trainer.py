"""The proxy trainer: real training on Fashion-MNIST, the accuracy cache, failed training."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lce_nas.latency_db import LatencyStore
from lce_nas.space import get_space
from lce_nas.workers import trainer
from lce_nas.workers.trainer import ProxySettings, train_proxy
from training_failures import InjectedTrainingFailure, failing

from lce_nas.errors import UserError

# 63 steps of 32 images: enough for a QuickNetSmall-shaped proxy to learn
# Fashion-MNIST well above chance (about 0.7 here); a broken pipeline stays near 0.1.
TINY = ProxySettings(epochs=1, subset=2000, batch_size=32, width=0.25, validation_images=2000)


@pytest.fixture(scope="module")
def small_params() -> dict:
    space = get_space("quicknet")
    return space.to_params(space.preset("quicknet-small"))


@pytest.fixture(scope="module")
def store_url(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'lce-nas.db'}"


@pytest.fixture(scope="module")
def trained(small_params, store_url):
    """QuickNetSmall's proxy trained once with the tiny settings, recorded in a database."""
    return train_proxy("quicknet", small_params, TINY, "fashion-mnist", store_url)


def test_tiny_proxy_learns_fashion_mnist(trained, small_params):
    ev = trained.evaluation
    assert not trained.cached
    assert trained.top1 > 0.3, f"validation top-1 {trained.top1:.3f} is near chance (0.1)"
    assert ev.loss is not None and math.isfinite(ev.loss) and ev.loss < 2.0
    assert ev.epochs == 1 and ev.seed == 0 and ev.train_seconds > 0
    assert ev.dataset == "fashion-mnist"
    assert ev.proxy_settings == TINY.to_dict()
    assert ev.fingerprint == get_space("quicknet").fingerprint(
        get_space("quicknet").config_from_params(small_params)
    )
    assert trained.accuracy_attrs() == {
        "top1": ev.top1,
        "loss": ev.loss,
        "epochs": 1,
        "train_seconds": ev.train_seconds,
    }


def test_result_is_recorded_and_returned_from_cache_without_training(
    trained, small_params, store_url, monkeypatch
):
    with LatencyStore(store_url) as store:
        stored = store.lookup_accuracy(
            trained.evaluation.fingerprint, "fashion-mnist", TINY.to_dict()
        )
        assert stored is not None and stored.top1 == pytest.approx(trained.top1)
        assert store.architecture(trained.evaluation.fingerprint)["space"] == "quicknet"

    def no_training(*args, **kwargs):
        raise AssertionError("a cached candidate was trained again")

    monkeypatch.setattr(trainer, "_train", no_training)
    again = train_proxy("quicknet", small_params, TINY, "fashion-mnist", store_url)
    assert again.cached
    assert again.top1 == pytest.approx(trained.top1)
    assert again.evaluation.train_seconds == pytest.approx(trained.evaluation.train_seconds)


def test_other_settings_or_dataset_are_not_a_cache_hit(
    trained, small_params, store_url, monkeypatch
):
    monkeypatch.setattr(trainer, "_train", failing(trainer._train, "all"))
    with pytest.raises(InjectedTrainingFailure):
        train_proxy("quicknet", small_params, TINY.replace(seed=1), "fashion-mnist", store_url)
    with pytest.raises(InjectedTrainingFailure):
        train_proxy("quicknet", small_params, TINY, "fashion-mnist?size=28", store_url)


def test_the_test_plugin_fails_training_in_a_child_process_by_fingerprint(small_params):
    # What the search tests rely on: a child with the plug-in folder on its
    # path fails the selected candidates' training, and only theirs.
    from training_failures import subprocess_env

    fingerprint = get_space("quicknet").fingerprint(
        get_space("quicknet").config_from_params(small_params)
    )
    other = "0" * 12 if fingerprint[0] != "0" else "f" * 12
    script = (
        "from lce_nas.workers import trainer\n"
        "class ReachedTraining(Exception): pass\n"
        "def stop(): raise ReachedTraining('the real training started')\n"
        "trainer.configure_threads = stop  # the first step of the real training\n"
        "try:\n"
        f"    trainer._train(None, None, {fingerprint!r}, None, 'fashion-mnist')\n"
        "except Exception as err:\n"
        "    print(type(err).__name__, err)\n"
    )
    for wanted, failed in ((f"ffff, {fingerprint[:8]}", True), ("all", True), (other, False)):
        env = {**os.environ, **subprocess_env(wanted)}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout
        expected = "InjectedTrainingFailure" if failed else "ReachedTraining"
        assert out.startswith(expected), (wanted, out)
        if failed:
            assert fingerprint[:12] in out
    # Without the plug-in, the trainer has no such hook.
    assert not hasattr(trainer, "InjectedTrainingFailure")
    assert "LCE_NAS_TEST" not in Path(trainer.__file__).read_text()


def test_bop_flips_the_binary_kernels_and_adam_trains_the_rest():
    import larq as lq
    import numpy as np
    import tensorflow as tf
    from lce_nas.workers.datasets import load_dataset

    space = get_space("quicknet")
    config = space.config_from_params(
        {"section_blocks": [1, 1, 1, 1], "section_filters": [32, 32, 64, 64], "stem_filters": 8}
    )
    tf.keras.utils.set_random_seed(0)
    model = space.build_proxy(config, (32, 32, 1), 10, 0.25)
    binary = [v for v in model.trainable_variables if lq.optimizers.Bop.is_binary_variable(v)]
    assert len(binary) == 4  # one binary conv kernel per block
    dense = model.trainable_variables[-2]
    dense_before = dense.numpy().copy()
    assert not np.all(np.abs(binary[0].numpy()) == 1.0)  # glorot latent weights

    settings = ProxySettings(optimizer="bop", epochs=1, subset=64, batch_size=32)
    optimizer = trainer.make_optimizer(settings, steps=2)
    assert isinstance(optimizer, lq.optimizers.CaseOptimizer)
    assert isinstance(optimizer.default, tf.keras.optimizers.legacy.Adam)
    x, y = load_dataset("fashion-mnist").train_subset(64, seed=0)
    trainer.fit(model, optimizer, x, y, settings)
    # Bop keeps binary weights at exactly +-1; Adam moved the float ones.
    for kernel in binary:
        assert set(np.unique(kernel.numpy())) <= {-1.0, 1.0}
    assert not np.allclose(dense.numpy(), dense_before)


def test_settings_hash_and_validation():
    base = ProxySettings()
    assert base.to_dict() == ProxySettings.from_dict(base.to_dict()).to_dict()
    assert "bop_gamma" not in base.to_dict()
    assert "bop_gamma" in base.replace(optimizer="bop").to_dict()
    assert base.to_dict()["recipe"] == trainer.RECIPE_VERSION
    for bad in ({"epochs": 0}, {"width": 0.0}, {"optimizer": "sgd"}, {"batch_size": 0}):
        with pytest.raises(UserError):
            ProxySettings(**bad)


def test_thread_pools_follow_the_cpu_affinity():
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs at least 2 CPUs to see a difference")
    one_cpu = sorted(os.sched_getaffinity(0))[0]
    code = (
        "import os, lce_nas\n"
        f"os.sched_setaffinity(0, {{{one_cpu}}})\n"
        "from lce_nas.workers.trainer import configure_threads\n"
        "import tensorflow as tf\n"
        "print(configure_threads(), tf.config.threading.get_intra_op_parallelism_threads(),\n"
        "      tf.config.threading.get_inter_op_parallelism_threads())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.split() == ["1", "1", "1"]
