"""Fuzz the native engine with hostile flatbuffers; a crash is counted, never fatal.

Every input is checked in a worker process (``--worker``): the model checks of
``tflite_info`` (must answer or raise ``UserError``), then ``native.load`` and one
inference (must run or raise ``NativeModelError``). A worker that dies on an
input is a crash, one that does not answer in ``--timeout`` seconds a hang; the
next input gets a fresh worker. Inputs are the committed corpus
(``fuzz_corpus/``: seed models and hand-made past crashes) followed by fresh
mutants of the seeds. Run it against a sanitizer build by preloading one (see
``scripts/test.sh``).

    python tests/native/fuzz.py --mutants 1000 --seed 0 --out benchmarks/native_fuzz_seed0.jsonl
    python tests/native/fuzz.py --make-corpus     # rewrite fuzz_corpus/ (needs TensorFlow)

Prints the counts per outcome; exits 1 if anything crashed, hung or raised
another error.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "fuzz_corpus"
# Enough for every seed; a mutant asking for more is refused, which is what a
# damaged dimension should get (and keeps a sanitizer build's memory small).
FUZZ_MAX_BYTES = 256 << 20
BAD = ("crash", "hang", "error")


def corpus_files() -> list[Path]:
    """Seeds first (``*.tflite``), then the hand-made cases (``targeted_*.tflite``)."""
    files = sorted(CORPUS.glob("*.tflite"))
    return [f for f in files if not f.name.startswith("targeted_")] + [
        f for f in files if f.name.startswith("targeted_")
    ]


def seed_files() -> list[Path]:
    """The well-formed seed models of the corpus."""
    return [f for f in corpus_files() if not f.name.startswith("targeted_")]


# --- the worker: one process, inputs one after another on stdin ---------------------


def check(data: bytes) -> dict[str, Any]:
    """Outcome of one input: ``ran`` or ``refused`` (wanted), or ``error`` with its type."""
    import numpy as np
    from lce_nas.engine import native
    from lce_nas.engine.tflite_info import read_model_info

    from lce_nas.errors import UserError

    out: dict[str, Any] = {}
    try:
        read_model_info(data)
    except UserError:
        pass
    except Exception as exc:
        out["error"] = f"tflite_info: {type(exc).__name__}: {exc}"[:300]
    try:
        model = native.load(data, num_threads=1, max_bytes=FUZZ_MAX_BYTES)
        rng = np.random.default_rng(0)
        model.run([rng.normal(size=s).astype(np.float32) for s in model.input_shapes])
        out.setdefault("outcome", "ran")
    except native.NativeModelError as exc:
        out["outcome"] = "refused"
        out["message"] = str(exc)[:300]
    except Exception as exc:
        out["error"] = f"native: {type(exc).__name__}: {exc}"[:300]
    if "error" in out:
        out["outcome"] = "error"
    return out


def worker() -> None:
    """Read length-prefixed inputs from stdin, answer one JSON line each on stdout."""
    import lce_nas.engine.native  # noqa: F401  (import cost paid before the first input)

    stdin, stdout = sys.stdin.buffer, sys.stdout
    while True:
        head = stdin.read(4)
        if len(head) < 4:
            return
        data = stdin.read(struct.unpack("<I", head)[0])
        stdout.write(json.dumps(check(data)) + "\n")
        stdout.flush()


class Runner:
    """Feeds inputs to a worker process, restarting it after a crash or a hang."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.proc: subprocess.Popen | None = None
        # Kept open across worker restarts, closed in close().
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115

    def _start(self) -> subprocess.Popen:
        self.stderr.seek(0)
        self.stderr.truncate()
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )

    def _stderr_tail(self) -> str:
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        # A sanitizer report names the bug on its first "ERROR:"/"runtime error" line.
        marks = [ln for ln in lines if "ERROR:" in ln or "runtime error" in ln]
        return (marks[0] if marks else " | ".join(lines[-3:]))[:400]

    def run(self, data: bytes) -> dict[str, Any]:
        """The outcome of one input (``crash`` and ``hang`` included)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(struct.pack("<I", len(data)) + data)
            proc.stdin.flush()
        except BrokenPipeError:
            pass
        ready, _, _ = select.select([proc.stdout], [], [], self.timeout_s)
        line = proc.stdout.readline() if ready else b""
        if line:
            return json.loads(line)
        if not ready:
            proc.kill()
            proc.wait()
            self.proc = None
            return {"outcome": "hang", "message": f"no answer in {self.timeout_s:g} s"}
        code = proc.wait()
        self.proc = None
        return {"outcome": "crash", "returncode": code, "message": self._stderr_tail()}

    def close(self) -> None:
        """Stop the worker."""
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        self.stderr.close()


def extension_file() -> str:
    """Where the loaded native extension lives (the sanitizer copy, when preloaded)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lce_nas.engine.native import _native; print(_native.__file__)",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    path = out.stdout.strip()
    if not path:
        return out.stderr.strip()[-200:]
    # Relative to the repository, so results read the same on every checkout.
    root = HERE.parents[1]
    return str(Path(path).relative_to(root)) if Path(path).is_relative_to(root) else path


def fuzz(
    mutants: int,
    seed: int,
    timeout_s: float = 30.0,
    out: Path | None = None,
    save_failures: Path | None = None,
) -> tuple[Counter, list[dict[str, Any]]]:
    """Check the corpus, then ``mutants`` fresh mutants; counts per outcome and all records.

    Inputs that crash, hang or raise another error are written to ``save_failures``
    (``<index>.tflite``) when given, to be replayed or added to the corpus.
    """
    from fuzz_mutate import mutant

    rng = random.Random(seed)
    seeds = {f.name: f.read_bytes() for f in seed_files()}
    inputs = [(f.name, [], f.read_bytes()) for f in corpus_files()]
    for _ in range(mutants):
        name = rng.choice(sorted(seeds))
        data, how = mutant(rng, seeds[name])
        inputs.append((name, how, data))
    runner = Runner(timeout_s)
    counts: Counter = Counter()
    records = []
    try:
        for index, (name, how, data) in enumerate(inputs):
            t0 = time.perf_counter()
            result = runner.run(data)
            record = {
                "index": index,
                "source": name,
                "mutations": how,
                "bytes": len(data),
                "seconds": round(time.perf_counter() - t0, 4),
                **result,
            }
            counts[result["outcome"]] += 1
            records.append(record)
            if save_failures is not None and result["outcome"] in BAD:
                save_failures.mkdir(parents=True, exist_ok=True)
                (save_failures / f"{index}.tflite").write_bytes(data)
    finally:
        runner.close()
    if out is not None:
        summary = {
            "summary": dict(counts),
            "inputs": len(inputs),
            "corpus": len(inputs) - mutants,
            "mutants": mutants,
            "seed": seed,
            "extension": extension_file(),
            "asan": "LD_PRELOAD" in os.environ,
        }
        with out.open("w") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
            handle.write(json.dumps(summary) + "\n")
    return counts, records


# --- the corpus ------------------------------------------------------------------------


def make_corpus() -> None:
    """Convert the seed models and write them with the hand-made cases into fuzz_corpus/."""
    sys.path.insert(0, str(HERE))
    import lce_nas  # noqa: F401  (Keras 2 before TensorFlow)

    CORPUS.mkdir(exist_ok=True)
    import tensorflow as tf
    from fuzz_mutate import TARGETED, targeted
    from lce_nas.space import get_space
    from native_models import (
        bconv_grid_model,
        common_bnns_model,
        float_ops_model,
        int8_ops_model,
        layout_ops_model,
        where_quantizer_model,
    )
    from native_support import convert, convert_int8

    space = get_space("quicknet")
    config = space.config_from_params(
        {"section_blocks": [1, 1, 1, 1], "section_filters": [32, 32, 32, 64], "stem_filters": 8}
    )
    seeds = {
        "quicknet_tiny.tflite": space.build_deploy(config, input_shape=(32, 32, 3), classes=10),
        "float_ops.tflite": float_ops_model(),
        "bconv_bits.tflite": bconv_grid_model((7, 7, 1)),
        "common_bnns.tflite": common_bnns_model(),
        "where_quantizers.tflite": where_quantizer_model(),
        "layout_ops.tflite": layout_ops_model(),
    }
    for name, model in seeds.items():
        (CORPUS / name).write_bytes(convert(model, seed=1))
        tf.keras.backend.clear_session()
    (CORPUS / "int8_ops.tflite").write_bytes(convert_int8(int8_ops_model(), seed=1))
    for name, (seed_name, _edit, _fragments) in TARGETED.items():
        data = targeted(name, (CORPUS / seed_name).read_bytes())
        (CORPUS / f"targeted_{name}.tflite").write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    """Command line: fuzz (default), ``--worker`` or ``--make-corpus``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per input")
    parser.add_argument("--out", type=Path, help="JSON-lines results (one line per input)")
    parser.add_argument("--save-failures", type=Path, help="folder for inputs that failed")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--make-corpus", action="store_true")
    args = parser.parse_args(argv)
    if args.worker:
        worker()
        return 0
    if args.make_corpus:
        make_corpus()
        return 0
    if args.mutants < 0 or args.timeout <= 0:
        print("error: --mutants must be >= 0 and --timeout > 0", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    counts, records = fuzz(args.mutants, args.seed, args.timeout, args.out, args.save_failures)
    print(
        f"{sum(counts.values())} inputs ({len(records) - args.mutants} corpus + {args.mutants} "
        f"mutants, seed {args.seed}) in {time.perf_counter() - t0:.0f} s: "
        + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("ran", "refused", *BAD))
    )
    for record in records:
        if record["outcome"] in BAD:
            detail = record.get("message") or record.get("error")
            print(f"  {record['outcome']} #{record['index']} {record['source']}: {detail}")
    return 1 if any(counts[k] for k in BAD) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
