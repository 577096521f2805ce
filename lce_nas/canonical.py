"""Canonical JSON and hashing: equal values give equal bytes on every machine."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace.

    Example:
        >>> canonical_json({"b": 1, "a": [1, 2]})
        '{"a":[1,2],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_hex(value: Any) -> str:
    """The sha256 of a value's canonical JSON, as hex.

    Example:
        >>> sha256_hex({"a": 1}) == sha256_hex({"a": 1})
        True
    """
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
