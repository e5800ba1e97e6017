"""Paired bootstrap intervals of FID from features computed once: the test images are resampled with replacement,
the same draw for the ground truth and for every model's outputs (each output is paired with its image), and the
interval is the 2.5 and 97.5 percentiles of the statistic over the draws.

FID here is computed in float64 with an eigen-decomposition (tr sqrt(S1 S2) = tr sqrt(S1^1/2 S2 S1^1/2)); it
equals torchmetrics' value, which the records keep as the point estimate, to float rounding.
"""

from __future__ import annotations

import torch

LEVEL = 0.95


def draws(n: int, count: int, seed: int) -> torch.Tensor:
    """`count` resamples of n row indices with replacement: [count, n] int64, from `seed`."""
    return torch.randint(0, n, (count, n), generator=torch.Generator().manual_seed(seed))


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between feature sets [N, D] and [M, D] (float64)."""
    real, fake = real.double(), fake.double()
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = torch.cov(real.T), torch.cov(fake.T)
    root = _sqrt_psd(s1)
    middle = torch.linalg.eigvalsh(root @ s2 @ root).clamp(min=0).sqrt().sum()
    return float(((mu1 - mu2) ** 2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * middle)


def interval(values: list[float]) -> list[float]:
    """The central LEVEL interval of bootstrap values: [low, high]."""
    t = torch.tensor(values, dtype=torch.float64)
    low, high = torch.quantile(t, torch.tensor([(1 - LEVEL) / 2, (1 + LEVEL) / 2], dtype=torch.float64))
    return [float(low), float(high)]


def fid_interval(real: torch.Tensor, fake: torch.Tensor, count: int, seed: int) -> list[float]:
    """Paired bootstrap interval of FID(real, fake) for paired rows [N, D] and [N, D]."""
    return interval([frechet(real[i], fake[i]) for i in draws(len(real), count, seed)])


def ratio_interval(
    real: torch.Tensor, original: torch.Tensor, unlearned: torch.Tensor, count: int, seed: int
) -> list[float]:
    """Paired bootstrap interval of FID(real, unlearned) / FID(real, original), one draw of images for both."""
    ratios = []
    for i in draws(len(real), count, seed):
        base = frechet(real[i], original[i])
        ratios.append(frechet(real[i], unlearned[i]) / base if base > 0 else float("nan"))
    finite = [r for r in ratios if r == r]
    return interval(finite) if finite else [float("nan"), float("nan")]
