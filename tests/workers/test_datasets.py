"""Datasets: Fashion-MNIST from the Debian package, user .npz and image folders, TFDS, splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lce_nas.workers.datasets import (
    FASHION_MNIST_DIR,
    SPLIT_SEED,
    DatasetSpec,
    dataset_name,
    load_dataset,
    read_idx,
    to_proxy_size,
)
from workers_support import image_index

from lce_nas.errors import UserError


def test_fashion_mnist_from_the_debian_package():
    assert (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file()
    raw = read_idx(FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    assert raw.shape == (10000,) and set(np.unique(raw)) == set(range(10))

    data = load_dataset("fashion-mnist", validation_images=5000)
    assert data.input_shape == (32, 32, 1) and data.classes == 10
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (55000, 5000, 10000)
    x, y = data.train_subset(1000, seed=0)
    assert x.shape == (1000, 32, 32, 1) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == 1.0
    # 28x28 padded by 2 with the background value on every side.
    assert np.all(x[:, :2] == -1.0) and np.all(x[:, -2:] == -1.0)
    assert np.all(x[:, :, :2] == -1.0) and np.all(x[:, :, -2:] == -1.0)
    assert len(np.unique(y)) == 10
    # Fashion-MNIST's test set is kept whole, untouched by the validation split.
    test_x, test_y = data.test()
    assert test_x.shape == (10000, 32, 32, 1)
    assert np.array_equal(test_y, raw)


def test_missing_fashion_mnist_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("LCE_NAS_FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(UserError) as err:
        load_dataset("fashion-mnist")
    message = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "--dataset npz:" in message and "\n" not in message


def test_npz_dataset_is_padded_normalised_and_split(numbered_npz):
    data = load_dataset(f"npz:{numbered_npz}", validation_images=100)
    assert data.input_shape == (32, 32, 1) and data.classes == 3
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (500, 100, 90)
    x_val, y_val = data.validation()
    x_train, y_train = data.train_subset(10_000, seed=0)  # more than there are: all
    assert len(y_train) == 500
    # 20x20 centred in 32x32: the written index sits at offset 6.
    val_ids, train_ids = image_index(x_val, 6), image_index(x_train, 6)
    assert set(val_ids).isdisjoint(train_ids)
    assert set(val_ids) | set(train_ids) == set(range(600))
    assert np.array_equal(y_val, val_ids % 3) and np.array_equal(y_train, train_ids % 3)


def test_splits_and_subsets_are_deterministic(numbered_npz):
    from lce_nas.workers import datasets

    first = load_dataset(f"npz:{numbered_npz}", validation_images=100)
    assert load_dataset(f"npz:{numbered_npz}", validation_images=100) is first  # cached
    datasets._load_cached.cache_clear()
    second = load_dataset(f"npz:{numbered_npz}", validation_images=100)
    assert second is not first
    assert np.array_equal(first.x_val, second.x_val)
    assert np.array_equal(first.x_train, second.x_train)
    # The split depends on the fixed split seed only, never on a training seed.
    expected = np.random.default_rng(SPLIT_SEED).permutation(600)[:100]
    assert np.array_equal(image_index(first.validation()[0], 6), expected)

    a = image_index(first.train_subset(50, seed=3)[0], 6)
    b = image_index(second.train_subset(50, seed=3)[0], 6)
    c = image_index(first.train_subset(50, seed=4)[0], 6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert len(set(a)) == 50


def test_image_folder_dataset(image_folder):
    data = load_dataset(f"folder:{image_folder}", validation_images=4)
    # 24 images, a fixed 20 % (5) held out as the test set, 4 for validation.
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (15, 4, 5)
    assert data.input_shape == (32, 32, 3) and data.classes == 3
    x, y = data.train_subset(15, seed=0)
    # Class folders in sorted order: apple 0 (red), leaf 1 (green), sky 2 (blue).
    centre = x[:, 16, 16, :]
    assert np.array_equal(np.argmax(centre, axis=1), y)


def test_image_folder_with_train_and_test(image_folder, tmp_path):
    root = tmp_path / "split"
    for part in ("train", "test"):
        (root / part).mkdir(parents=True)
        for cls in image_folder.iterdir():
            (root / part / cls.name).symlink_to(cls, target_is_directory=True)
    data = load_dataset(f"folder:{root}?size=16", validation_images=6)
    assert data.input_shape == (16, 16, 3)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (18, 6, 24)


def test_tfds_without_the_package_or_data_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(UserError) as err:
        load_dataset("tfds:cifar10")
    message = str(err.value)
    assert "tfds:cifar10" in message and "\n" not in message
    try:
        import tensorflow_datasets  # noqa: F401
    except ImportError:
        assert "pip install tensorflow-datasets" in message
    assert "tfds build cifar10" in message


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("imagenet", "unknown dataset"),
        ("npz:", "needs a location"),
        ("fashion-mnist:/x", "takes no location"),
        ("fashion-mnist?size=4", "?size=N"),
        ("fashion-mnist?colour=1", "?size=N"),
    ],
)
def test_bad_specs(spec, fragment):
    with pytest.raises(UserError, match=None) as err:
        DatasetSpec.parse(spec)
    assert fragment in str(err.value)


def test_missing_user_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_dataset(f"npz:{tmp_path / 'none.npz'}")
    with pytest.raises(UserError, match="not found"):
        load_dataset(f"folder:{tmp_path / 'none'}")
    np.savez(tmp_path / "half.npz", x_train=np.zeros((4, 8, 8)), y_train=np.zeros(4, int))
    with pytest.raises(UserError, match="x_test"):
        load_dataset(f"npz:{tmp_path / 'half.npz'}")


def test_spec_names_are_canonical(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert dataset_name("") == "fashion-mnist"
    assert dataset_name("fashion-mnist?size=32") == "fashion-mnist"
    assert dataset_name("npz:data.npz?size=64") == f"npz:{Path(tmp_path) / 'data.npz'}?size=64"


def test_large_images_are_resized_small_ones_padded():
    big = np.full((2, 64, 48, 3), 200, np.uint8)
    assert to_proxy_size(big, 32).shape == (2, 32, 32, 3)
    assert np.all(to_proxy_size(big, 32) == 200)
    floats = np.linspace(0.0, 1.0, 2 * 10 * 10).reshape(2, 10, 10)
    small = to_proxy_size(floats, 16)
    assert small.shape == (2, 16, 16, 1) and small.dtype == np.uint8 and small.max() == 255
