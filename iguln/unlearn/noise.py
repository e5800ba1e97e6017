"""The noise image n that the forget term maps forget images towards: E(x_f) -> E0(n)."""

from __future__ import annotations

import torch

NOISES = ("gaussian", "uniform", "constant")


def make_noise(x: torch.Tensor, kind: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """A noise image like x [B, C, H, W] in [-1, 1].

    gaussian: per-pixel normal with each channel's batch mean and std, clamped to [-1, 1] (the reference code);
    uniform: U(-1, 1); constant: each channel's batch mean everywhere.
    """
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    if kind == "gaussian":
        std = x.std(dim=(0, 2, 3), keepdim=True)
        sample = torch.randn(x.shape, generator=generator, device="cpu").to(x.device, x.dtype)
        return (sample * std + mean).clamp(-1, 1)
    if kind == "uniform":
        return torch.rand(x.shape, generator=generator, device="cpu").to(x.device, x.dtype) * 2 - 1
    if kind == "constant":
        return mean.expand_as(x).clone()
    raise ValueError(f"unknown noise {kind!r}; allowed: {', '.join(NOISES)}")
