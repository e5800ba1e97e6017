"""Seeds: one integer in the config drives every random choice, and is recorded."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def model_seed(cfg) -> int:
    """The seed of the original generator (model.seed; 0 for a family config without one): its initialisation,
    its pretraining's batches and masks, and its store key. The job's own `seed` varies the unlearning, the images
    chosen and the sampling, so `-m seed=0,1,2` reuses one original."""
    return int(cfg.model.get("seed", 0))


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator seeded with `seed` (each consumer gets its own, so adding one never shifts another)."""
    return torch.Generator(device=device).manual_seed(seed)


def seed_modules(seed: int) -> None:
    """Seed the global torch RNG that modules draw from (dropout), so that whatever ran before a phase (a judge
    trained in the same process, say) cannot change what the phase does."""
    torch.manual_seed(seed)


def standard_normal(shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    """N(0, 1) numbers of `shape` on the CPU, from `generator`: the one place the noise of the losses is drawn
    (noise images, random features, random token ids), so that a parity test can hand in the reference's draws."""
    return torch.randn(shape, generator=generator, device="cpu")
