"""LCE's two conversion paths against the one lce-nas takes, per model.

For each model (space presets at their deploy shape, 224x224x3 / 1000 classes by
default), builds the deploy model once and converts it three ways, alternating,
best of ``--rounds``: LCE's SavedModel export (its default), LCE's frozen-graph
fallback (traced with AutoGraph), and ``convert_model`` (the frozen graph traced
without AutoGraph). Checks that each flatbuffer runs the same ops on tensors of
the same shapes and types with the same weights as the SavedModel one, gives the
same outputs on one random input, and whether it is byte-identical to LCE's
frozen-graph one. Prints a table and writes one JSON line per model (asserts
nothing about speed):

    python benchmarks/conversion_paths.py [--space quicknet] [--presets a,b] [--rounds 2]
                                          [-o benchmarks/conversion_paths.jsonl]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

# Importing lce_nas (here via lce_nas.engine) sets up TensorFlow's environment first.
from lce_nas.engine.convert import DEPLOY_SEED, _unsaveable, convert_model, model_sha256


def _structure(tflite: bytes) -> tuple[list[str], list[tuple]]:
    """Op names in execution order, and every tensor's shape, type and constant bytes."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=tflite)
    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    tensors = []
    for tensor in interpreter.get_tensor_details():
        try:
            data = interpreter.get_tensor(tensor["index"]).tobytes()
        except ValueError:  # a tensor that is computed, not stored
            data = b""
        tensors.append((tuple(tensor["shape"]), str(tensor["dtype"]), data))
    return ops, sorted(tensors)


def compare(space_name: str, preset: str, rounds: int) -> dict:
    """Both conversions of one preset: times and what differs."""
    import larq_compute_engine as lce
    import tensorflow as tf
    from larq_compute_engine.tflite.python.interpreter import Interpreter
    from lce_nas.space import get_space

    space = get_space(space_name)
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(DEPLOY_SEED)
    model = space.build_deploy(space.preset(preset))
    paths = {
        "saved_model": lambda: bytes(lce.convert_keras_model(model)),
        "frozen_graph": lambda: _lce_frozen_graph(model),
        "lce_nas": lambda: convert_model(model),
    }
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    flatbuffers: dict[str, bytes] = {}
    for _ in range(rounds):
        for name, convert in paths.items():
            start = time.perf_counter()
            flatbuffers[name] = convert()
            seconds[name].append(time.perf_counter() - start)
    saved_ops, saved_tensors = _structure(flatbuffers["saved_model"])
    x = np.random.default_rng(0).standard_normal(model.input_shape[1:]).astype(np.float32)[None]
    reference = Interpreter(flatbuffers["saved_model"]).predict(x)
    row: dict = {"space": space_name, "preset": preset, "rounds": rounds}
    for name, tflite in flatbuffers.items():
        ops, tensors = _structure(tflite)
        row[f"{name}_s"] = min(seconds[name])
        row[f"{name}_bytes"] = len(tflite)
        row[f"{name}_sha256"] = model_sha256(tflite)
        if name != "saved_model":
            row[f"{name}_same_ops"] = ops == saved_ops
            row[f"{name}_same_tensors_and_weights"] = tensors == saved_tensors
            row[f"{name}_max_output_difference"] = float(
                np.abs(Interpreter(tflite).predict(x) - reference).max()
            )
    row["ops"] = len(saved_ops)
    row["lce_nas_is_frozen_graph_bytes"] = flatbuffers["lce_nas"] == flatbuffers["frozen_graph"]
    row |= {
        "lce_version": lce.__version__,
        "tf_version": tf.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    return row


def _lce_frozen_graph(model) -> bytes:
    """LCE's own fallback, AutoGraph included: the model cannot be saved for the call."""
    import larq_compute_engine as lce

    with _unsaveable(model):
        return bytes(lce.convert_keras_model(model))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="quicknet")
    parser.add_argument("--presets", help="Comma-separated (default: every preset).")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("benchmarks/conversion_paths.jsonl")
    )
    args = parser.parse_args()
    from lce_nas.space import get_space

    presets = args.presets.split(",") if args.presets else list(get_space(args.space).presets())
    print(
        f"{'preset':<26} {'SavedModel s':>12} {'frozen s':>9} {'lce-nas s':>9} {'ops':>5} "
        "same ops/tensors/out, bytes = frozen"
    )
    with args.output.open("a") as out:
        for preset in presets:
            row = compare(args.space, preset, args.rounds)
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(
                f"{preset:<26} {row['saved_model_s']:12.1f} {row['frozen_graph_s']:9.1f} "
                f"{row['lce_nas_s']:9.1f} {row['ops']:5d} {row['lce_nas_same_ops']}/"
                f"{row['lce_nas_same_tensors_and_weights']}/"
                f"{row['lce_nas_max_output_difference']:.1e}, "
                f"{row['lce_nas_is_frozen_graph_bytes']}"
            )
    print(f"rows appended to {args.output}: python {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
