"""Read an LCE-converted ``.tflite`` flatbuffer into an execution plan for the native runtime.

The plan is plain data (tensors with shapes, types and constant buffers; ops with their
options decoded from TFLite's builtin options or LCE's flexbuffer custom options), so it
can be checked and handed to the C++ ``Model`` without TensorFlow.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from lce_nas.errors import UserError


class NativeModelError(UserError):
    """A flatbuffer the native engine cannot load (corrupt, or using an unsupported op)."""


# TFLite TensorType codes the runtime handles, by numpy dtype name.
_TENSOR_TYPES = {0: "float32", 2: "int32", 4: "int64"}
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


@dataclass
class TensorSpec:
    """One tensor: static shape, dtype name and, for constants, its data."""

    name: str
    shape: list[int]
    dtype: str
    data: np.ndarray | None = None


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


@cache
def tflite_schema() -> ModuleType:
    """LCE's generated TFLite schema module, loaded without importing TensorFlow.

    Example:
        >>> tflite_schema().ModelT  # doctest: +ELLIPSIS
        <class '...ModelT'>
    """
    spec = importlib.util.find_spec("larq_compute_engine")
    if spec is None or not spec.submodule_search_locations:
        raise NativeModelError("larq-compute-engine is not installed (it ships the TFLite schema)")
    path = Path(next(iter(spec.submodule_search_locations))) / "mlir/python/tflite_schema.py"
    module_spec = importlib.util.spec_from_file_location("_lce_nas_tflite_schema", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@cache
def _builtin_names() -> dict[int, str]:
    ops = tflite_schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


def _snake(name: str) -> str:
    return _OPTION_NAMES.get(name, re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())


def _builtin_options(options: Any) -> dict[str, float]:
    if options is None:
        return {}
    out: dict[str, float] = {}
    for key, value in vars(options).items():
        if isinstance(value, bool | int | float | np.integer | np.floating):
            out[_snake(key)] = float(value)
    return out


def _custom_options(raw: Any, op_type: str) -> dict[str, float]:
    if raw is None or len(raw) == 0:
        return {}
    from flatbuffers import flexbuffers

    try:
        decoded = flexbuffers.Loads(bytes(bytearray(raw)))
    except Exception as exc:
        raise NativeModelError(f"{op_type}: cannot decode its custom options ({exc})") from exc
    if not isinstance(decoded, dict):
        raise NativeModelError(f"{op_type}: custom options are not a map")
    return {str(k): float(v) for k, v in decoded.items() if isinstance(v, bool | int | float)}


def read_plan(tflite: bytes) -> Plan:
    """Parse flatbuffer bytes into a :class:`Plan`; raise NativeModelError if it is unusable.

    Example:
        >>> plan = read_plan(open("model.tflite", "rb").read())  # doctest: +SKIP
        >>> [op.type for op in plan.ops][:2]
        ['CONV_2D', 'DEPTHWISE_CONV_2D']
    """
    if len(tflite) < 8 or tflite[4:8] != b"TFL3":
        raise NativeModelError("not a TFLite flatbuffer (the 'TFL3' identifier is missing)")
    schema = tflite_schema()
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(tflite), 0)
    except Exception as exc:
        raise NativeModelError(f"corrupt TFLite flatbuffer ({type(exc).__name__}: {exc})") from exc
    if not model.subgraphs:
        raise NativeModelError("the flatbuffer has no subgraph")
    if len(model.subgraphs) > 1:
        raise NativeModelError("models with several subgraphs (control flow) are not supported")
    graph = model.subgraphs[0]
    buffers = model.buffers or []
    names = _builtin_names()

    tensors: list[TensorSpec] = []
    for index, t in enumerate(graph.tensors or []):
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name or index)
        dtype = _TENSOR_TYPES.get(t.type)
        if dtype is None:
            kind = _TYPE_NAMES.get(t.type, str(t.type))
            hint = " (quantized models are not supported)" if kind in ("INT8", "UINT8") else ""
            raise NativeModelError(f"tensor '{name}' has type {kind}{hint}")
        shape = [int(d) for d in (t.shape if t.shape is not None else [])]
        data = None
        if 0 < t.buffer < len(buffers):
            buf = buffers[t.buffer]
            if buf.offset and buf.offset > 1:
                raise NativeModelError("flatbuffers with external buffers are not supported")
            if buf.data is not None and len(buf.data) > 0:
                data = np.frombuffer(np.asarray(buf.data, dtype=np.uint8).tobytes(), dtype=dtype)
                if data.size != int(np.prod(shape, dtype=np.int64)):
                    raise NativeModelError(f"tensor '{name}': buffer size does not match its shape")
        tensors.append(TensorSpec(name, shape, dtype, data))

    ops: list[OpSpec] = []
    for op in graph.operators or []:
        if op.opcodeIndex >= len(model.operatorCodes):
            raise NativeModelError("corrupt TFLite flatbuffer (bad opcode index)")
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if code.customCode is not None:
            op_type = code.customCode.decode()
            options = _custom_options(op.customOptions, op_type)
        else:
            op_type = names.get(builtin, f"BUILTIN_{builtin}")
            options = _builtin_options(op.builtinOptions)
        inputs = [int(i) for i in (op.inputs if op.inputs is not None else [])]
        outputs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
        for i in inputs + outputs:
            if i >= len(tensors):
                raise NativeModelError(f"{op_type}: tensor index {i} out of range")
        ops.append(OpSpec(op_type, inputs, outputs, options))
    inputs = [int(i) for i in graph.inputs]
    outputs = [int(i) for i in graph.outputs]
    return Plan(tensors, ops, inputs, outputs)
