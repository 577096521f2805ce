"""The kernels of a converted flatbuffer, read from the file (the truth a space's list matches)."""

from __future__ import annotations

import math

from lce_nas.engine.native.plan import Plan, read_plan
from lce_nas.space.kernels import HWC, Kernel


def _hwc(shape: list[int]) -> HWC:
    dims = [1, 1, 1, *shape[1:]][-3:] if len(shape) > 1 else [1, 1, *shape]
    return (int(dims[0]), int(dims[1]), int(dims[2]))


def _window(plan: Plan, op_index: int) -> tuple[int, int]:
    op = plan.ops[op_index]
    if "filter_h" in op.options:
        return int(op.options["filter_h"]), int(op.options["filter_w"])
    if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "LceBconv2d"):
        filters = plan.tensors[op.inputs[1]].shape
        return int(filters[1]), int(filters[2])
    return (1, 1)


def plan_kernels(plan: Plan) -> list[Kernel]:
    """One :class:`Kernel` per operator of ``plan``, in run order.

    Example:
        >>> plan_kernels(read_plan(open("quicknet.tflite", "rb").read()))[4].op  # doctest: +SKIP
        'LceBconv2d'
    """
    kernels = []
    for i, op in enumerate(plan.ops):
        data = [t for t in op.inputs if t >= 0 and plan.tensors[t].data is None]
        inputs = [plan.tensors[t].shape for t in data] or [plan.tensors[op.inputs[0]].shape]
        inp = _hwc(inputs[0])
        if op.type == "LceBconv2d":
            inp = (inp[0], inp[1], int(op.options["channels_in"]))
        in_elements = sum(math.prod(s) for s in inputs)
        if op.type == "LceBconv2d" or len(inputs) == 1:
            in_elements = math.prod(inp)
        options = op.options
        kernels.append(
            Kernel(
                op.type,
                inp,
                _hwc(plan.tensors[op.outputs[0]].shape),
                _window(plan, i),
                stride=int(options.get("stride_h", options.get("stride_height", 1))),
                dilation=int(options.get("dilation_h", options.get("dilation_height_factor", 1))),
                in_elements=in_elements,
            )
        )
    return kernels


def tflite_kernels(tflite: bytes) -> list[Kernel]:
    """:func:`plan_kernels` of a flatbuffer's bytes."""
    return plan_kernels(read_plan(tflite))
