"""Token masks of the VQ-GAN family: which tokens are hidden from the transformer and, as MAGE does during
pretraining and the reference unlearning, which of those are dropped from the encoder's input altogether."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TokenMask:
    """masked: [B, L] bool, the tokens the transformer must fill (they enter the encoder as [MASK]); dropped:
    [B, L] bool or None, the masked tokens left out of the encoder's input (the same number in every row)."""

    masked: torch.Tensor
    dropped: torch.Tensor | None = None

    def __getitem__(self, rows) -> TokenMask:
        return TokenMask(self.masked[rows], None if self.dropped is None else self.dropped[rows])

    def to(self, device) -> TokenMask:
        return TokenMask(self.masked.to(device), None if self.dropped is None else self.dropped.to(device))

    def __len__(self) -> int:
        return len(self.masked)


def truncated_normal(low: float, high: float, mu: float, std: float, generator: torch.Generator | None) -> float:
    """One draw of N(mu, std) truncated to [low, high] (inverse CDF)."""
    normal = torch.distributions.Normal(mu, std)
    a, b = normal.cdf(torch.tensor(low)), normal.cdf(torch.tensor(high))
    u = a + (b - a) * torch.rand(1, generator=generator)
    return float(normal.icdf(u).clamp(low, high))


def mage_masks(batch: int, length: int, ratio: dict, drop: bool, generator: torch.Generator | None) -> TokenMask:
    """MAGE's random masking: one masking rate per batch from N(mu, std) truncated to [min, 1]; ceil(L * rate)
    tokens of each row masked at random; with `drop`, the ceil(L * min) of those with the lowest draws dropped."""
    rate = truncated_normal(ratio["min"], 1.0, ratio["mu"], ratio["std"], generator)
    ranks = torch.rand(batch, length, generator=generator).argsort(1).argsort(1)
    masked = ranks >= length - max(1, math.ceil(length * rate))
    dropped = ranks >= length - math.ceil(length * ratio["min"]) if drop else None
    return TokenMask(masked, dropped)


def decoding_states(masked: torch.Tensor, iterations: int, generator: torch.Generator | None) -> TokenMask:
    """The inputs iterative decoding (decoding.py) gives the encoder, one per image: masked [B, L] bool, the task's
    tokens to fill; each row takes one round t of T = `iterations` at random and hides the share of its masked tokens
    that round starts with (all at t = 0, then floor(M * cos(pi/2 * t/T)), at least one), chosen at random; the rest
    of them are visible with their own tokens."""
    batch, length = masked.shape
    total = masked.sum(1)
    rounds = torch.randint(0, iterations, (batch,), generator=generator)
    share = torch.cos(math.pi / 2 * rounds.double() / iterations)
    hidden = torch.where(rounds == 0, total, torch.floor(total * share).long().clamp(min=1))
    draws = torch.rand(batch, length, generator=generator).masked_fill(~masked.cpu(), 2.0)
    ranks = draws.argsort(1).argsort(1)  # the masked tokens first, in a random order
    return TokenMask(ranks.to(masked.device) < hidden.to(masked.device).unsqueeze(1))
