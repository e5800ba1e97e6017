"""Evaluation sampling throughput of the diffusion family: images per second for 10, 25 and 50 DDIM steps.

    python benchmarks/diffusion_sampling.py [--preset tiny] [--batch 250] [--device cpu]

Times `generate` (the centre-square task mask) on one batch per step count, after a warm-up, with freshly
initialised weights of the preset (the cost does not depend on the weights' values).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from provenance import write

from iguln.data.masks import center_square
from iguln.models.diffusion import Diffusion

SCHEDULE = {"steps": 2000, "beta_start": 1e-6, "beta_end": 0.01}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    arch = {**Diffusion.presets[args.preset], "num_channels": args.channels}
    model = Diffusion(arch, SCHEDULE).eval().to(args.device)
    size = arch["image_size"]
    x = torch.rand(args.batch, args.channels, size, size, device=args.device) * 2 - 1
    mask = center_square(size, 0.5).to(args.device)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    where = (f"diffusion {args.preset} ({params:.2f} M parameters), batch {args.batch}, {size} px, {args.device}, "
             f"{torch.get_num_threads()} threads")  # fmt: skip
    print(where)
    rows = []
    with torch.no_grad():
        model.configure_generation(sample_steps=1)
        model.generate(x[:8], mask, torch.Generator().manual_seed(0))  # warm-up
        for steps in (10, 25, 50):
            model.configure_generation(sample_steps=steps)
            start = time.perf_counter()
            model.generate(x, mask, torch.Generator().manual_seed(0))
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            wall = time.perf_counter() - start
            rows.append({"ddim_steps": steps, "images_per_s": round(args.batch / wall, 1), "wall_s": round(wall, 2)})
            print(f"  {steps:3d} steps: {args.batch / wall:7.1f} images/s ({wall:.1f} s for {args.batch} images)")
    table = [where, "", "| DDIM steps | images/s | s per batch |", "|---|---|---|"]
    table += [f"| {r['ddim_steps']} | {r['images_per_s']} | {r['wall_s']} |" for r in rows]
    how = " ".join(["python benchmarks/diffusion_sampling.py", *sys.argv[1:]])
    write("diffusion_sampling", "Diffusion sampling throughput", how, "\n".join(table), {"rows": rows})


if __name__ == "__main__":
    main()
