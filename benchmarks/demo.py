"""Benchmark of `make demo`: a first run from an empty store, then a later run, against the demo's targets.

    python benchmarks/demo.py [--outputs DIR] [OVERRIDE ...]     # e.g. model=mae

Prints the wall time of each run, the phase timings and the forget / retain FID of original and unlearned,
and whether each target is met: first run < 15 min, later run < 5 min, forget FID >= 3x the original's, retain
FID within 10 % of the original's; and how the original was pretrained (per stage: steps, wall time and the
held-out figures, such as the tokenizer's reconstruction PSNR). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"first_s": 15 * 60, "later_s": 5 * 60, "forget_ratio": 3.0, "retain_change": 0.10}


def run_demo(outputs: Path, name: str, overrides: list[str]) -> tuple[float, dict]:
    run_dir = outputs / "runs" / name
    command = [
        sys.executable,
        "-m",
        "iguln",
        "train",
        "experiment=demo",
        f"paths.outputs={outputs}",
        f"hydra.run.dir={run_dir}",
        *overrides,
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, json.loads((run_dir / "results.json").read_text())


def fid(record: dict, model: str, subset: str) -> float:
    return record["metrics"][model][subset]["fid"]["value"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", type=Path, default=None, help="outputs dir (default: a new temporary dir)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides added to both runs, e.g. model=mae")
    args = parser.parse_args()
    outputs = args.outputs or Path(tempfile.mkdtemp(prefix="iguln-bench-"))
    if (outputs / "store").exists():
        print(f"{outputs}/store exists: the first run would not start from an empty store", file=sys.stderr)
        return 2
    first_s, first = run_demo(outputs, "first", args.overrides)
    later_s, later = run_demo(outputs, "later", args.overrides)
    forget_ratio = fid(later, "unlearned", "forget") / fid(later, "original", "forget")
    retain_change = fid(later, "unlearned", "retain") / fid(later, "original", "retain") - 1
    checks = {
        "first run (pretrain + judge + unlearn + score)": (f"{first_s:.0f} s", first_s < TARGETS["first_s"]),
        "later run (store reused)": (f"{later_s:.0f} s", later_s < TARGETS["later_s"]),
        "forget FID, unlearned / original": (f"{forget_ratio:.2f}x", forget_ratio >= TARGETS["forget_ratio"]),
        "retain FID change": (f"{100 * retain_change:+.1f} %", abs(retain_change) <= TARGETS["retain_change"]),
    }
    print(f"\niguln demo benchmark ({outputs}) {' '.join(args.overrides)}")
    print("phase timings, first run (s):", first["timings_s"])
    manifest = json.loads((Path(first["models"]["original"]["path"]) / "manifest.json").read_text())
    for stage, info in manifest.get("training", {}).items():
        summary = {k: info[k] for k in ("steps", "wall_s", "steps_per_s") if k in info}
        print(f"  pretraining stage {stage}: {summary} held out: {info.get('held_out', {})}")
    print("phase timings, later run (s):", later["timings_s"])
    for model in ("original", "unlearned"):
        for subset in ("forget", "retain"):
            entries = later["metrics"][model][subset]
            print(
                f"  {model:9} {subset:6} FID {entries['fid']['value']:8.3f}  IS {entries['is']['value']:6.3f}  "
                f"CLIP {entries['clip']['value']:.4f}  ({entries['fid']['n_generated']} images)"
            )
    print(f"  backbone: {entries['fid']['backbone']}, judge test accuracy {entries['fid']['judge_test_accuracy']}")
    print(f"  same numbers in both runs: {first['metrics'] == later['metrics']}")
    for label, (value, ok) in checks.items():
        print(f"  {label:48} {value:>10}  {'meets target' if ok else 'MISSES target'}")
    return 0 if all(ok for _, ok in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
