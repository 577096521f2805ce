"""Read what the engines need from a ``.tflite`` flatbuffer, without TensorFlow.

A model is checked here before it reaches an interpreter (a corrupt flatbuffer
can crash one), and its inputs and operators are read so the engines can feed
it and the breakdown can name its layers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lce_nas.engine.tflite_schema import (
    decode_name,
    guard_reading,
    int_vector,
    op_type_names,
    root_model,
)

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


def _tensor(graph: Any, idx: int) -> TensorInfo:
    if not 0 <= idx < graph.TensorsLength():
        raise ValueError(f"tensor index {idx} out of range")
    tensor = graph.Tensors(idx)
    dtype_code = tensor.Type()
    return TensorInfo(
        name=decode_name(tensor.Name()),
        shape=tuple(int_vector(tensor.ShapeLength(), tensor.Shape)),
        dtype=_TENSOR_TYPES.get(dtype_code, f"type{dtype_code}"),
    )


def _check_buffers(model: Any, size: int) -> None:
    # Weights live in buffers near the end of the file: a truncated copy
    # parses up to here but would crash an interpreter.
    for i in range(model.BuffersLength()):
        buffer = model.Buffers(i)
        # A view of the bytes: NumPy refuses one that would end past the file.
        if not buffer.DataIsNone() and buffer.DataAsNumpy().size != buffer.DataLength():
            raise ValueError("a weight buffer ends past the end of the file")
        offset, length = buffer.Offset(), buffer.Size()
        if offset > 1 and offset + length > size:
            raise ValueError("an external weight buffer ends past the end of the file")


def _read(model: Any, size: int) -> ModelInfo:
    names = op_type_names(model)
    if not model.SubgraphsLength():
        raise ValueError("no subgraph")
    graph = model.Subgraphs(0)
    inputs = tuple(_tensor(graph, i) for i in int_vector(graph.InputsLength(), graph.Inputs))
    outputs = tuple(_tensor(graph, i) for i in int_vector(graph.OutputsLength(), graph.Outputs))
    ops = []
    for i in range(graph.OperatorsLength()):
        index = graph.Operators(i).OpcodeIndex()
        if index >= len(names):
            raise ValueError(f"operator {i} has opcode index {index} of {len(names)}")
        ops.append(names[index])
    _check_buffers(model, size)
    return ModelInfo(inputs=inputs, outputs=outputs, ops=tuple(ops), size_bytes=size)


def read_model_info(tflite: bytes) -> ModelInfo:
    """Parse a flatbuffer's main subgraph; :class:`UserError` if it is not a valid TFLite model.

    Example:
        >>> info = read_model_info(open("m.tflite", "rb").read())  # doctest: +SKIP
        >>> info.inputs[0].shape, info.ops[:2]  # doctest: +SKIP
        ((1, 224, 224, 3), ('CONV_2D', 'DEPTHWISE_CONV_2D'))
    """
    model = root_model(
        tflite, UserError, "not a TFLite model (no 'TFL3' identifier); pass a .tflite file"
    )
    with guard_reading(UserError, "corrupt TFLite model", "; re-export or re-convert it"):
        info = _read(model, len(tflite))
    if not info.inputs or not info.ops:
        raise UserError("corrupt TFLite model (no inputs or no operators); re-convert it")
    return info


def load_tflite(model: bytes | str | Path) -> bytes:
    """The bytes of a model given as bytes or a path, checked to be a TFLite flatbuffer.

    Example:
        >>> load_tflite(b"not a model")
        Traceback (most recent call last):
        ...
        lce_nas.errors.UserError: not a TFLite model (no 'TFL3' identifier); pass a .tflite file
    """
    data = model_bytes(model)
    read_model_info(data)
    return data


def model_bytes(model: bytes | str | os.PathLike, error: type[UserError] = UserError) -> bytes:
    """The bytes of a model given as bytes or a path; a missing file raises ``error``.

    Example:
        >>> model_bytes(memoryview(b"TFL3"))
        b'TFL3'
    """
    if isinstance(model, bytes | bytearray | memoryview):
        return bytes(model)
    path = Path(model)
    if not path.is_file():
        raise error(f"model file not found: {path}")
    return path.read_bytes()
