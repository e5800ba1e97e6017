"""Palette's noise schedule: the network is conditioned on the noise level gamma = alpha_cumprod in (0, 1].

y_t = sqrt(gamma) * y_0 + sqrt(1 - gamma) * eps
"""

from __future__ import annotations

import torch


def linear_gammas(steps: int, beta_start: float, beta_end: float) -> torch.Tensor:
    """gamma_t = prod_{s <= t} (1 - beta_s) for betas linear in [beta_start, beta_end]: [steps] float32."""
    betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0).float()


def training_gammas(gammas: torch.Tensor, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Palette's training noise levels: t ~ U{1, ..., T-1}, gamma ~ U(gamma_t, gamma_{t-1}) per image: [batch]."""
    t = torch.randint(1, len(gammas), (batch,), generator=generator)
    low, high = gammas[t], gammas[t - 1]
    return low + (high - low) * torch.rand(batch, generator=generator)


def sampling_steps(total: int, count: int) -> list[int]:
    """`count` timesteps from T-1 down to 0, evenly spaced (DDIM's sub-sequence)."""
    if count >= total:
        return list(range(total - 1, -1, -1))
    return torch.linspace(total - 1, 0, count).round().long().tolist()
