"""Engine test fixtures: real LCE models, a real OpenSSH server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_support import start_sshd


def _tiny_model():
    import tensorflow as tf
    from lce_nas.space.layers import binary_conv

    x = inp = tf.keras.Input((32, 32, 3))
    x = tf.keras.layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    for _ in range(2):
        y = binary_conv(32, 3)(x)
        y = tf.keras.layers.BatchNormalization()(y)
        x = tf.keras.layers.Add()([x, y])
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(10, activation="softmax")(x)
    return tf.keras.Model(inp, x)


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory) -> Path:
    """A small real LCE model: float stem, two binary residual blocks, dense head."""
    from lce_nas.engine.convert import convert_model

    path = tmp_path_factory.mktemp("models") / "tiny.tflite"
    path.write_bytes(convert_model(_tiny_model()))
    return path


@pytest.fixture(scope="session")
def quicknet_small_tflite(tmp_path_factory) -> Path:
    """QuickNetSmall at 224x224x3, 1000 classes, converted with LCE."""
    from lce_nas.engine.convert import convert_model
    from lce_nas.space import get_space

    space = get_space("quicknet")
    path = tmp_path_factory.mktemp("models") / "quicknet-small.tflite"
    path.write_bytes(convert_model(space.build_deploy(space.preset("quicknet-small"))))
    return path


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """One sshd for the session's SSH tests."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def own_sshd(tmp_path):
    """An sshd of this test alone (tests that kill it)."""
    server = start_sshd(tmp_path / "sshd")
    yield server
    if server.process.poll() is None:
        server.stop()
