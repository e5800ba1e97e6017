"""The noise image n that the forget term maps forget images towards: E(x_f) -> E0(n); one registered kind per
`loss.noise` value. Noise is made in iguln's [-1, 1]; clamping there is clamping to the weights' own pixel range
once the family converts it (MAGE's tokenizer: [0, 1])."""

from __future__ import annotations

from collections.abc import Callable

import torch

from iguln.core import seeding
from iguln.core.registry import Registry

Noise = Callable[[torch.Tensor, torch.Generator | None, torch.Tensor], torch.Tensor]
NOISES: Registry[Noise] = Registry("noise", "loss.noise")


def gaussian(x: torch.Tensor, generator: torch.Generator | None, population: torch.Tensor) -> torch.Tensor:
    """Per-pixel normal with each channel's mean and std over the forget batch, clamped to [-1, 1]."""
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    sample = seeding.standard_normal(tuple(x.shape), generator).to(x.device, x.dtype)
    return (sample * std + mean).clamp(-1, 1)


def gaussian_scalar(x: torch.Tensor, generator: torch.Generator | None, population: torch.Tensor) -> torch.Tensor:
    """Per-pixel normal with one mean and std over the step's images (forget and retain on a mixed batch), clamped
    to [-1, 1], as the reference MAGE code makes it."""
    mean, std = population.mean(), population.std()
    sample = seeding.standard_normal(tuple(x.shape), generator).to(x.device, x.dtype)
    return (sample * std + mean).clamp(-1, 1)


def uniform(x: torch.Tensor, generator: torch.Generator | None, population: torch.Tensor) -> torch.Tensor:
    """U(-1, 1) per pixel."""
    return torch.rand(x.shape, generator=generator, device="cpu").to(x.device, x.dtype) * 2 - 1


def constant(x: torch.Tensor, generator: torch.Generator | None, population: torch.Tensor) -> torch.Tensor:
    """Each channel's batch mean everywhere."""
    return x.mean(dim=(0, 2, 3), keepdim=True).expand_as(x).clone()


for _noise in (gaussian, gaussian_scalar, uniform, constant):
    NOISES.register(_noise.__name__, _noise)


def once_generator(seed: int) -> torch.Generator:
    """The generator that draws the one noise image of loss.noise_draw=once for `seed` (seed + 9: apart from the
    other streams unlearn() seeds from the job's seed)."""
    return seeding.make_generator(seed + 9)


def make_noise(
    x: torch.Tensor, kind: str, generator: torch.Generator | None = None, population: torch.Tensor | None = None
) -> torch.Tensor:
    """A noise image like x [B, C, H, W] in [-1, 1], of the registered `kind`; `population`: the images whose
    statistics a kind may take (default x)."""
    return NOISES.get(kind)(x, generator, x if population is None else population)
