"""MaskGIT-style iterative decoding: fill the masked tokens over a few rounds, most confident first."""

from __future__ import annotations

import math

import torch


def gumbel(shape, generator: torch.Generator | None, device) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=device).clamp(1e-20, 1 - 1e-7)
    return -torch.log(-torch.log(u))


@torch.no_grad()
def iterative_fill(
    transformer,
    tokens: torch.Tensor,
    fill: torch.Tensor,
    iterations: int,
    temperature: float = 1.0,
    choice_temperature: float = 4.5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Tokens [B, L] with the `fill` [B, L] positions replaced by sampled tokens; other positions untouched.

    Each round samples every unknown token (softmax at `temperature`), then keeps the most confident ones and
    hides the rest again, so that after round t a cos(pi/2 * t/T) share of the masked tokens is still unknown
    (confidence = log-probability + choice_temperature * (1 - t/T) * Gumbel noise). The last round keeps all.
    """
    unknown = fill.clone()
    total = fill.sum(1, keepdim=True)
    current = tokens.clone()
    device = tokens.device
    for t in range(iterations):
        logits = transformer(current, unknown).float()
        probs = torch.softmax(logits / max(temperature, 1e-6), dim=-1)
        flat = probs.reshape(-1, probs.shape[-1])
        sampled = torch.multinomial(flat, 1, generator=generator).view(tokens.shape)
        sampled = torch.where(unknown, sampled, current)
        ratio = (t + 1) / iterations
        hide = torch.floor(total * math.cos(math.pi / 2 * ratio)).long()
        hide = torch.minimum(hide, (unknown.sum(1, keepdim=True) - 1).clamp(min=0))
        if t == iterations - 1:
            hide = torch.zeros_like(hide)
        chosen = torch.log(probs.gather(-1, sampled.unsqueeze(-1)).squeeze(-1).clamp_min(1e-20))
        confidence = chosen + choice_temperature * (1 - ratio) * gumbel(chosen.shape, generator, device)
        confidence = torch.where(unknown, confidence, torch.full_like(confidence, float("inf")))
        ranks = confidence.argsort(1).argsort(1)
        unknown = ranks < hide
        current = sampled
    return current
