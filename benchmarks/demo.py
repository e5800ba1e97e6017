"""Benchmark of `make demo`: a first run from an empty store, then a later run, against the demo's targets.

    python benchmarks/demo.py [--outputs DIR] [OVERRIDE ...]     # e.g. model=mae

Writes benchmarks/results/demo_<family>.md and .json: the wall time of each run, the phase timings, the metrics of
original and unlearned, the FID ratios with their paired bootstrap intervals, whether each target is met (first
run < 15 min, later run < 5 min, forget FID ratio >= 3, retain FID ratio <= 1.10) and how the original was
pretrained (per stage: steps, wall time, held-out figures). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import invocation, write

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


def family_of(overrides: list[str]) -> str:
    return next((o.split("=", 1)[1] for o in overrides if o.startswith("model=")), "vqgan")


def report(first_s: float, first: dict, later_s: float, later: dict, overrides: list[str]) -> tuple[str, dict, bool]:
    """(Markdown, data, whether every target is met) of the two runs."""
    ratios = later["ratios"]
    forget, retain = ratios["forget"], ratios["retain"]
    checks = {
        "first run (pretraining + judge + unlearning + scoring)": (f"{first_s:.0f} s", first_s < TARGETS["first_s"]),
        "later run (store reused)": (f"{later_s:.0f} s", later_s < TARGETS["later_s"]),
        "forget FID, unlearned / original": (
            "{:.2f}x [{:.2f}, {:.2f}]".format(forget["value"], *forget["ci95"]),
            forget["value"] >= TARGETS["forget_ratio"],
        ),
        "retain FID, unlearned / original": (
            "{:.3f}x [{:.3f}, {:.3f}]".format(retain["value"], *retain["ci95"]),
            retain["value"] <= 1 + TARGETS["retain_change"],
        ),
    }
    lines = [f"`iguln train experiment=demo {' '.join(overrides)}`: a first run from an empty store, then a later "
             "run. Targets: first run < 15 min, later run < 5 min, forget FID ratio >= 3, retain FID ratio <= 1.10 "
             "([low, high]: paired bootstrap 95 % interval).", ""]  # fmt: skip
    lines += ["| | measured | target |", "|---|---|---|"]
    lines += [f"| {label} | {value} | {'met' if ok else 'MISSED'} |" for label, (value, ok) in checks.items()]
    lines += ["", "| model | set | images | FID | IS | similarity |", "|---|---|---|---|---|---|"]
    for model in ("original", "unlearned"):
        for subset in ("forget", "retain"):
            e = later["metrics"][model][subset]
            lines.append(f"| {model} | {subset} | {e['fid']['n_generated']} | "
                         "{:.3f} [{:.3f}, {:.3f}] | ".format(e["fid"]["value"], *e["fid"]["ci95"])
                         + f"{e['is']['value']:.3f} | {e['clip']['value']:.4f} |")  # fmt: skip
    entry = later["metrics"]["original"]["forget"]["fid"]
    lines += ["", f"Backbone: {entry['backbone']} (test accuracy {entry.get('judge_test_accuracy')}). "
              f"Same numbers in both runs: {first['metrics'] == later['metrics']}.", "",
              f"Phase timings of the first run (s): {first['timings_s']}", "",
              f"Phase timings of the later run (s): {later['timings_s']}"]  # fmt: skip
    manifest = json.loads((Path(first["models"]["original"]["path"]) / "manifest.json").read_text())
    for stage, info in manifest.get("training", {}).items():
        summary = {k: info[k] for k in ("steps", "wall_s", "steps_per_s") if k in info}
        lines.append(f"\nPretraining stage {stage}: {summary}; held out: {info.get('held_out', {})}")
    data = {"first_s": first_s, "later_s": later_s, "ratios": ratios, "timings": [first["timings_s"],
            later["timings_s"]], "records": [first.get("record"), later.get("record")]}  # fmt: skip
    return "\n".join(lines), data, all(ok for _, ok in checks.values())


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
    text, data, met = report(first_s, first, later_s, later, args.overrides)
    family = family_of(args.overrides)
    how = invocation("demo.py", parser, args)
    print(write(f"demo_{family}", f"The {family} demo", how, text, data).read_text())
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
