"""Image classification datasets for proxy training, named by a spec string.

A spec names where the images come from; it is small, so it travels to Ray
workers, and each worker process loads the pixels once and keeps them
(:func:`load_dataset` caches per process):

- ``fashion-mnist`` (the default): Fashion-MNIST from Debian's
  ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist/``),
  read with numpy, never downloaded; 28x28 images padded to 32x32x1.
- ``npz:/path/data.npz``: arrays ``x_train, y_train, x_test, y_test``; images
  ``(N, H, W)`` or ``(N, H, W, C)``, uint8 0..255 or floats.
- ``folder:/path/dir``: the ``tf.keras.utils.image_dataset_from_directory``
  layout (one sub-folder per class). With ``train/`` and ``test/`` sub-folders
  these are the two sets; otherwise a fixed 20 % of the images is the test set.
- ``tfds:NAME``: a TensorFlow Datasets dataset already prepared in the TFDS
  data directory (``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``); nothing is
  downloaded.

Any spec may end with ``?size=N`` for N x N proxy images (default 32): smaller
images are padded (centred), larger ones resized (an image folder's images are
all resized to N x N as Keras reads them). Pixels are kept as uint8 and
normalised to [-1, 1] when a subset is taken.

The validation set is carved from the training set with a fixed seed
(:data:`SPLIT_SEED`), so every training seed sees the same validation images;
the test set is left for a final evaluation.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lce_nas.errors import UserError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
DEFAULT_DATASET = "fashion-mnist"
DEFAULT_SIZE = 32
# The validation split does not depend on the training seed: all candidates
# and all seeds are judged on the same images.
SPLIT_SEED = 20210
FOLDER_TEST_FRACTION = 0.2
KINDS = ("fashion-mnist", "npz", "folder", "tfds")
_HOW_TO_POINT = "or choose another dataset with --dataset npz:FILE.npz, folder:DIR or tfds:NAME"


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's images come from, parsed from a spec string.

    Example:
        >>> DatasetSpec.parse("npz:/data/digits.npz?size=28")
        DatasetSpec(kind='npz', location='/data/digits.npz', size=28)
        >>> str(DatasetSpec.parse("fashion-mnist"))
        'fashion-mnist'
    """

    kind: str
    location: str = ""
    size: int = DEFAULT_SIZE

    @classmethod
    def parse(cls, text: str) -> DatasetSpec:
        """Parse ``kind[:location][?size=N]``; a bad spec is a :class:`UserError`."""
        text = (text or DEFAULT_DATASET).strip()
        body, _, query = text.partition("?")
        size = DEFAULT_SIZE
        if query:
            key, _, value = query.partition("=")
            if key != "size" or not value.isdigit() or not 8 <= int(value) <= 512:
                raise UserError(
                    f"bad dataset option {query!r} in {text!r}: only ?size=N (8..512) is known"
                )
            size = int(value)
        kind, _, location = body.partition(":")
        if kind not in KINDS:
            raise UserError(
                f"unknown dataset {text!r}: use fashion-mnist, npz:FILE.npz, "
                "folder:DIR or tfds:NAME"
            )
        if kind == "fashion-mnist" and location:
            raise UserError(f"fashion-mnist takes no location, got {text!r}")
        if kind != "fashion-mnist" and not location:
            raise UserError(f"dataset {kind!r} needs a location, e.g. {kind}:{_EXAMPLES[kind]}")
        if kind in ("npz", "folder"):
            location = os.path.abspath(os.path.expanduser(location))
        return cls(kind, location, size)

    def __str__(self) -> str:
        text = self.kind if not self.location else f"{self.kind}:{self.location}"
        return text if self.size == DEFAULT_SIZE else f"{text}?size={self.size}"


_EXAMPLES = {"npz": "/data/set.npz", "folder": "/data/images", "tfds": "cifar10"}


@dataclass(frozen=True)
class Dataset:
    """Train, validation and test images (uint8, NHWC, proxy size) with int labels.

    Example:
        >>> data = load_dataset("fashion-mnist")
        >>> data.input_shape, data.classes
        ((32, 32, 1), 10)
    """

    name: str
    classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The proxy's input shape (H, W, C)."""
        return tuple(int(d) for d in self.x_train.shape[1:])  # type: ignore[return-value]

    def train_subset(self, images: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``images`` training images chosen by ``seed``, normalised (all if fewer exist).

        The same (images, seed) gives the same images in the same order.
        Classes keep their proportions roughly, as the draw is uniform.
        """
        order = np.random.default_rng(seed).permutation(len(self.y_train))
        chosen = order[: min(images, len(order))]
        return normalise(self.x_train[chosen]), self.y_train[chosen]

    def validation(self, images: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The first ``images`` of the validation split (all by default), normalised."""
        stop = len(self.y_val) if images is None else min(images, len(self.y_val))
        return normalise(self.x_val[:stop]), self.y_val[:stop]

    def test(self) -> tuple[np.ndarray, np.ndarray]:
        """The test set, normalised."""
        return normalise(self.x_test), self.y_test


def normalise(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [-1, 1].

    Example:
        >>> normalise(np.array([0, 255], dtype=np.uint8)).tolist()
        [-1.0, 1.0]
    """
    return pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def load_dataset(spec: str | DatasetSpec, validation_images: int = 5000) -> Dataset:
    """Load a dataset by spec, with ``validation_images`` carved from its training set.

    Loaded once per process and spec; later calls return the same object.

    Example:
        >>> data = load_dataset("fashion-mnist", validation_images=5000)
        >>> len(data.y_train), len(data.y_val), len(data.y_test)
        (55000, 5000, 10000)
    """
    parsed = spec if isinstance(spec, DatasetSpec) else DatasetSpec.parse(spec)
    return _load_cached(parsed, int(validation_images))


def dataset_name(spec: str | DatasetSpec) -> str:
    """The canonical name of a spec, as stored in the database's accuracy key.

    Example:
        >>> dataset_name("fashion-mnist?size=32")
        'fashion-mnist'
    """
    parsed = spec if isinstance(spec, DatasetSpec) else DatasetSpec.parse(spec)
    return str(parsed)


@functools.lru_cache(maxsize=4)
def _load_cached(spec: DatasetSpec, validation_images: int) -> Dataset:
    loaders = {
        "fashion-mnist": _fashion_mnist,
        "npz": _npz,
        "folder": _folder,
        "tfds": _tfds,
    }
    x_train, y_train, x_test, y_test = loaders[spec.kind](spec)
    x_train, x_test = to_proxy_size(x_train, spec.size), to_proxy_size(x_test, spec.size)
    y_train = _labels(y_train, "y_train", spec)
    y_test = _labels(y_test, "y_test", spec)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise UserError(f"dataset {spec}: images and labels differ in number")
    if not 0 < validation_images < len(y_train):
        raise UserError(
            f"dataset {spec} has {len(y_train)} training images: the validation split "
            f"({validation_images}) must leave some for training"
        )
    order = np.random.default_rng(SPLIT_SEED).permutation(len(y_train))
    val, train = order[:validation_images], order[validation_images:]
    classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(
        name=str(spec),
        classes=classes,
        x_train=x_train[train],
        y_train=y_train[train],
        x_val=x_train[val],
        y_val=y_train[val],
        x_test=x_test,
        y_test=y_test,
    )


def _labels(values: Any, field: str, spec: DatasetSpec) -> np.ndarray:
    labels = np.asarray(values).reshape(-1)
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0):
        raise UserError(f"dataset {spec}: {field} must hold class indices 0..K-1")
    return labels.astype(np.int32)


# -- pixels -------------------------------------------------------------------------


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images as uint8 0..255: floats in [0, 1] are scaled, other ranges min-max scaled.

    Example:
        >>> to_uint8(np.array([0.0, 0.5, 1.0])).tolist()
        [0, 128, 255]
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    values = images.astype(np.float32)
    low, high = float(values.min(initial=0.0)), float(values.max(initial=1.0))
    if low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    elif low >= 0.0 and high <= 255.0:
        low, high = 0.0, 255.0
    scaled = (values - low) / max(high - low, 1e-12) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def to_proxy_size(images: np.ndarray, size: int) -> np.ndarray:
    """NHWC uint8 images of ``size`` x ``size``: padded when smaller, resized when larger.

    Example:
        >>> to_proxy_size(np.zeros((2, 28, 28), np.uint8), 32).shape
        (2, 32, 32, 1)
    """
    images = to_uint8(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise UserError(
            f"images must be (N, H, W) or (N, H, W, C) with 1, 3 or 4 channels, "
            f"got shape {images.shape}"
        )
    if images.shape[-1] == 4:  # drop alpha
        images = images[..., :3]
    height, width = images.shape[1:3]
    if height <= size and width <= size:
        top, left = (size - height) // 2, (size - width) // 2
        pad = ((0, 0), (top, size - height - top), (left, size - width - left), (0, 0))
        return np.pad(images, pad)
    import tensorflow as tf

    resized = tf.image.resize(images, (size, size), method="area", antialias=True)
    return np.clip(np.rint(resized.numpy()), 0, 255).astype(np.uint8)


# -- sources ------------------------------------------------------------------------


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (``.gz`` or plain) of unsigned bytes into an array.

    The header is two zero bytes, a type code (0x08 = uint8), the number of
    dimensions, then each dimension as a big-endian uint32.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise UserError(f"{path} is not an idx file of unsigned bytes")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if values.size != int(np.prod(shape)):
        raise UserError(f"{path} is truncated: expected {shape}, found {values.size} values")
    return values.reshape(shape)


def _fashion_mnist(spec: DatasetSpec) -> tuple[np.ndarray, ...]:
    root = Path(os.environ.get("LCE_NAS_FASHION_MNIST_DIR", FASHION_MNIST_DIR))
    missing = [name for name in FASHION_MNIST_FILES.values() if not (root / name).is_file()]
    if missing:
        raise UserError(
            f"Fashion-MNIST not found ({root / missing[0]} is missing): install it with "
            f"`sudo apt-get install dataset-fashion-mnist`, {_HOW_TO_POINT}"
        )
    return tuple(read_idx(root / FASHION_MNIST_FILES[key]) for key in FASHION_MNIST_FILES)


def _npz(spec: DatasetSpec) -> tuple[np.ndarray, ...]:
    path = Path(spec.location)
    if not path.is_file():
        raise UserError(f"dataset file {path} not found ({_HOW_TO_POINT})")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            missing = [k for k in FASHION_MNIST_FILES if k not in arrays.files]
            if missing:
                raise UserError(
                    f"{path} lacks array {missing[0]!r}: an .npz dataset needs "
                    "x_train, y_train, x_test, y_test"
                )
            return tuple(np.asarray(arrays[k]) for k in FASHION_MNIST_FILES)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path} as .npz: {exc}") from exc


def _folder(spec: DatasetSpec) -> tuple[np.ndarray, ...]:
    root = Path(spec.location)
    if not root.is_dir():
        raise UserError(f"image folder {root} not found ({_HOW_TO_POINT})")
    if (root / "train").is_dir() and (root / "test").is_dir():
        x_train, y_train, names = _read_folder(root / "train", spec.size)
        x_test, y_test, test_names = _read_folder(root / "test", spec.size)
        if test_names != names:
            raise UserError(
                f"{root}/train and {root}/test must have the same class folders "
                f"({names} vs {test_names})"
            )
        return x_train, y_train, x_test, y_test
    images, labels, _ = _read_folder(root, spec.size)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    cut = max(1, round(len(labels) * FOLDER_TEST_FRACTION))
    test, train = order[:cut], order[cut:]
    return images[train], labels[train], images[test], labels[test]


def _read_folder(root: Path, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(names) < 2:
        raise UserError(
            f"image folder {root} needs one sub-folder per class (at least 2), found {names}"
        )
    import tensorflow as tf

    try:
        # It announces what it found on stdout, which would spoil --json output.
        with contextlib.redirect_stdout(io.StringIO()):
            batches = tf.keras.utils.image_dataset_from_directory(
                str(root),
                labels="inferred",
                label_mode="int",
                class_names=names,
                image_size=(size, size),
                batch_size=256,
                shuffle=False,
            )
    except ValueError as exc:
        raise UserError(f"cannot read image folder {root}: {exc}") from exc
    images, labels = [], []
    for x, y in batches:
        images.append(np.clip(np.rint(x.numpy()), 0, 255).astype(np.uint8))
        labels.append(y.numpy())
    if not images:
        raise UserError(f"image folder {root} has no images (.png, .jpg, .bmp, .gif)")
    return np.concatenate(images), np.concatenate(labels), names


def _tfds(spec: DatasetSpec) -> tuple[np.ndarray, ...]:
    name = spec.location
    data_dir = os.environ.get("TFDS_DATA_DIR", os.path.expanduser("~/tensorflow_datasets"))
    try:
        import tensorflow_datasets as tfds  # type: ignore[import-not-found]
    except ImportError:
        raise UserError(
            f"tfds:{name} needs the tensorflow-datasets package (pip install "
            f"tensorflow-datasets) and {name!r} prepared in {data_dir} "
            f"(e.g. `tfds build {name}` where the internet is reachable), {_HOW_TO_POINT}"
        ) from None
    try:
        train, test = tfds.as_numpy(
            tfds.load(
                name,
                split=["train", "test"],
                data_dir=data_dir,
                download=False,
                as_supervised=True,
                batch_size=-1,
            )
        )
    except Exception as exc:  # tfds raises many types for "not prepared"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"tfds:{name} is not prepared in {data_dir} ({first}): run `tfds build {name}` "
            f"where the internet is reachable and copy it there, or set TFDS_DATA_DIR"
        ) from None
    return train[0], train[1], test[0], test[1]
