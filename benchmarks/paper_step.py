"""One unlearning step at the paper's size on this machine: iguln's step against the same step with every frozen pass
recomputed (trainer.reuse_frozen=false, as the reference code computes it).

    python benchmarks/paper_step.py [--families vqgan,diffusion] [--batch 4] [--steps 3] [--rounds 2]
                                    [--device cpu|cuda]

vqgan: MAGE ViT-B over MaskGIT's VQ-GAN (mage_base, 256 px); diffusion: Palette's UNet (palette, 256 px); each
with the reference protocol of `experiment=paper/imagenet_<family>` (mixed batches of `--batch` images, the family's
own masks, the paper's loss), freshly initialised weights (the cost does not depend on their values), float32 on
CPU (bf16 autocast on CUDA). Each round times `--steps` steps of both variants after one untimed step, the two
alternating so that both see the same machine load; the figure is the median over rounds. Target: iguln's step
faster than the recompute-everything step. Writes benchmarks/results/paper_step.md and .json.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from dataclasses import replace

import torch
from hydra import compose, initialize_config_dir
from provenance import write
from torch.utils.data import TensorDataset

from iguln.config import CONF_DIR
from iguln.core.accel import peak_memory
from iguln.data.masks import center_square
from iguln.models.families import build_generator, resolve_model_config
from iguln.training.recipe import read_recipe
from iguln.unlearn.losses import build_loss
from iguln.unlearn.protocol import read_protocol
from iguln.unlearn.targets import Reuse
from iguln.unlearn.unlearning import unlearn

PRESETS = {"vqgan": "mage_base", "diffusion": "palette", "mae": "large"}


def seconds_per_step(student, teacher, cfg, data, mask, steps: int, reuse: bool, device) -> tuple[float, dict]:
    recipe = replace(read_recipe(cfg.trainer, "trainer"), steps=steps, warmup_steps=0)
    protocol, loss = read_protocol(cfg.trainer), build_loss(cfg.loss)
    history = unlearn(copy.deepcopy(student), teacher, loss, data, data, mask, recipe, device, 0, "bf16",
                      protocol=protocol, reuse=Reuse(reuse))  # fmt: skip
    return history["wall_s"] / steps, history["reuse"]


def measure(family: str, args: argparse.Namespace, device: torch.device) -> dict:
    overrides = [f"experiment=paper/imagenet_{family}", f"trainer.batch_size={args.batch}"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides)
    model_cfg = resolve_model_config(cfg.model, 3)
    torch.manual_seed(0)
    teacher = build_generator(model_cfg).to(device)
    student = copy.deepcopy(teacher)
    size = model_cfg.arch.image_size
    data = TensorDataset(torch.rand(4 * args.batch, 3, size, size) * 2 - 1, torch.zeros(4 * args.batch))
    mask = center_square(size, 0.5)
    seconds_per_step(student, teacher, cfg, data, mask, 1, True, device)  # warm-up
    times: dict[bool, list[float]] = {False: [], True: []}
    reused = None
    for _ in range(args.rounds):
        for reuse in (False, True):
            s, info = seconds_per_step(student, teacher, cfg, data, mask, args.steps, reuse, device)
            times[reuse].append(s)
            reused = info if reuse else reused
    recompute, once = statistics.median(times[False]), statistics.median(times[True])
    return {"family": family, "preset": PRESETS[family], "batch": args.batch, "steps": args.steps,
            "recompute_s": recompute, "iguln_s": once, "speedup": recompute / once, "rounds": times,
            "reused": reused, "peak_memory": peak_memory(device)}  # fmt: skip


def markdown(rows: list[dict], device: torch.device) -> str:
    precision = "bf16 autocast" if device.type == "cuda" else "float32"
    lines = [
        f"One unlearning step at the paper's size on {device.type} ({precision}), "
        "the reference protocol of `experiment=paper/imagenet_<family>` (mixed batches, the family's own masks), "
        "freshly initialised weights. Recompute: every frozen pass every step (`trainer.reuse_frozen=false`, as "
        "the reference code computes it); iguln: frozen work done once. Median over rounds of alternating runs.",
        "",
        "| family | preset | batch | recompute s/step | iguln s/step | speedup | faster | what was reused |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['family']} | {r['preset']} | {r['batch']} | {r['recompute_s']:.2f} | {r['iguln_s']:.2f} | "
                     f"{r['speedup']:.2f}x | {'yes' if r['speedup'] > 1 else 'NO'} | {r['reused']} |")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default="vqgan,diffusion")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = [measure(family, args, device) for family in args.families.split(",")]
    how = "python benchmarks/paper_step.py " + " ".join(sys.argv[1:])
    path = write("paper_step", "One unlearning step at the paper's size", how.strip(), markdown(rows, device),
                 {"rows": rows})  # fmt: skip
    print(path.read_text())
    return 0 if all(r["speedup"] > 1 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
