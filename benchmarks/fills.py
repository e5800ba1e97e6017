"""What the forget FID of a fixed fill is, with no model at all: the forget test images of each matrix split with
the task's hole filled black, gray, white or with uniform noise, scored against the real images by the domain
judge, as a ratio of the original's forget FID when the matrix's records are there.

    python benchmarks/fills.py [--outputs DIR]     # DIR: the matrix's outputs (its store holds the judge)

It shows how much of the forget FID a fill can move on each split: the unmasked surround carries the class, so
the same fill moves the judge's features by different amounts on different classes. Seed 0's test images (those of
the matrix's seed-0 runs). Writes benchmarks/results/fills.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from matrix import ROLE, SPLITS, split_overrides
from provenance import REPO, RESULTS, write

FILLS = ("black", "gray", "white", "uniform")


def fill(x: torch.Tensor, mask: torch.Tensor, kind: str, generator: torch.Generator) -> torch.Tensor:
    """x (N, C, H, W) in [-1, 1] with the hole (mask 1) filled by one fixed kind of pixels."""
    value = {"black": -1.0, "gray": 0.0, "white": 1.0}
    inside = torch.rand(x.shape, generator=generator) * 2 - 1 if kind == "uniform" else torch.full_like(x, value[kind])
    return x * (1 - mask) + mask * inside


def original_fids() -> dict[str, dict[str, float]]:
    """Each family's original forget FID per split, from the matrix's seed-0 records of model seed 0:
    {family: {split: FID}}
    (empty when not there)."""
    path = RESULTS / "matrix.json"
    if not path.exists():
        return {}
    out: dict[str, dict[str, float]] = {}
    for r in json.loads(path.read_text())["runs"]:
        if r["status"] == "complete" and r["seed"] == 0 and r.get("model_seed", 0) == 0:
            out.setdefault(r.get("family", "vqgan"), {})[r["split"]] = r["forget_fid_original"]
    return out


def judge_for(cfg, source):
    """(the domain judge of cfg's store, trained there when missing, its manifest), on the CPU."""
    from iguln.metrics.judge import load_or_train_judge
    from iguln.training.recipe import read_recipe

    recipe = read_recipe(cfg.eval.judge, "eval.judge")
    judge, manifest, _ = load_or_train_judge(source, cfg.eval.judge.width, recipe, cfg.paths.store,
                                             torch.device("cpu"), cfg.eval.judge.seed, "fp32")  # fmt: skip
    return judge, manifest


def forget_test_images(source, family: str | None, forget: list[str]) -> torch.Tensor:
    """The forget test images [N, C, H, W] of a matrix split (forget classes, the other eight retained) for seed 0,
    as the matrix's seed-0 runs score them."""
    from iguln.commands.reproduce import compose_job
    from iguln.data.split import make_split

    split_cfg = compose_job("demo", family, [*split_overrides(forget), "seed=0"]).split
    split = make_split(split_cfg, source.classes, source.targets("train"), source.targets("test"))
    images = source.subset("test", split.evaluate["forget"])
    return torch.stack([images[i][0] for i in range(len(images))])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", type=Path, default=REPO / "outputs" / "bench-matrix")
    args = parser.parse_args()

    from iguln.commands.reproduce import compose_job
    from iguln.data.masks import task_mask
    from iguln.data.sources import load_source
    from iguln.metrics.scores import fid
    from iguln.models.families import resolve_model_config

    cfg = compose_job("demo", None, [f"paths.outputs={args.outputs}"])
    size = resolve_model_config(cfg.model, cfg.data.channels).arch.image_size
    source = load_source(cfg.data, size, cfg.paths.downloads)
    judge, manifest = judge_for(cfg, source)
    mask = task_mask(cfg.task, size)
    originals = original_fids()
    generator = torch.Generator().manual_seed(0)
    rows = []
    for name, forget in SPLITS.items():
        x = forget_test_images(source, None, forget)
        with torch.no_grad():
            real = judge.features(x)["pool"]
            fids = {kind: fid(real, judge.features(fill(x, mask, kind, generator))["pool"]) for kind in FILLS}
        rows.append({"split": name, "images": len(x), "fid": fids,
                     "original": {family: by_split.get(name) for family, by_split in originals.items()}})  # fmt: skip

    families = sorted(originals)
    lines = [f"Backbone: the domain judge (test accuracy {manifest.get('test_accuracy')}), features of the forget "
             "test images with the hole filled, against the same images unfilled. Original: each family's original "
             "generator's forget FID on the same images (matrix.md, seed 0); in brackets, the fill's FID over it: "
             "the ratio a generator that always made that fill would reach.", "",
             "| split | role | images | " + " | ".join(f"original ({f})" for f in families) + " | "
             + " | ".join(FILLS) + " |",
             "|---|---|---|" + "---|" * (len(families) + len(FILLS))]  # fmt: skip
    for r in rows:
        known = {f: v for f, v in r["original"].items() if v}
        cells = [f"{r['fid'][k]:.1f}" + (" (" + ", ".join(f"{r['fid'][k] / v:.1f}x {f}" for f, v in known.items())
                 + ")" if known else "") for k in FILLS]  # fmt: skip
        shown = [f"{r['original'][f]:.2f}" if r["original"].get(f) else "no record" for f in families]
        lines.append(f"| {r['split']} | {ROLE.get(r['split'], 'held out')} | {r['images']} | "
                     + " | ".join([*shown, *cells]) + " |")  # fmt: skip
    print(write("fills", "The forget FID of fixed fills", "python benchmarks/fills.py", "\n".join(lines),
                {"rows": rows}).read_text())  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
