"""The noise image n that the forget term maps forget images towards: E(x_f) -> E0(n); one registered kind per
`loss.noise` value."""

from __future__ import annotations

from collections.abc import Callable

import torch

from iguln.core.registry import Registry

NOISES: Registry[Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]] = Registry("noise", "loss.noise")


def gaussian(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Per-pixel normal with each channel's batch mean and std, clamped to [-1, 1] (the reference code)."""
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    sample = torch.randn(x.shape, generator=generator, device="cpu").to(x.device, x.dtype)
    return (sample * std + mean).clamp(-1, 1)


def uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """U(-1, 1) per pixel."""
    return torch.rand(x.shape, generator=generator, device="cpu").to(x.device, x.dtype) * 2 - 1


def constant(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Each channel's batch mean everywhere."""
    return x.mean(dim=(0, 2, 3), keepdim=True).expand_as(x).clone()


for _noise in (gaussian, uniform, constant):
    NOISES.register(_noise.__name__, _noise)


def make_noise(x: torch.Tensor, kind: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """A noise image like x [B, C, H, W] in [-1, 1], of the registered `kind`."""
    return NOISES.get(kind)(x, generator)
