"""Does the speed sentinel follow the model's latency? One model timed again and again.

Converts QuickNetSmall (32x32x3, 10 classes) once, then times it ``--runs``
times on the host device with LCE's interpreter, ``--seconds`` each, with a
pause between. Each measurement keeps its median sentinel (see
``lce_nas.engine.sentinel``), so the rows show how the model's median and the
sentinel move together on this machine: their spreads (max / min) and their
Pearson correlation. One JSON line per measurement and a summary line go to
``benchmarks/speed_sentinel.jsonl``; asserts nothing:

    python benchmarks/speed_sentinel.py [--runs 15] [--seconds 2] [-o OUT.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).with_suffix(".jsonl"))
    args = parser.parse_args()

    from lce_nas.engine import get_device, measure
    from lce_nas.engine.convert import convert_deploy
    from lce_nas.engine.sentinel import facts_sentinel
    from lce_nas.space import get_space
    from lce_nas.space.shape import DeployShape

    space = get_space("quicknet")
    _, tflite = convert_deploy(space, space.preset("quicknet-small"), DeployShape(32, 32, 3, 10))
    device = get_device("host")
    rows = []
    for run in range(args.runs):
        m = measure(tflite, device, max_seconds=args.seconds)
        rows.append(
            {
                "run": run,
                "model": "quicknet-small 32x32x3/10",
                "engine": f"{m.engine} {m.engine_version}",
                "median_ms": round(m.median_ms, 4),
                "p10_ms": round(m.p10_ms, 4),
                "p90_ms": round(m.p90_ms, 4),
                "sentinel_ms": facts_sentinel(m.host_facts),
                "sentinel_samples": m.host_facts.get("sentinel_samples"),
                "scheduling": m.host_facts.get("scheduling"),
                "measured_at": m.measured_at.isoformat(timespec="seconds"),
            }
        )
        print(json.dumps(rows[-1]))
        time.sleep(args.pause)
    medians = [r["median_ms"] for r in rows]
    sentinels = [r["sentinel_ms"] for r in rows]
    summary = {
        "summary": True,
        "runs": len(rows),
        "median_spread": round(max(medians) / min(medians), 3),
        "sentinel_spread": round(max(sentinels) / min(sentinels), 3),
        "correlation": round(statistics.correlation(medians, sentinels), 3),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    print(json.dumps(summary))
    with args.output.open("w") as out:
        for row in [*rows, summary]:
            out.write(json.dumps(row) + "\n")
    print(f"wrote {args.output}; made by: python benchmarks/speed_sentinel.py", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
