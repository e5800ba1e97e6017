"""Is the demo's original a draw? Pretrain one original per model seed and pretraining length, score each on the
forget and retain test images of the matrix's splits (no unlearning), and compare: per split and length, the largest
/ smallest original forget FID over the model seeds. Where that spread is large, the demo's verdicts (forget FID
ratio = unlearned / original) hang on which original a machine or a model seed happened to draw.

    python benchmarks/originals.py [--family vqgan] [--model-seeds 0,1,2] [--steps 800,2400] [--splits NAME,...]
                                   [--outputs DIR] [--name originals_<family>] [--report-only] [OVERRIDE ...]

--steps: the values of `model.pretrain.steps` (vqgan: the transformer's stage; the tokenizer's is
model.tokenizer.pretrain.steps, an OVERRIDE). Each original is pretrained by `iguln pretrain experiment=demo`
(reused when the store under DIR has it) and scored by `iguln eval experiment=demo` with the demo's decoding and
judge. Writes benchmarks/results/<name>.md and .json from the eval records under DIR.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from matrix import ROLE, SPLITS, original_of, split_overrides
from provenance import REPO, invocation, result_name, write


def launch(command: str, outputs: Path, sweep: Path, family: str, model_seeds: list[int], steps: int,
           overrides: list[str]) -> int:  # fmt: skip
    """`iguln <command> -m experiment=demo` over the model seeds at one pretraining length; its exit status."""
    line = [sys.executable, "-m", "iguln", command, "-m", "experiment=demo", f"model={family}",
            f"model.seed={','.join(map(str, model_seeds))}", f"model.pretrain.steps={steps}",
            f"paths.outputs={outputs}", f"hydra.sweep.dir={sweep}", *overrides]  # fmt: skip
    print("+", " ".join(line[2:]), flush=True)
    return subprocess.run(line, check=False, cwd=REPO, stderr=subprocess.DEVNULL).returncode


def pretrain(outputs: Path, family: str, model_seeds: list[int], steps: int, overrides: list[str]) -> None:
    sweep = outputs / "pretrain" / f"steps_{steps}"
    if launch("pretrain", outputs, sweep, family, model_seeds, steps, overrides) != 0:
        sys.exit(f"originals.py: pretraining failed; each job's error: {sweep}/sweep.json")


def score(outputs: Path, family: str, split: str, model_seeds: list[int], steps: int, overrides: list[str]) -> None:
    sweep = outputs / family / f"steps_{steps}" / split
    launch("eval", outputs, sweep, family, model_seeds, steps, [*split_overrides(SPLITS[split]), *overrides])


def scored(outputs: Path, family: str) -> list[dict]:
    """One row per eval record under outputs/<family>/steps_*/<split>/*/results.json."""
    rows = []
    for path in sorted((outputs / family).glob("steps_*/*/*/results.json")):
        record = json.loads(path.read_text())
        split = path.parent.parent.name
        if record["status"] != "complete" or split not in SPLITS:
            continue
        metrics = record["metrics"]["original"]
        row = {"split": split, "model_seed": record["config"]["model"]["seed"],
               "steps": record["config"]["model"]["pretrain"]["steps"], "original": original_of(record),
               "sha256": record["models"]["original"]["sha256"], "record": str(path),
               "backbone": metrics["forget"]["fid"].get("backbone")}  # fmt: skip
        for s in ("forget", "retain"):
            fid = metrics[s]["fid"]
            row[f"{s}_fid"], row[f"{s}_ci95"] = fid["value"], fid.get("ci95")
        rows.append(row)
    return sorted(rows, key=lambda r: (r["steps"], list(SPLITS).index(r["split"]), r["model_seed"]))


def fid(row: dict, s: str) -> str:
    ci = row[f"{s}_ci95"]
    return f"{row[f'{s}_fid']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def spreads(rows: list[dict]) -> list[dict]:
    """Per pretraining length and split: the largest / smallest original FID over the model seeds."""
    out = []
    for steps in sorted({r["steps"] for r in rows}):
        for split in SPLITS:
            group = [r for r in rows if r["steps"] == steps and r["split"] == split]
            if len(group) < 2:
                continue
            entry = {"steps": steps, "split": split, "n": len(group)}
            for s in ("forget", "retain"):
                values = [r[f"{s}_fid"] for r in group]
                entry[f"{s}_min"], entry[f"{s}_max"] = min(values), max(values)
                entry[f"{s}_spread"] = max(values) / min(values)
            out.append(entry)
    return out


def markdown(rows: list[dict], family: str) -> str:
    lines = [f"Family {family}: the original of each model seed and pretraining length (`model.pretrain.steps`), "
             "scored on the forget and retain test images of each split (the other eight classes retained) with "
             "the demo's decoding; no unlearning. FID [paired bootstrap 95 % interval]; backbone: "
             f"{', '.join(sorted({str(r['backbone']) for r in rows})) or 'none scored'}.",
             "", "| model.pretrain.steps | split | role | model.seed | original (pretrained with) | forget FID | "
             "retain FID |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['steps']} | {r['split']} | {ROLE.get(r['split'], 'held out')} | {r['model_seed']} | "
                     f"{r['original']} | {fid(r, 'forget')} | {fid(r, 'retain')} |")  # fmt: skip
    lines += ["", "Per pretraining length and split, over the model seeds: the smallest and largest original FID and "
              "their ratio (largest / smallest; 1 where every model seed's original fills the split alike).", "",
              "| model.pretrain.steps | split | n | forget FID smallest - largest | largest / smallest | "
              "retain FID smallest - largest | largest / smallest |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for e in spreads(rows):
        lines.append(f"| {e['steps']} | {e['split']} | {e['n']} | {e['forget_min']:.2f} - {e['forget_max']:.2f} | "
                     f"{e['forget_spread']:.2f} | {e['retain_min']:.2f} - {e['retain_max']:.2f} | "
                     f"{e['retain_spread']:.2f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="vqgan", choices=["vqgan", "mae", "diffusion"])
    parser.add_argument("--model-seeds", default="0,1,2")
    parser.add_argument("--steps", default="800,2400", help="values of model.pretrain.steps")
    parser.add_argument("--splits", default="trouser+bag,sandal+pullover,dress+sneaker,coat+ankle_boot",
                        help=f"of {', '.join(SPLITS)}")  # fmt: skip
    parser.add_argument("--name", type=result_name, default=None, help="default originals_<family>")
    parser.add_argument("--outputs", type=Path, default=REPO / "outputs" / "bench-originals")
    parser.add_argument("--report-only", action="store_true", help="rebuild the files from the records there")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    for option in ("model_seeds", "steps"):
        if not all(v.isdigit() for v in getattr(args, option).split(",")):
            parser.error(f"--{option.replace('_', '-')}={getattr(args, option)!r}: allowed: integers separated by "
                         "commas, e.g. 0,1,2")  # fmt: skip
    model_seeds = [int(s) for s in args.model_seeds.split(",")]
    steps_list = [int(s) for s in args.steps.split(",")]
    splits = args.splits.split(",")
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        parser.error(f"--splits: unknown {', '.join(unknown)}; allowed: {', '.join(SPLITS)}")
    name = args.name or f"originals_{args.family}"
    if not args.report_only:
        for steps in steps_list:
            pretrain(args.outputs, args.family, model_seeds, steps, args.overrides)
            for split in splits:
                score(args.outputs, args.family, split, model_seeds, steps, args.overrides)
    rows = scored(args.outputs, args.family)
    how = invocation("originals.py", parser, args, "family", "model_seeds", "steps", "splits", "name")
    path = write(name, "How far the original is a draw", how, markdown(rows, args.family),
                 {"family": args.family, "overrides": args.overrides, "originals": rows,
                  "spreads": spreads(rows)})  # fmt: skip
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
