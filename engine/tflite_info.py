"""Read what the engines need from a ``.tflite`` flatbuffer, without TensorFlow.

A model is checked here before it reaches an interpreter (a corrupt flatbuffer
can crash one), and its inputs and operators are read so the engines can feed
it and the breakdown can name its layers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import flatbuffers
from flatbuffers.table import Table
from lce_nas.engine.tflite_ops import builtin_name

from lce_nas.errors import UserError

# TensorType codes of the TFLite schema that models here use as inputs.
_TENSOR_TYPES = {
    0: "float32",
    1: "float16",
    2: "int32",
    3: "uint8",
    4: "int64",
    6: "bool",
    7: "int16",
    9: "int8",
}


@dataclass(frozen=True)
class TensorInfo:
    """An input or output tensor: its name, shape and NumPy dtype name."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class ModelInfo:
    """The parts of a model the engines use.

    ``ops`` lists operator types in execution order (TFLite runs a subgraph's
    operators in the order they are stored), e.g. ``("CONV_2D", "LceQuantize")``.
    """

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    ops: tuple[str, ...]
    size_bytes: int


def _table(buf: bytes, pos: int) -> Table:
    return Table(buf, pos)


def _field(tab: Table, index: int) -> int:
    return tab.Offset(4 + 2 * index)


def _vector_tables(tab: Table, index: int) -> list[Table]:
    off = _field(tab, index)
    if not off:
        return []
    start = tab.Vector(off)
    return [_table(tab.Bytes, tab.Indirect(start + 4 * i)) for i in range(tab.VectorLen(off))]


def _vector_ints(tab: Table, index: int, fmt: str = "<i") -> list[int]:
    off = _field(tab, index)
    if not off:
        return []
    start = tab.Vector(off)
    size = struct.calcsize(fmt)
    return [
        struct.unpack_from(fmt, tab.Bytes, start + size * i)[0] for i in range(tab.VectorLen(off))
    ]


def _scalar(tab: Table, index: int, flags, default: int) -> int:
    off = _field(tab, index)
    return tab.Get(flags, off + tab.Pos) if off else default


def _string(tab: Table, index: int) -> str:
    off = _field(tab, index)
    return tab.String(off + tab.Pos).decode("utf-8", "replace") if off else ""


def _tensor(tensors: list[Table], idx: int) -> TensorInfo:
    tensor = tensors[idx]
    dtype_code = _scalar(tensor, 1, flatbuffers.number_types.Int8Flags, 0)
    return TensorInfo(
        name=_string(tensor, 3),
        shape=tuple(_vector_ints(tensor, 0)),
        dtype=_TENSOR_TYPES.get(dtype_code, f"type{dtype_code}"),
    )


def _op_names(model: Table) -> list[str]:
    names = []
    for code in _vector_tables(model, 1):
        custom = _string(code, 1)
        if custom:
            names.append(custom)
            continue
        # Newer schemas keep codes > 127 in `builtin_code`; older files only in
        # the deprecated byte field. The larger of the two is the real one.
        deprecated = _scalar(code, 0, flatbuffers.number_types.Int8Flags, 0)
        builtin = _scalar(code, 3, flatbuffers.number_types.Int32Flags, 0)
        names.append(builtin_name(max(deprecated, builtin)))
    return names


def _check_buffers(model: Table, size: int) -> None:
    # Weights live in buffers near the end of the file: a truncated copy
    # parses up to here but would crash an interpreter.
    for buffer in _vector_tables(model, 4):
        off = _field(buffer, 0)
        if off:
            start = buffer.Vector(off)
            if start + buffer.VectorLen(off) > size:
                raise ValueError("a weight buffer ends past the end of the file")
        offset = _scalar(buffer, 1, flatbuffers.number_types.Uint64Flags, 0)
        length = _scalar(buffer, 2, flatbuffers.number_types.Uint64Flags, 0)
        if offset > 1 and offset + length > size:
            raise ValueError("an external weight buffer ends past the end of the file")


def read_model_info(tflite: bytes) -> ModelInfo:
    """Parse a flatbuffer's main subgraph; :class:`UserError` if it is not a valid TFLite model.

    Example:
        >>> info = read_model_info(open("m.tflite", "rb").read())  # doctest: +SKIP
        >>> info.inputs[0].shape, info.ops[:2]  # doctest: +SKIP
        ((1, 224, 224, 3), ('CONV_2D', 'DEPTHWISE_CONV_2D'))
    """
    if len(tflite) < 8 or tflite[4:8] != b"TFL3":
        raise UserError("not a TFLite model (no 'TFL3' identifier); pass a .tflite file")
    try:
        root = struct.unpack_from("<I", tflite, 0)[0]
        model = _table(tflite, root)
        op_names = _op_names(model)
        subgraphs = _vector_tables(model, 2)
        if not subgraphs:
            raise ValueError("no subgraph")
        graph = subgraphs[0]
        tensors = _vector_tables(graph, 0)
        inputs = tuple(_tensor(tensors, i) for i in _vector_ints(graph, 1))
        outputs = tuple(_tensor(tensors, i) for i in _vector_ints(graph, 2))
        ops = tuple(
            op_names[_scalar(op, 0, flatbuffers.number_types.Uint32Flags, 0)]
            for op in _vector_tables(graph, 3)
        )
        _check_buffers(model, len(tflite))
    except (IndexError, ValueError, struct.error, UnicodeDecodeError) as err:
        detail = str(err) if isinstance(err, ValueError) else "truncated or damaged flatbuffer"
        raise UserError(f"corrupt TFLite model ({detail}); re-export or re-convert it") from None
    if not inputs or not ops:
        raise UserError("corrupt TFLite model (no inputs or no operators); re-convert it")
    return ModelInfo(inputs=inputs, outputs=outputs, ops=ops, size_bytes=len(tflite))


def load_tflite(model: bytes | str | Path) -> bytes:
    """The bytes of a model given as bytes or a path, checked to be a TFLite flatbuffer.

    Example:
        >>> load_tflite(b"not a model")
        Traceback (most recent call last):
        ...
        lce_nas.errors.UserError: not a TFLite model (no 'TFL3' identifier); pass a .tflite file
    """
    if isinstance(model, bytes | bytearray | memoryview):
        data = bytes(model)
    else:
        path = Path(model)
        if not path.is_file():
            raise UserError(f"model file not found: {path}")
        data = path.read_bytes()
    read_model_info(data)
    return data
