"""Filling the masked region by deterministic DDIM sampling over Palette's noise levels, pasting the known
pixels back after every step (as Palette's restoration loop)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from iguln.models.diffusion.schedule import sampling_steps


def condition(x: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Palette's condition image: x's known pixels, N(0, I) noise in the hole: [B, C, H, W]."""
    return x * (1 - mask) + mask * noise


@torch.no_grad()
def ddim_fill(
    predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    mask: torch.Tensor,
    gammas: torch.Tensor,
    steps: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill mask (1 = fill) of x [B, C, H, W] in `steps` DDIM steps (eta 0); predict(input [B, 2C, H, W], gamma [B])
    returns the noise estimate. Known pixels are x's own after every step and in the result."""
    mask = mask.expand(x.shape[0], 1, *x.shape[2:]).to(x.dtype)
    noise = torch.randn(x.shape, generator=generator, device="cpu").to(x.device, x.dtype)
    cond = condition(x, mask, noise)
    y = cond
    schedule = sampling_steps(len(gammas), steps)
    for i, t in enumerate(schedule):
        gamma = gammas[t].to(x.device)
        eps = predict(torch.cat([cond, y], 1), gamma.expand(x.shape[0]))
        y0 = ((y - (1 - gamma).sqrt() * eps) / gamma.sqrt()).clamp(-1, 1)
        eps = (y - gamma.sqrt() * y0) / (1 - gamma).sqrt()
        previous = gammas[schedule[i + 1]].to(x.device) if i + 1 < len(schedule) else torch.ones((), device=x.device)
        y = previous.sqrt() * y0 + (1 - previous).sqrt() * eps
        y = x * (1 - mask) + mask * y
    return y
