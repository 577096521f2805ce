"""Mutations of TFLite flatbuffers for the native engine's fuzzer.

Two kinds: edits of the unpacked object tree (shapes, types, buffers, operator
inputs and outputs, builtin and LCE options), which keep the file well formed
so the engine's own checks are what is exercised, and edits of the packed bytes
(truncation, bit flips, zeroed spans, planted integers), which exercise the
flatbuffer reader. ``targeted`` holds the hand-made cases of past crashes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import flatbuffers
import numpy as np
from flatbuffers import flexbuffers
from lce_nas.engine.tflite_schema import builtin_name, tflite_schema

# Values that sit on the edges the engine must check: zero, negatives, int32
# limits, window sizes past any image, and off-by-one neighbours.
INTERESTING = [0, 1, -1, 2, 3, 7, 31, 32, 33, 255, 65535, 65536, 1 << 24, 2**31 - 1, -(2**31), -2]


def unpack(data: bytes) -> Any:
    """The model's object tree (LCE's generated ``ModelT``)."""
    return tflite_schema().ModelT.InitFromPackedBuf(bytearray(data), 0)


def pack(model: Any) -> bytes:
    """Serialise an object tree back into flatbuffer bytes (with the 'TFL3' identifier)."""
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _graph(model: Any) -> Any:
    return model.subgraphs[0]


def _pick(rng: random.Random, items: list | None) -> Any:
    return rng.choice(items) if items else None


def _edit_dim(rng: random.Random, model: Any) -> str | None:
    tensors = [t for t in _graph(model).tensors if t.shape is not None and len(t.shape)]
    t = _pick(rng, tensors)
    if t is None:
        return None
    shape = [int(d) for d in t.shape]
    i = rng.randrange(len(shape))
    shape[i] = rng.choice([*INTERESTING, shape[i] + 1, shape[i] - 1, shape[i] * 2])
    t.shape = shape
    return f"dim {i} of '{t.name.decode(errors='replace')}' -> {shape[i]}"


def _edit_rank(rng: random.Random, model: Any) -> str | None:
    t = _pick(rng, _graph(model).tensors)
    if t is None:
        return None
    shape = [int(d) for d in (t.shape if t.shape is not None else [])]
    choice = rng.randrange(3)
    if choice == 0:
        shape = shape[:-1]
    elif choice == 1:
        shape = [*shape, rng.choice([1, 2, 32])]
    else:
        shape = []
    t.shape = shape
    return f"shape of '{t.name.decode(errors='replace')}' -> {shape}"


def _set_field(rng: random.Random, items: list | None, name: str, upper: int) -> str | None:
    item = _pick(rng, items)
    if item is None:
        return None
    setattr(item, name, rng.randrange(upper))
    return f"{name} of a {type(item).__name__} -> {getattr(item, name)}"


def _edit_type(rng: random.Random, model: Any) -> str | None:
    return _set_field(rng, _graph(model).tensors, "type", 18)


def _edit_buffer_index(rng: random.Random, model: Any) -> str | None:
    return _set_field(rng, _graph(model).tensors, "buffer", len(model.buffers) + 3)


def _edit_buffer_data(rng: random.Random, model: Any) -> str | None:
    buffers = [b for b in model.buffers if b.data is not None and len(b.data)]
    b = _pick(rng, buffers)
    if b is None:
        return None
    data = bytearray(bytes(b.data))
    choice = rng.randrange(4)
    if choice == 0:
        data = data[: rng.randrange(len(data))]
    elif choice == 1:
        data += bytes(rng.randrange(1, 64))
    elif choice == 2 and len(data) >= 4:
        at = rng.randrange(len(data) // 4) * 4
        data[at : at + 4] = rng.choice(INTERESTING).to_bytes(4, "little", signed=True)
    else:
        data = bytearray(len(data))
    b.data = list(data)
    return f"buffer data ({('cut', 'grown', 'planted int', 'zeroed')[choice]})"


def _edit_operands(rng: random.Random, model: Any) -> str | None:
    op = _pick(rng, _graph(model).operators)
    if op is None:
        return None
    which = "inputs" if rng.random() < 0.7 else "outputs"
    ids = [int(i) for i in (getattr(op, which) if getattr(op, which) is not None else [])]
    n = len(_graph(model).tensors)
    choice = rng.randrange(4)
    if choice == 0 and ids:
        ids[rng.randrange(len(ids))] = rng.choice([-1, n, n + 5, rng.randrange(n)])
    elif choice == 1 and ids:
        ids.pop()
    elif choice == 2:
        ids.append(rng.randrange(-1, n + 1))
    elif len(ids) > 1:
        a, b = rng.sample(range(len(ids)), 2)
        ids[a], ids[b] = ids[b], ids[a]
    setattr(op, which, ids)
    return f"{which} of an op -> {ids}"


def _alias_operands(rng: random.Random, model: Any) -> str | None:
    op = _pick(
        rng,
        [
            op
            for op in _graph(model).operators
            if op.inputs is not None
            and len(op.inputs)
            and op.outputs is not None
            and len(op.outputs)
        ],
    )
    if op is None:
        return None
    inputs = [int(i) for i in op.inputs]
    inputs[rng.randrange(len(inputs))] = int(op.outputs[0])
    op.inputs = inputs
    return "an op reads its own output"


def _edit_opcode(rng: random.Random, model: Any) -> str | None:
    return _set_field(rng, _graph(model).operators, "opcodeIndex", len(model.operatorCodes) + 2)


def _edit_builtin_option(rng: random.Random, model: Any) -> str | None:
    ops = [op for op in _graph(model).operators if op.builtinOptions is not None]
    op = _pick(rng, ops)
    if op is None:
        return None
    fields = [k for k, v in vars(op.builtinOptions).items() if isinstance(v, int | float)]
    if not fields:
        return None
    key = rng.choice(fields)
    setattr(op.builtinOptions, key, rng.choice(INTERESTING))
    return f"builtin option {key} -> {getattr(op.builtinOptions, key)}"


def _edit_custom_option(rng: random.Random, model: Any) -> str | None:
    ops = [
        op
        for op in _graph(model).operators
        if op.customOptions is not None and len(op.customOptions)
    ]
    op = _pick(rng, ops)
    if op is None:
        return None
    raw = bytes(bytearray(op.customOptions))
    if rng.random() < 0.7:
        try:
            options = flexbuffers.Loads(raw)
        except (ValueError, IndexError, KeyError, TypeError):
            # An earlier bit flip of this op's options left them unreadable.
            return None
        if not isinstance(options, dict) or not options:
            return None
        key = rng.choice(sorted(options))
        options[key] = rng.choice(INTERESTING)
        op.customOptions = list(flexbuffers.Dumps(options))
        return f"custom option {key} -> {options[key]}"
    data = bytearray(raw)
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    op.customOptions = list(data)
    return "custom options bit flip"


def _edit_graph_io(rng: random.Random, model: Any) -> str | None:
    graph = _graph(model)
    n = len(graph.tensors)
    which = rng.choice(["inputs", "outputs"])
    ids = [int(i) for i in getattr(graph, which)]
    ids[rng.randrange(len(ids))] = rng.randrange(-1, n + 1)
    setattr(graph, which, ids)
    return f"graph {which} -> {ids}"


def _swap_ops(rng: random.Random, model: Any) -> str | None:
    ops = _graph(model).operators
    if len(ops) < 2:
        return None
    a, b = rng.sample(range(len(ops)), 2)
    ops[a], ops[b] = ops[b], ops[a]
    return f"ops {a} and {b} swapped"


TREE_MUTATIONS: list[Callable[[random.Random, Any], str | None]] = [
    _edit_dim,
    _edit_dim,
    _edit_rank,
    _edit_type,
    _edit_buffer_index,
    _edit_buffer_data,
    _edit_operands,
    _edit_operands,
    _alias_operands,
    _edit_opcode,
    _edit_builtin_option,
    _edit_builtin_option,
    _edit_custom_option,
    _edit_custom_option,
    _edit_graph_io,
    _swap_ops,
]


def mutate_tree(rng: random.Random, data: bytes, count: int) -> tuple[bytes, list[str]] | None:
    """``count`` object-tree edits of a well-formed model, repacked; None if none applied."""
    model = unpack(data)
    done = []
    for _ in range(count * 4):
        if len(done) == count:
            break
        what = rng.choice(TREE_MUTATIONS)(rng, model)
        if what is not None:
            done.append(what)
    if not done:
        return None
    try:
        return pack(model), done
    except (TypeError, ValueError, OverflowError, AttributeError):
        # A value the field's type cannot hold (e.g. -1 in an unsigned index).
        return None


def mutate_bytes(rng: random.Random, data: bytes, count: int) -> tuple[bytes, list[str]]:
    """``count`` edits of the packed bytes."""
    buf = bytearray(data)
    done = []
    for _ in range(count):
        choice = rng.randrange(5)
        if choice == 0:
            cut = rng.randrange(8, len(buf))
            buf = buf[:cut]
            done.append(f"truncated at {cut}")
        elif choice == 1:
            for _ in range(rng.randrange(1, 9)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
            done.append("bit flips")
        elif choice == 2:
            at, size = rng.randrange(len(buf)), rng.randrange(1, 65)
            buf[at : at + size] = bytes(len(buf[at : at + size]))
            done.append(f"zeroed {size} bytes at {at}")
        elif choice == 3 and len(buf) > 16:
            at = rng.randrange(8, len(buf) - 4) & ~3
            buf[at : at + 4] = rng.choice(INTERESTING).to_bytes(4, "little", signed=True)
            done.append(f"planted an int at {at}")
        else:
            src, dst = rng.randrange(len(buf)), rng.randrange(len(buf))
            size = rng.randrange(1, 33)
            chunk = buf[src : src + size]
            buf[dst : dst + len(chunk)] = chunk
            done.append(f"copied {size} bytes {src} -> {dst}")
    # Keep the identifier most of the time so the reader gets past its first check.
    if len(buf) >= 8 and rng.random() < 0.95:
        buf[4:8] = b"TFL3"
    return bytes(buf), done


def mutant(rng: random.Random, data: bytes) -> tuple[bytes, list[str]]:
    """One hostile variant of ``data``: tree edits, byte edits, or both."""
    kind = rng.random()
    if kind < 0.65:
        tree = mutate_tree(rng, data, rng.randint(1, 3))
        if tree is not None:
            if kind < 0.1:
                out, more = mutate_bytes(rng, tree[0], 1)
                return out, tree[1] + more
            return tree
    return mutate_bytes(rng, data, rng.randint(1, 3))


# --- the hand-made cases: each once crashed or corrupted the engine --------------------


def _op_of(model: Any, op_type: str, where: Callable[[Any], bool] = lambda op: True) -> Any:
    names = []
    for code in model.operatorCodes:
        custom = code.customCode.decode() if code.customCode else ""
        names.append(custom or builtin_name(max(code.builtinCode, code.deprecatedBuiltinCode)))
    for op in _graph(model).operators:
        if names[op.opcodeIndex] == op_type and where(op):
            return op
    raise LookupError(f"the seed has no {op_type}")


def _softmax_output(model: Any) -> None:
    # The output no longer holds what SOFTMAX writes: a heap overflow once.
    _graph(model).tensors[_op_of(model, "SOFTMAX").outputs[0]].shape = [1, 1]


def _pad_negative(model: Any) -> None:
    # Paddings [-1, 4] keep the output shape, so only a sign check catches the write
    # before the buffer.
    paddings = _graph(model).tensors[_op_of(model, "PAD").inputs[1]]
    buffer = model.buffers[paddings.buffer]
    dtype = np.int64 if paddings.type == 4 else np.int32
    values = np.frombuffer(bytes(bytearray(buffer.data)), dtype=dtype).copy()
    values[2], values[3] = -1, values[2] + values[3] + 1
    buffer.data = list(values.tobytes())


def _scalar_quantize_input(model: Any) -> None:
    # A rank-0 input of LceQuantize once reached shape.back().
    _graph(model).tensors[_op_of(model, "LceQuantize").inputs[0]].shape = []


def _huge_pool_window(model: Any) -> None:
    # SAME padding keeps the output shape; the tap count 65536 * 65536 overflowed int.
    op = _op_of(model, "MAX_POOL_2D", lambda op: op.builtinOptions.padding == 0)
    options = op.builtinOptions
    options.filterWidth = options.filterHeight = 65536


def _dequantize_rows(model: Any) -> None:
    # Only rank and the last dimension were compared: more rows read past the input.
    tensor = _graph(model).tensors[_op_of(model, "LceDequantize").outputs[0]]
    shape = [int(d) for d in tensor.shape]
    shape[1] *= 50
    tensor.shape = shape


def _depthwise_no_channels(model: Any) -> None:
    # Zero input channels divided by zero (SIGFPE).
    schema = tflite_schema()
    op = _op_of(model, "DEPTHWISE_CONV_2D")
    graph = _graph(model)
    source = graph.tensors[op.inputs[0]]
    empty = schema.TensorT()
    empty.shape = [*[int(d) for d in source.shape][:3], 0]
    empty.type = 0
    empty.name = b"empty_channels"
    graph.tensors.append(empty)
    op.inputs[0] = len(graph.tensors) - 1


def _huge_output_dim(model: Any) -> None:
    # One edited dimension asked for 4 GiB, allocated and zeroed before any check.
    graph = _graph(model)
    tensor = graph.tensors[graph.outputs[0]]
    shape = [int(d) for d in tensor.shape]
    shape[-1] = 1 << 30
    tensor.shape = shape


def _reshape_in_place(model: Any) -> None:
    # Input and output the same tensor: an overlapping memcpy.
    op = _op_of(model, "RESHAPE")
    op.inputs = [int(op.outputs[0]), *[int(i) for i in op.inputs[1:]]]


def _huge_channels_in(model: Any) -> None:
    # channels_in = INT_MAX overflowed int while rounding up to whole bitpacked words.
    op = _op_of(model, "LceBconv2d")
    options = flexbuffers.Loads(bytes(bytearray(op.customOptions)))
    options["channels_in"] = (1 << 31) - 1
    op.customOptions = list(flexbuffers.Dumps(options))


def _ops_out_of_order(model: Any) -> None:
    # The last op first: it read a tensor no op had written yet, whose bytes the memory
    # plan had given to another live tensor (an overlapping memcpy).
    ops = _graph(model).operators
    ops.insert(0, ops.pop())


# name -> (seed file, edit, fragments the refusal must contain)
TARGETED: dict[str, tuple[str, Callable[[Any], None], tuple[str, ...]]] = {
    "softmax_output": ("quicknet_tiny.tflite", _softmax_output, ("SOFTMAX", "shape")),
    "pad_negative": ("float_ops.tflite", _pad_negative, ("PAD", "paddings")),
    "scalar_quantize_input": ("bconv_bits.tflite", _scalar_quantize_input, ("LceQuantize",)),
    "huge_pool_window": ("float_ops.tflite", _huge_pool_window, ("MAX_POOL_2D", "window")),
    "dequantize_rows": ("bconv_bits.tflite", _dequantize_rows, ("LceDequantize", "shape")),
    "depthwise_no_channels": (
        "float_ops.tflite",
        _depthwise_no_channels,
        ("DEPTHWISE_CONV_2D", "empty_channels"),
    ),
    "huge_output_dim": ("quicknet_tiny.tflite", _huge_output_dim, ("MiB",)),
    "reshape_in_place": ("float_ops.tflite", _reshape_in_place, ("RESHAPE", "same tensor")),
    "huge_channels_in": ("quicknet_tiny.tflite", _huge_channels_in, ("LceBconv2d", "channels")),
    "ops_out_of_order": ("common_bnns.tflite", _ops_out_of_order, ("execution order",)),
}


def targeted(name: str, seed: bytes) -> bytes:
    """The hand-made hostile variant ``name`` of its seed model."""
    model = unpack(seed)
    TARGETED[name][1](model)
    return pack(model)
