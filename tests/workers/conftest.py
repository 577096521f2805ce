"""Fixtures for the dataset and proxy-trainer tests: small datasets written to disk."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from lce_nas.workers import datasets

# The test-only plug-in that fails training on purpose (tests/plugins/training_failures.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))


@pytest.fixture(autouse=True)
def _fresh_dataset_cache():
    """Each test loads its datasets anew (the loader caches per process)."""
    datasets._load_cached.cache_clear()
    yield
    datasets._load_cached.cache_clear()


@pytest.fixture
def numbered_npz(tmp_path: Path) -> Path:
    """An .npz of 20x20 grayscale uint8 images whose pixels spell their own index.

    Image ``i`` of the training set has ``i % 256`` in its first pixel and
    ``i // 256`` in its second, so a test can tell which images a split took.
    """
    rng = np.random.default_rng(1)
    x_train = rng.integers(0, 256, (600, 20, 20), dtype=np.uint8)
    x_train[:, 0, 0] = np.arange(600) % 256
    x_train[:, 0, 1] = np.arange(600) // 256
    y_train = np.arange(600) % 3
    x_test = rng.integers(0, 256, (90, 20, 20), dtype=np.uint8)
    y_test = np.arange(90) % 3
    path = tmp_path / "numbered.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """An image folder with 3 classes of 8 PNGs each, 40x40 RGB, coloured by class."""
    import tensorflow as tf

    import lce_nas  # noqa: F401  (Keras 2 before TensorFlow)

    root = tmp_path / "images"
    colours = {"apple": (255, 0, 0), "leaf": (0, 255, 0), "sky": (0, 0, 255)}
    for name, colour in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(8):
            image = np.zeros((40, 40, 3), np.uint8) + np.array(colour, np.uint8)
            image[i, :, :] = 128  # no two files alike
            (root / name / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    return root
