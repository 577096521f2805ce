"""Helpers shared by the dataset and trainer tests."""

from __future__ import annotations

import numpy as np


def image_index(normalised: np.ndarray, offset: int) -> np.ndarray:
    """Read back the index that :func:`numbered_npz` wrote into padded images."""
    pixels = np.rint((normalised + 1.0) * 127.5).astype(np.int64)
    return pixels[:, offset, offset, 0] + 256 * pixels[:, offset, offset + 1, 0]
