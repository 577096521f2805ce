"""Where the time goes: per-op rows grouped as in the LCE paper.

Categories, decided by an op's type and its place in run order:

- ``first_layer``: everything before the first LCE op (the full-precision stem);
- ``binary_conv``: ``LceBconv2d``;
- ``glue``: everything between (``LceQuantize``/``LceDequantize``, residual
  ``ADD``, pooling, transitions and their 1x1 full-precision convolutions),
  including adds that directly follow the last binary convolution;
- ``last_layer``: the rest after the last binary convolution (the head:
  pooling, classifier, softmax).

With XNNPACK on, float ops run inside delegate nodes (``TfLiteXNNPackDelegate``
or ``Delegate/...`` rows); they are placed by the same positional rule, so a
delegate partition that spans the stem counts as the first layer.
A model without binary convolutions is all glue.
"""

from __future__ import annotations

import dataclasses

from lce_nas.engine.measurement import OpTiming

CATEGORIES = ("first_layer", "binary_conv", "glue", "last_layer")
LCE_OPS = {"LceQuantize", "LceDequantize", "LceBconv2d", "LceBMaxPool2d"}
BINARY_CONV = "LceBconv2d"
# Ops right after the last binary conv that still belong to the body.
_BODY_TAIL = {"ADD", "MUL", "LceQuantize", "LceDequantize", "LceBMaxPool2d"}


def categorize(op_types: list[str]) -> list[str]:
    """The category of each op, given op types in run order.

    Example:
        >>> categorize(["CONV_2D", "LceQuantize", "LceBconv2d", "ADD", "MEAN",
        ...             "FULLY_CONNECTED"])
        ['first_layer', 'glue', 'binary_conv', 'glue', 'last_layer', 'last_layer']
    """
    binary = [i for i, t in enumerate(op_types) if t == BINARY_CONV]
    if not binary:
        return ["glue"] * len(op_types)
    first_lce = next(i for i, t in enumerate(op_types) if t in LCE_OPS)
    last_binary = binary[-1]
    categories = []
    in_head = False
    for i, op_type in enumerate(op_types):
        if i < first_lce:
            categories.append("first_layer")
        elif op_type == BINARY_CONV:
            categories.append("binary_conv")
        elif i < last_binary:
            categories.append("glue")
        else:
            in_head = in_head or op_type not in _BODY_TAIL
            categories.append("last_layer" if in_head else "glue")
    return categories


def classify(rows: list[OpTiming]) -> tuple[list[OpTiming], dict[str, float]]:
    """Rows with their ``category`` set, and milliseconds per category.

    Example:
        >>> rows, ms = classify([OpTiming("CONV_2D", "stem", 2.0),
        ...                      OpTiming("LceBconv2d", "b", 5.0),
        ...                      OpTiming("FULLY_CONNECTED", "fc", 1.0)])
        >>> ms
        {'first_layer': 2.0, 'binary_conv': 5.0, 'glue': 0.0, 'last_layer': 1.0}
    """
    categories = categorize([r.op_type for r in rows])
    out = [dataclasses.replace(r, category=c) for r, c in zip(rows, categories, strict=True)]
    totals = dict.fromkeys(CATEGORIES, 0.0)
    for row in out:
        totals[row.category] += row.avg_ms
    return out, {k: round(v, 6) for k, v in totals.items()}
