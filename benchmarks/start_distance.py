"""How far each drawn noise image's target starts from the forget images: the forget term of the demo's loss at the
run's start, where the student is still the teacher, ||E0(x_f) - E0(n)||^2 (in the loss's view of the features),
for the one noise image each job seed draws, on each split of the matrix. It is the value a job with
`loss.forget_norm=initial` divides its forget term by (its record's `unlearning.forget_scale`), computed here
without unlearning, from the stored original alone.

    python benchmarks/start_distance.py --model DIR [--seeds 0,1,2] [--name start_distance_<family>] [OVERRIDE ...]

DIR: a generator folder (the store's original). Each job seed's split (its fixed sample of 256 forget train images, as
the job takes it) and noise image (loss.noise_draw=once, as the job draws it). If the verdicts that hang on the
draw followed this distance, a draw with a larger start would push the student further: the ratio of the largest
to the smallest start per split says how much room that leaves. Writes benchmarks/results/<name>.md and .json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from matrix import ROLE, SPLITS, split_overrides
from provenance import invocation, result_name, write


def start_distance(original, source, forget: list[str], seed: int, overrides: list[str]) -> float:
    """The forget term at the start for job seed `seed` on the split that forgets `forget` (the other eight
    retained), fixed as unlearn() fixes it for loss.forget_norm=initial."""
    import torch

    from iguln.commands.reproduce import compose_job
    from iguln.data.masks import task_mask
    from iguln.data.split import make_split
    from iguln.unlearn.losses import build_loss
    from iguln.unlearn.unlearning import fix_forget_target

    chosen = [*split_overrides(forget), f"seed={seed}", *overrides, "loss.forget_norm=initial"]
    cfg = compose_job("demo", original.family, chosen)
    split = make_split(cfg.split, source.classes, source.targets("train"), source.targets("test"))
    loss = build_loss(cfg.loss)
    mask = task_mask(cfg.task, original.arch["image_size"])
    forget_set = source.subset("train", split.unlearn["forget"])
    fix_forget_target(loss, original, forget_set, mask, seed, torch.device("cpu"))
    return loss.forget_scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a generator folder: the store's original")
    parser.add_argument("--seeds", default="0,1,2", help="job seeds, each with its own noise image")
    parser.add_argument("--name", type=result_name, default=None, help="default start_distance_<family>")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    if not all(s.isdigit() for s in args.seeds.split(",")):
        parser.error(f"--seeds={args.seeds!r}: allowed: integers >= 0 separated by commas, e.g. 0,1,2")
    seeds = [int(s) for s in args.seeds.split(",")]

    from iguln.commands.reproduce import compose_job
    from iguln.data.sources import load_source
    from iguln.models.families import configure_generation
    from iguln.models.storage import load_generator

    original, manifest = load_generator(args.model)
    family = original.family
    cfg = compose_job("demo", family, list(args.overrides))
    configure_generation(original, cfg.model)
    original.eval()
    source = load_source(cfg.data, original.arch["image_size"], cfg.paths.downloads)
    rows = []
    for split, forget in SPLITS.items():
        starts = {seed: start_distance(original, source, forget, seed, args.overrides) for seed in seeds}
        rows.append({"split": split, "start": starts})
        print(split, {k: round(v, 4) for k, v in starts.items()}, flush=True)

    view, noise = cfg.loss.get("features", "encoder"), cfg.loss.noise
    lines = [f"Family {family}, original {args.model.name} (sha256 {manifest['sha256'][:12]}). The forget term at "
             f"the start (features: {view}; noise: {noise}, drawn {cfg.loss.get('noise_draw', 'step')}), per job "
             "seed; largest / smallest: the spread over the draws.", "",
             "| split | role | " + " | ".join(f"seed {s}" for s in seeds) + " | largest | largest / smallest |",
             "|---|---|" + "---|" * (len(seeds) + 2)]  # fmt: skip
    for row in rows:
        starts = row["start"]
        top = max(starts, key=starts.get)
        spread = max(starts.values()) / min(starts.values())
        cells = " | ".join(f"{starts[s]:.4f}" for s in seeds)
        lines.append(f"| {row['split']} | {ROLE.get(row['split'], 'held out')} | {cells} | seed {top} | {spread:.2f} |")
    name = args.name or f"start_distance_{family}"
    how = invocation("start_distance.py --model DIR", parser, args, "seeds", "name")
    data = {"family": family, "original": args.model.name, "original_sha256": manifest["sha256"], "seeds": seeds,
            "features": view, "rows": rows}  # fmt: skip
    path = write(name, f"Where the forget term starts: {family}", how, "\n".join(lines), data)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
