"""An image grid of a few test images per set: ground truth, masked input, then each generator's output."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision.utils import save_image

from iguln.core.io import atomic_write
from iguln.core.seeding import make_generator
from iguln.data.masks import apply_mask
from iguln.models.generator import Generator


@torch.no_grad()
def save_samples(
    path: str | Path,
    sets: dict[str, Dataset],
    mask: torch.Tensor,
    models: dict[str, Generator],
    device: torch.device,
    n: int = 8,
    seed: int = 0,
) -> Path:
    """Write a PNG with, for each set, rows: ground truth, masked input, one row per model. Returns its path."""
    rows = []
    mask = mask.to(device)
    n = min(n, *(len(d) for d in sets.values()))  # the same number per row keeps the grid aligned
    for dataset in sets.values():
        x = torch.stack([dataset[i][0] for i in range(n)]).to(device)
        rows += [x, apply_mask(x, mask)]
        rows += [model.generate(x, mask, make_generator(seed, device)).float() for model in models.values()]
    grid = torch.cat(rows).cpu()
    atomic_write(
        path,
        lambda f: save_image(grid, f, format="png", nrow=n, normalize=True, value_range=(-1, 1), padding=1),
        mode="wb",
    )
    return Path(path)
