"""LCE conversion from the frozen graph against LCE's SavedModel path, per model.

For each model (space presets at their deploy shape, 224x224x3 / 1000 classes by
default), builds the deploy model once, converts it both ways (alternating, best
of ``--rounds``), and checks that the two flatbuffers run the same ops on
tensors of the same shapes and types with the same weights, and give the same
outputs on one random input. Prints a table and writes one JSON line per
model (asserts nothing about speed):

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
from lce_nas.engine.convert import DEPLOY_SEED, convert_model, model_sha256


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
    saved_s, frozen_s = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        saved = bytes(lce.convert_keras_model(model))
        saved_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        frozen = convert_model(model)
        frozen_s.append(time.perf_counter() - start)
    saved_ops, saved_tensors = _structure(saved)
    frozen_ops, frozen_tensors = _structure(frozen)
    x = np.random.default_rng(0).standard_normal(model.input_shape[1:]).astype(np.float32)[None]
    difference = float(np.abs(Interpreter(saved).predict(x) - Interpreter(frozen).predict(x)).max())
    return {
        "space": space_name,
        "preset": preset,
        "saved_model_s": min(saved_s),
        "frozen_graph_s": min(frozen_s),
        "rounds": rounds,
        "saved_model_bytes": len(saved),
        "frozen_graph_bytes": len(frozen),
        "saved_model_sha256": model_sha256(saved),
        "frozen_graph_sha256": model_sha256(frozen),
        "ops": len(frozen_ops),
        "same_ops": saved_ops == frozen_ops,
        "same_tensors_and_weights": saved_tensors == frozen_tensors,
        "max_output_difference": difference,
        "lce_version": lce.__version__,
        "tf_version": tf.__version__,
        "machine": platform.processor() or platform.machine(),
    }


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
    print(f"{'preset':<26} {'SavedModel s':>12} {'frozen s':>9} {'ops':>5} same ops/tensors/out")
    with args.output.open("a") as out:
        for preset in presets:
            row = compare(args.space, preset, args.rounds)
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(
                f"{preset:<26} {row['saved_model_s']:12.1f} {row['frozen_graph_s']:9.1f} "
                f"{row['ops']:5d} {row['same_ops']}/{row['same_tensors_and_weights']}/"
                f"{row['max_output_difference']:.1e}"
            )
    print(f"rows appended to {args.output}: python {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
