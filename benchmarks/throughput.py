"""Unlearning steps per second and evaluation images per second of each family at a preset, on CPU or GPU.

    python benchmarks/throughput.py [--device cpu|cuda] [--scale tiny|paper] [--steps 20] [--images 64]
                                    [--families vqgan,mae,diffusion] [--compile] [--channels-last]

tiny: the demo presets (32 px, one channel). paper: vqgan mage_base (256 px), mae large (224 px), diffusion
palette (256 px), three channels. Freshly initialised weights (the cost does not depend on their values), the
paper's loss (l2_noise, encoder only), trainer.batch_size forget + as many retain images per step, bf16 autocast on
CUDA and float32 on CPU. The first 3 steps and one generation batch are a warm-up and not timed. Evaluation =
generate (the family's sampler) on `--images` masked images; the metric backbone is not included.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import replace

import torch
from hydra import compose, initialize_config_dir
from provenance import write
from torch.utils.data import TensorDataset

from iguln.config import CONF_DIR
from iguln.core.accel import accelerate, configure_backend, peak_memory
from iguln.data.masks import center_square
from iguln.models.families import build_generator, resolve_model_config
from iguln.training.recipe import read_recipe
from iguln.unlearn.losses import build_loss
from iguln.unlearn.unlearning import unlearn

PRESETS = {"tiny": {"vqgan": "tiny", "mae": "tiny", "diffusion": "tiny"},
           "paper": {"vqgan": "mage_base", "mae": "large", "diffusion": "palette"}}  # fmt: skip


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(family: str, args: argparse.Namespace, device: torch.device) -> dict:
    channels = 1 if args.scale == "tiny" else 3
    overrides = [f"model={family}", f"model.preset={PRESETS[args.scale][family]}", f"trainer.steps={args.steps}",
                 "trainer.warmup_steps=0", f"trainer.compile={str(args.compile).lower()}",
                 f"trainer.channels_last={str(args.channels_last).lower()}"]  # fmt: skip
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides)
    model_cfg = resolve_model_config(cfg.model, channels)
    torch.manual_seed(0)
    teacher = build_generator(model_cfg).to(device)
    student = accelerate(copy.deepcopy(teacher), device, cfg.trainer)
    accelerate(teacher, device, cfg.trainer)
    size, batch = model_cfg.arch.image_size, cfg.trainer.batch_size
    data = TensorDataset(torch.rand(4 * batch, channels, size, size) * 2 - 1, torch.zeros(4 * batch))
    mask = center_square(size, 0.5)
    recipe = read_recipe(cfg.trainer, "trainer")
    warm = replace(recipe, steps=3)
    unlearn(copy.deepcopy(student), teacher, build_loss(cfg.loss), data, data, mask, warm, device, 0, "bf16")
    sync(device)
    history = unlearn(student, teacher, build_loss(cfg.loss), data, data, mask, recipe, device, 0, "bf16")
    sync(device)
    x = torch.rand(args.images, channels, size, size, device=device) * 2 - 1
    rng = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
        student.eval().generate(x[: min(8, len(x))], mask.to(device), rng)
        sync(device)
        start = time.perf_counter()
        for chunk in x.split(args.eval_batch):
            student.generate(chunk, mask.to(device), rng)
        sync(device)
    eval_rate = args.images / (time.perf_counter() - start)
    return {
        "family": family,
        "preset": PRESETS[args.scale][family],
        "image_size": size,
        "parameters_m": round(sum(p.numel() for p in teacher.parameters()) / 1e6, 3),
        "steps_per_s": history["steps_per_s"],
        "images_per_s": round(history["steps_per_s"] * 2 * batch, 1),
        "batch": f"{batch}+{batch}",
        "eval_images_per_s": round(eval_rate, 1),
        **peak_memory(device),
    }


def markdown(rows: list[dict], where: str) -> str:
    lines = [where, "", "| family | preset | px | parameters | unlearning steps/s | images/s (batch) | "
             "evaluation images/s | peak memory |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        memory = ", ".join(f"{k} {v}" for k, v in r.items() if k.startswith("peak_"))
        lines.append(f"| {r['family']} | {r['preset']} | {r['image_size']} | {r['parameters_m']:.2f} M | "
                     f"{r['steps_per_s']:.2f} | {r['images_per_s']:.0f} ({r['batch']}) | "
                     f"{r['eval_images_per_s']:.1f} | {memory} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--scale", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--eval-batch", type=int, default=32)
    parser.add_argument("--families", default="vqgan,mae,diffusion")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    configure_backend(device, tf32=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    where = (f"Throughput on {name}, {args.scale} presets, {args.steps} timed steps of the paper's loss, "
             f"compile={args.compile}, channels_last={args.channels_last}; evaluation: the family's sampler on "
             f"{args.images} masked images, without the metric backbone.")  # fmt: skip
    rows = []
    for family in args.families.split(","):
        rows.append(measure(family, args, device))
        print(rows[-1], flush=True)
    suffix = "_compile" if args.compile else ""
    how = "python benchmarks/throughput.py " + " ".join(sys.argv[1:])
    name = f"throughput_{device.type}_{args.scale}{suffix}"
    path = write(name, "Unlearning and evaluation throughput", how.strip(), markdown(rows, where), {"rows": rows})
    print(path.read_text())


if __name__ == "__main__":
    main()
