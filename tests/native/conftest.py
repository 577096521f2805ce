"""Fixtures for the native engine: small LCE models converted once per session."""

from __future__ import annotations

import pytest
from native_support import convert, logits_of


@pytest.fixture(scope="session")
def tiny_quicknet() -> bytes:
    """QuickNetSmall at 64x64x3 with 10 classes and without the softmax (logits compare
    more strictly than saturated probabilities)."""
    from lce_nas.space import get_space

    space = get_space("quicknet")
    model = space.build_deploy(space.preset("quicknet-small"), input_shape=(64, 64, 3), classes=10)
    return convert(logits_of(model), seed=3)
