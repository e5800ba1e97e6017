"""How far the paper's loss can move the forget FID at best, on each split of the matrix: if unlearning succeeded
perfectly, the student's features of a forget image would be the teacher's features of the noise image,
E(x_f) = E0(n), and the hole would be filled as the original fills n. This scores exactly that fill, pasted into
the forget test images' own surround, against the real images (domain judge), as a ratio of the original's own
forget FID on the same images. No unlearning is run: only the stored original.

    python benchmarks/ceiling.py --model DIR [--outputs DIR] [--noise-seeds 0,1,2] [OVERRIDE ...]

DIR: a generator folder (the store's original); --outputs: the outputs dir whose store holds the judge (the
matrix's). Overrides go to the demo's config (e.g. model.decode.iterations=1). Targets, one per `loss.noise`
value: "once" (one noise image for the run, noise_draw=once) and "per image" (a fresh noise image per forget
image, as noise_draw=step draws them). A one-round decoder (vqgan with iterations=1, MAE) fills the hole from the
encoder's features alone, so the fill is exactly what perfect unlearning gives; with more rounds, later rounds
also see the tokens already filled, and the figure is an estimate. Diffusion is left out: its forget target is the
forget image's own surround with noise in the hole, and its encoder's skip features reach the decoder.
--noise-seeds: instead, only the demo's noise, drawn once as each of those loss.noise_seed values draws it.
Writes benchmarks/results/ceiling_<family>.md and .json (ceiling_<family>_noise_seeds with --noise-seeds).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from fills import forget_test_images, judge_for
from matrix import ROLE, SPLITS
from provenance import REPO, invocation, write

NOISES = ("uniform", "gaussian", "constant")


def fill_with(generator, x: torch.Tensor, source: torch.Tensor, mask: torch.Tensor, draws, batch: int = 250):
    """x [N, C, H, W] with its hole replaced by the generator's fill of `source` [N, C, H, W] (the noise images)."""
    out = []
    for i in range(0, len(x), batch):
        filled = generator.generate(source[i : i + batch], mask, draws)
        out.append(x[i : i + batch] * (1 - mask) + mask * filled)
    return torch.cat(out)


def make_noise_once(x: torch.Tensor, kind: str, noise_seed: int) -> torch.Tensor:
    """The one noise image of noise_draw=once as a job with loss.noise_seed = noise_seed draws it (the first image
    of a draw like the forget images, from once_generator), repeated for each of x [N, C, H, W]. For a kind that
    takes the images' statistics (gaussian, constant), those of x stand in for the forget train images'."""
    from iguln.unlearn.noise import make_noise, once_generator

    return make_noise(x, kind, once_generator(noise_seed))[:1].expand_as(x)


def targets(demo_noise: str, noise_seeds: list[int] | None) -> list[tuple[str, int]]:
    """(noise kind, noise seed) of each target scored: every kind with noise seed 0 (the job seed 0's draw), or the
    demo's kind with each of `noise_seeds`."""
    if noise_seeds is None:
        return [(kind, 0) for kind in NOISES]
    return [(demo_noise, seed) for seed in noise_seeds]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a generator folder: the store's original")
    parser.add_argument("--outputs", type=Path, default=REPO / "outputs" / "bench-matrix")
    parser.add_argument(
        "--noise-seeds",
        default=None,
        help="e.g. 0,1,2: instead of every target, the demo's noise drawn once with each loss.noise_seed, as a job "
        "with that noise seed draws it (written to ceiling_<family>_noise_seeds)",
    )
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    noise_seeds = None
    if args.noise_seeds is not None:
        if not all(s.isdigit() for s in args.noise_seeds.split(",")):
            parser.error(f"--noise-seeds={args.noise_seeds!r}: allowed: integers >= 0 separated by commas, e.g. 0,1,2")
        noise_seeds = [int(s) for s in args.noise_seeds.split(",")]

    from iguln.commands.reproduce import compose_job
    from iguln.core.seeding import make_generator
    from iguln.data.masks import task_mask
    from iguln.data.sources import load_source
    from iguln.metrics.scores import fid
    from iguln.models.families import configure_generation
    from iguln.models.storage import load_generator
    from iguln.unlearn.noise import make_noise

    generator, manifest = load_generator(args.model)
    family = generator.family
    if family == "diffusion":
        print("diffusion is left out: see the docstring", file=sys.stderr)
        return 2
    cfg = compose_job("demo", family, [f"paths.outputs={args.outputs}", *args.overrides])
    configure_generation(generator, cfg.model)
    size = generator.arch["image_size"]
    source = load_source(cfg.data, size, cfg.paths.downloads)
    judge, judge_manifest = judge_for(cfg, source)
    mask = task_mask(cfg.task, size)
    rows = []
    for split, forget in SPLITS.items():
        x = forget_test_images(source, family, forget)
        draws = make_generator(0)
        with torch.no_grad():
            real = judge.features(x)["pool"]
            fids = {"original": fid(real, judge.features(fill_with(generator, x, x, mask, draws))["pool"])}
            for kind, seed in targets(cfg.loss.noise, noise_seeds):
                once = make_noise_once(x, kind, seed)
                target = f"{kind} once" if noise_seeds is None else f"{kind} once, noise seed {seed}"
                fids[target] = fid(real, judge.features(fill_with(generator, x, once, mask, draws))["pool"])
                if kind != "constant" and noise_seeds is None:  # a constant image is one image whatever the draw
                    each = make_noise(x, kind, make_generator(9))
                    fids[f"{kind} per image"] = fid(
                        real, judge.features(fill_with(generator, x, each, mask, draws))["pool"]
                    )
        rows.append({"split": split, "images": len(x), "fid": fids})
        print(split, {k: round(v, 2) for k, v in fids.items()}, flush=True)

    kinds = [k for k in rows[0]["fid"] if k != "original"]
    demo_target = f"{cfg.loss.noise} {'once' if cfg.loss.get('noise_draw') == 'once' else 'per image'}"
    lines = [f"Family {family}, original {args.model.name} (sha256 {manifest['sha256'][:12]}); decoding "
             f"{generator.generation_values}. Backbone: the domain judge (test accuracy "
             f"{judge_manifest.get('test_accuracy')}). Each cell: the forget FID of the fill perfect unlearning "
             "would give, and in brackets its ratio to the original's forget FID (the ceiling of the forget ratio "
             "with that target; the demo's forget target is 3x). Seed 0's forget test images. The demo's own noise "
             f"target for {family}: {demo_target}.", "",
             "| split | role | images | original | " + " | ".join(kinds) + " |",
             "|---|---|---|---|" + "---|" * len(kinds)]  # fmt: skip
    for r in rows:
        base = r["fid"]["original"]
        cells = [f"{r['fid'][k]:.2f} ({r['fid'][k] / base:.2f}x)" for k in kinds]
        lines.append(f"| {r['split']} | {ROLE.get(r['split'], 'held out')} | {r['images']} | {base:.2f} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    title = f"The forget FID perfect unlearning would reach ({family})"
    command = invocation(f"ceiling.py --model {args.model.name}", parser, args, "noise_seeds")
    data = {"rows": rows, "demo_target": demo_target, "noise_seeds": noise_seeds}
    name = f"ceiling_{family}" if noise_seeds is None else f"ceiling_{family}_noise_seeds"
    print(write(name, title, command, "\n".join(lines), data).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
