"""Read an LCE-converted ``.tflite`` flatbuffer into an execution plan for the native runtime.

The plan is plain data (tensors with shapes, types and constant buffers; ops with their
options decoded from TFLite's builtin options or LCE's flexbuffer custom options), so it
can be checked and handed to the C++ ``Model`` without TensorFlow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lce_nas.engine.tflite_schema import (
    decode_name,
    guard_reading,
    int_vector,
    op_type_names,
    root_model,
    tflite_schema,
)

from lce_nas.errors import UserError

__all__ = [
    "MAX_MODEL_BYTES",
    "MAX_RANK",
    "NativeModelError",
    "OpSpec",
    "Plan",
    "Quantization",
    "TensorSpec",
    "read_plan",
    "tflite_schema",
]


class NativeModelError(UserError):
    """A flatbuffer the native engine cannot load (corrupt, or using an unsupported op)."""


# The most memory a model may ask for (tensors, constants and what ops precompute):
# a damaged dimension must be refused, not allocated. The C++ runtime checks the
# same cap against everything it allocates.
MAX_MODEL_BYTES = 2 << 30
# TFLite's kernels stop at rank 6; anything far past that is damage.
MAX_RANK = 8
# LCE's custom ops carry a handful of scalar options.
_MAX_CUSTOM_OPTIONS = 64
_INT32_MAX = 2**31 - 1

# TFLite TensorType codes the runtime handles, by numpy dtype name.
_TENSOR_TYPES = {0: "float32", 2: "int32", 4: "int64", 6: "bool", 9: "int8"}
_TYPE_NAMES = {
    0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL",
    7: "INT16", 8: "COMPLEX64", 9: "INT8", 10: "FLOAT64",
}  # fmt: skip

# Builtin option fields (camelCase in the schema) -> option keys the C++ ops read.
_OPTION_NAMES = {
    "strideW": "stride_w",
    "strideH": "stride_h",
    "dilationWFactor": "dilation_w",
    "dilationHFactor": "dilation_h",
    "filterWidth": "filter_w",
    "filterHeight": "filter_h",
    "fusedActivationFunction": "fused_activation_function",
    "weightsFormat": "weights_format",
    "depthMultiplier": "depth_multiplier",
    "keepNumDims": "keep_num_dims",
    "keepDims": "keep_dims",
}


@dataclass(frozen=True)
class Quantization:
    """An int8 tensor's affine quantization, ``real = scale * (q - zero_point)``: one
    scale and zero point, or one per index of ``axis`` (a filter's output channels)."""

    scales: list[float]
    zero_points: list[int]
    axis: int = 0


@dataclass
class TensorSpec:
    """One tensor: static shape, dtype name, for constants its data, for int8 its scales."""

    name: str
    shape: list[int]
    dtype: str
    data: np.ndarray | None = None
    quantization: Quantization | None = None


@dataclass
class OpSpec:
    """One op: type name (builtin like ``CONV_2D`` or custom like ``LceBconv2d``)."""

    type: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, float] = field(default_factory=dict)


@dataclass
class Plan:
    """Tensors, ops in execution order, and the graph's input and output tensor ids."""

    tensors: list[TensorSpec]
    ops: list[OpSpec]
    inputs: list[int]
    outputs: list[int]


def _snake(name: str) -> str:
    return _OPTION_NAMES.get(name, re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())


def _builtin_options(op: Any) -> dict[str, float]:
    table = op.BuiltinOptions()
    if table is None:
        return {}
    options = tflite_schema().BuiltinOptionsCreator(op.BuiltinOptionsType(), table)
    if options is None:
        return {}
    out: dict[str, float] = {}
    for key, value in vars(options).items():
        if isinstance(value, bool | int | float | np.integer | np.floating):
            out[_snake(key)] = float(value)
    return out


def _custom_options(op: Any, op_type: str) -> dict[str, float]:
    if op.CustomOptionsIsNone() or op.CustomOptionsLength() == 0:
        return {}
    from flatbuffers import flexbuffers

    raw = bytes(op.CustomOptionsAsNumpy())
    # Only the top map's scalars are read: nested values are never expanded, so a
    # hostile map whose entries point at each other costs no more than its size.
    with guard_reading(NativeModelError, f"{op_type}: cannot decode its custom options"):
        root = flexbuffers.GetRoot(raw)
        if not root.IsMap:
            raise NativeModelError(f"{op_type}: custom options are not a map")
        options = root.AsMap
        if len(options) > _MAX_CUSTOM_OPTIONS:
            raise NativeModelError(f"{op_type}: {len(options)} custom options (a damaged map)")
        keys, values = options.Keys, options.Values
        out: dict[str, float] = {}
        for i in range(len(options)):
            value = values[i]
            if value.IsBool:
                out[keys[i].AsKey] = float(value.AsBool)
            elif value.IsInt:
                out[keys[i].AsKey] = float(value.AsInt)
            elif value.IsFloat:
                out[keys[i].AsKey] = float(value.AsFloat)
    return out


def _shape(tensor: Any, name: str) -> list[int]:
    rank = tensor.ShapeLength()
    if rank > MAX_RANK:
        raise NativeModelError(f"tensor '{name}' has rank {rank} (at most {MAX_RANK})")
    shape = int_vector(rank, tensor.Shape)
    for d in shape:
        if d < 0:
            raise NativeModelError(f"tensor '{name}' has a dynamic or negative dimension {shape}")
        if d > _INT32_MAX:
            raise NativeModelError(f"tensor '{name}' has dimension {d} (over 2^31 - 1)")
    return shape


def _tensor(model: Any, tensor: Any, index: int, budget: list[int]) -> TensorSpec:
    name = decode_name(tensor.Name(), str(index))
    code = tensor.Type()
    dtype = _TENSOR_TYPES.get(code)
    if dtype is None:
        kind = _TYPE_NAMES.get(code, str(code))
        hint = (
            " (of quantized models, int8 ones are supported)" if kind in ("UINT8", "INT16") else ""
        )
        raise NativeModelError(f"tensor '{name}' has type {kind}{hint}")
    shape = _shape(tensor, name)
    nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    budget[0] -= nbytes
    if budget[0] < 0:
        raise NativeModelError(
            f"tensor '{name}' {shape} takes the model past {MAX_MODEL_BYTES >> 20} MiB "
            "of tensors (a damaged shape?)"
        )
    data = None
    buffer_index = tensor.Buffer()
    if 0 < buffer_index < model.BuffersLength():
        buf = model.Buffers(buffer_index)
        if buf.Offset() > 1:
            raise NativeModelError("flatbuffers with external buffers are not supported")
        if not buf.DataIsNone() and buf.DataLength() > 0:
            # Sizes first: tensors sharing one damaged buffer must not each copy it.
            if buf.DataLength() != nbytes:
                raise NativeModelError(
                    f"tensor '{name}': its buffer has {buf.DataLength()} bytes, its shape "
                    f"{shape} needs {nbytes}"
                )
            data = np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype)
    elif buffer_index != 0 and buffer_index >= model.BuffersLength():
        raise NativeModelError(f"tensor '{name}': buffer index {buffer_index} out of range")
    return TensorSpec(name, shape, dtype, data, _quantization(tensor, name, dtype))


def _quantization(tensor: Any, name: str, dtype: str) -> Quantization | None:
    """An int8 tensor's scales and zero points (other tensors' are not used)."""
    if dtype != "int8":
        return None
    params = tensor.Quantization()
    if params is None or params.ScaleLength() == 0:
        raise NativeModelError(f"int8 tensor '{name}' has no scale and zero point")
    scales = [float(v) for v in params.ScaleAsNumpy()]
    zero_points = [int(v) for v in params.ZeroPointAsNumpy()] if params.ZeroPointLength() else []
    if len(zero_points) != len(scales):
        raise NativeModelError(
            f"int8 tensor '{name}' has {len(scales)} scales and {len(zero_points)} zero points"
        )
    return Quantization(scales, zero_points, int(params.QuantizedDimension()))


def _tensor_ids(ids: list[int], count: int, op_type: str, optional: bool) -> list[int]:
    for i in ids:
        if i >= count or i < (-1 if optional else 0):
            raise NativeModelError(f"{op_type}: tensor index {i} out of range (0..{count - 1})")
    return ids


def _op(op: Any, op_type: str, tensor_count: int) -> OpSpec:
    # LCE's ops carry flexbuffer options, builtins a schema table.
    custom = not op.CustomOptionsIsNone()
    options = _custom_options(op, op_type) if custom else _builtin_options(op)
    inputs = int_vector(op.InputsLength(), op.Inputs)
    outputs = int_vector(op.OutputsLength(), op.Outputs)
    return OpSpec(
        op_type,
        _tensor_ids(inputs, tensor_count, op_type, optional=True),
        _tensor_ids(outputs, tensor_count, op_type, optional=False),
        options,
    )


def _read(model: Any) -> Plan:
    if model.SubgraphsLength() == 0:
        raise NativeModelError("the flatbuffer has no subgraph")
    if model.SubgraphsLength() > 1:
        raise NativeModelError("models with several subgraphs (control flow) are not supported")
    graph = model.Subgraphs(0)
    budget = [MAX_MODEL_BYTES]
    tensors = []
    for i in range(graph.TensorsLength()):
        with guard_reading(NativeModelError, f"corrupt TFLite flatbuffer: tensor {i}"):
            tensors.append(_tensor(model, graph.Tensors(i), i, budget))
    names = op_type_names(model)
    ops: list[OpSpec] = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        index = op.OpcodeIndex()
        if index >= len(names):
            raise NativeModelError(f"operator {i}: opcode index {index} out of range")
        op_type = names[index]
        with guard_reading(NativeModelError, f"corrupt TFLite flatbuffer: op {i} ({op_type})"):
            ops.append(_op(op, op_type, len(tensors)))
    inputs = int_vector(graph.InputsLength(), graph.Inputs)
    outputs = int_vector(graph.OutputsLength(), graph.Outputs)
    return Plan(
        tensors,
        ops,
        _tensor_ids(inputs, len(tensors), "the graph", optional=False),
        _tensor_ids(outputs, len(tensors), "the graph", optional=False),
    )


def read_plan(tflite: bytes) -> Plan:
    """Parse flatbuffer bytes into a :class:`Plan`; raise NativeModelError if it is unusable.

    Example:
        >>> plan = read_plan(open("model.tflite", "rb").read())  # doctest: +SKIP
        >>> [op.type for op in plan.ops][:2]  # doctest: +SKIP
        ['CONV_2D', 'DEPTHWISE_CONV_2D']
    """
    model = root_model(
        tflite, NativeModelError, "not a TFLite flatbuffer (the 'TFL3' identifier is missing)"
    )
    with guard_reading(NativeModelError, "corrupt TFLite flatbuffer"):
        return _read(model)
