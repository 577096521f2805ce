"""The one reader of TFLite's flatbuffer schema: LCE's generated schema module.

Both the model checks of the engines (:mod:`lce_nas.engine.tflite_info`) and the
native engine's plan reader go through here, so operator names and field
layouts come from the generated code and never from a hand-kept copy.

A hostile file can make the generated accessors raise almost any Python error
(a negative offset is a ``TypeError``, a vector past the end a ``ValueError``
or ``struct.error``); :func:`guard_reading` turns them into one user error.
"""

from __future__ import annotations

import importlib.util
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from lce_nas.errors import UserError

# What the generated accessors raise on damaged offsets, lengths and strings.
READ_ERRORS: tuple[type[BaseException], ...] = (
    AttributeError,
    IndexError,
    KeyError,
    MemoryError,
    OverflowError,
    RecursionError,
    TypeError,
    UnicodeDecodeError,
    ValueError,
    struct.error,
)


@cache
def tflite_schema() -> ModuleType:
    """LCE's generated TFLite schema module, loaded without importing TensorFlow.

    Example:
        >>> tflite_schema().ModelT  # doctest: +ELLIPSIS
        <class '...ModelT'>
    """
    spec = importlib.util.find_spec("larq_compute_engine")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("larq-compute-engine is not installed (it ships the TFLite schema)")
    path = Path(next(iter(spec.submodule_search_locations))) / "mlir/python/tflite_schema.py"
    module_spec = importlib.util.spec_from_file_location("_lce_nas_tflite_schema", path)
    if module_spec is None or module_spec.loader is None:
        raise UserError(f"cannot load the TFLite schema from {path}; reinstall larq-compute-engine")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@cache
def _builtin_names() -> dict[int, str]:
    ops = tflite_schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


def builtin_name(code: int) -> str:
    """The name of a builtin operator code; codes the schema does not know read ``BUILTIN_<code>``.

    Example:
        >>> builtin_name(3), builtin_name(100000)
        ('CONV_2D', 'BUILTIN_100000')
    """
    return _builtin_names().get(code, f"BUILTIN_{code}")


# Names longer than this are damage (thousands of tensors may point at one long
# string, and each would keep its own copy).
MAX_NAME_BYTES = 4096


def decode_name(raw: bytes | None, fallback: str = "") -> str:
    """A name field as text; bytes that are not UTF-8 show as replacement characters.

    Example:
        >>> decode_name(b"conv\\xff"), decode_name(None, "t0")
        ('conv\\ufffd', 't0')
    """
    if not raw:
        return fallback
    return bytes(raw[:MAX_NAME_BYTES]).decode("utf-8", "replace")


def root_model(tflite: bytes, error: type[UserError], message: str) -> Any:
    """The flatbuffer's root ``Model`` table (read lazily), or ``error(message)`` without 'TFL3'.

    Example:
        >>> root_model(b"junk", UserError, "not a model")
        Traceback (most recent call last):
        ...
        lce_nas.errors.UserError: not a model
    """
    if len(tflite) < 8 or bytes(tflite[4:8]) != b"TFL3":
        raise error(message)
    with guard_reading(error, "corrupt TFLite flatbuffer"):
        return tflite_schema().Model.GetRootAs(bytes(tflite), 0)


def op_type_names(model: Any) -> list[str]:
    """The operator type of each entry of the model's operator-code table.

    Custom ops by their name (``LceBconv2d``), builtins by the schema's enum name.

    Example:
        >>> op_type_names(root_model(data, UserError, "bad"))[:2]  # doctest: +SKIP
        ['CONV_2D', 'LceQuantize']
    """
    names = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        custom = decode_name(code.CustomCode())
        if custom:
            names.append(custom)
            continue
        # Newer schemas keep codes > 127 in `builtin_code`; older files only in
        # the deprecated byte field. The larger of the two is the real one.
        names.append(builtin_name(max(code.DeprecatedBuiltinCode(), code.BuiltinCode())))
    return names


def int_vector(length: int, item) -> list[int]:
    """``[item(0), ..., item(length - 1)]`` as Python ints (a flatbuffer int vector).

    Example:
        >>> int_vector(3, lambda i: i * 2)
        [0, 2, 4]
    """
    return [int(item(i)) for i in range(length)]


@contextmanager
def guard_reading(error: type[UserError], what: str, hint: str = "") -> Iterator[None]:
    """Turn any error the generated accessors raise on damaged bytes into ``error``.

    The message reads ``<what> (<the Python error>)<hint>``; errors of type ``error``
    pass through.

    Example:
        >>> with guard_reading(UserError, "corrupt model"):
        ...     [][1]
        Traceback (most recent call last):
        ...
        lce_nas.errors.UserError: corrupt model (IndexError: list index out of range)
    """
    try:
        yield
    except error:
        raise
    except READ_ERRORS as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else "damaged flatbuffer"
        raise error(f"{what} ({type(exc).__name__}: {detail}){hint}") from None
