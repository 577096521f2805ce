"""The native engine's full-precision ops against XNNPACK's, one op at a time.

Each case is a one-op Keras model at a shape BNNs run it at (stems, transitions, glue,
classifier), converted by LCE, then run by the native engine and by LCE's interpreter
with XNNPACK (the library LCE's TFLite delegates float ops to), alternately in one
process, as ``benchmarks/native_vs_lce.py`` does for whole models. A ratio above 1 means
the native engine is faster. Rows go to ``--results`` as JSON lines.

    python benchmarks/native_float_ops.py
    python benchmarks/native_float_ops.py --threads 1 --runs 100 --cases stem-conv7x7 prelu
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from native_vs_lce import compare, peaks_of_this_engine

import lce_nas  # noqa: F401  (Keras 2 before TensorFlow)


def _cases() -> dict[str, tuple[tuple[int, ...], Callable[[Any], Any]]]:
    """Case name -> (input shape, the op applied to the Keras input)."""
    import tensorflow as tf

    L = tf.keras.layers
    rng = np.random.RandomState(0)

    def constant(*shape: int) -> np.ndarray:
        return rng.uniform(-1, 1, shape).astype(np.float32)

    full, per_channel, other = constant(56, 56, 64), constant(64), constant(1, 28, 28, 128)
    return {
        "stem-conv7x7-s2": ((224, 224, 3), L.Conv2D(64, 7, strides=2, padding="same")),
        "stem-conv3x3-s2": ((224, 224, 3), L.Conv2D(32, 3, strides=2, padding="same")),
        "conv3x3": ((56, 56, 64), L.Conv2D(64, 3, padding="same")),
        "conv1x1-transition": ((28, 28, 256), L.Conv2D(128, 1)),
        "depthwise3x3-s2": ((112, 112, 64), L.DepthwiseConv2D(3, strides=2, padding="same")),
        "dense-classifier": ((512,), L.Dense(1000)),
        "maxpool3x3-s2": ((112, 112, 64), L.MaxPool2D(3, strides=2, padding="same")),
        "avgpool2x2": ((56, 56, 128), L.AveragePooling2D(2)),
        "global-avgpool": ((7, 7, 512), L.GlobalAveragePooling2D()),
        "add": ((56, 56, 64), lambda t: t + full),
        "mul-per-channel": ((56, 56, 64), lambda t: t * per_channel),
        "prelu": ((112, 112, 64), L.PReLU(shared_axes=[1, 2], alpha_initializer="uniform")),
        "concatenation": ((28, 28, 128), lambda t: tf.concat([t, other], axis=-1)),
        "softmax": ((1000,), L.Softmax()),
    }


def convert_case(shape: tuple[int, ...], op: Callable[[Any], Any]) -> bytes:
    """The one-op model, converted by LCE."""
    import tensorflow as tf
    from lce_nas.engine.convert import convert_model

    inp = tf.keras.Input(shape)
    return convert_model(tf.keras.Model(inp, op(inp)))


def main() -> None:
    """Measure every case, write the rows and print the table."""
    cases = _cases()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(cases), choices=list(cases))
    parser.add_argument("--threads", nargs="+", type=int, default=[1])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--results", default="benchmarks/native_float_ops.jsonl")
    args = parser.parse_args()
    if args.runs < 30:
        parser.error("--runs must be at least 30")

    from lce_nas.engine.native.plan import read_plan

    command = shlex.join(["python", *sys.argv])
    host = {"cpu": platform.processor() or platform.machine(), "command": command}
    print(f"{'case':<22}{'op':<20}{'thr':>4}{'native ms':>11}{'XNNPACK ms':>12}{'x':>7}")
    with open(args.results, "w") as out:
        out.write(json.dumps({"kind": "peak", **peaks_of_this_engine(), **host}) + "\n")
        for name in args.cases:
            shape, op = cases[name]
            tflite = convert_case(shape, op)
            ops = [o.type for o in read_plan(tflite).ops]
            for threads in args.threads:
                row = {"kind": "op", "case": name, "input_shape": list(shape), "ops": ops}
                row.update(threads=threads, **host)
                row.update(compare(tflite, threads, args.runs, args.warmup))
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(
                    f"{name:<22}{'+'.join(ops):<20}{threads:>4}"
                    f"{row['native']['median_ms']:>11.3f}{row['lce']['median_ms']:>12.3f}"
                    f"{row['speedup']:>7.2f}",
                    flush=True,
                )
    print(f"\nrows in {args.results}; made by: {command}")


if __name__ == "__main__":
    main()
