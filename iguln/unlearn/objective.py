"""What every unlearning loss is: a retain term and a forget term, combined as retain + sign * alpha * forget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from iguln.models.generator import Generator


def feature_mse(a: torch.Tensor | list[torch.Tensor], b: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """Mean squared error between features (or outputs); for a list of feature maps, the sum over the list."""
    if isinstance(a, torch.Tensor):
        return F.mse_loss(a.float(), b.float())
    return sum(F.mse_loss(x.float(), y.float()) for x, y in zip(a, b, strict=True))


@dataclass
class Objective:
    """An unlearning loss, and its entry in the loss registry (losses.py).

    name: its `loss` option; row: its row in the paper's tables; scope: what it trains ("encoder": the encoder
    only, "all": every trainable part of the generator); needs: the family capabilities it calls
    (iguln/models/capabilities.py); forget_sign: -1 for losses that push the forget term up (MAX LOSS).
    """

    alpha: float
    noise: str = "gaussian"
    name: ClassVar[str]
    row: ClassVar[str]
    scope: ClassVar[str]
    needs: ClassVar[frozenset[str]] = frozenset()
    forget_sign: ClassVar[float] = 1.0

    def terms(
        self,
        student: Generator,
        teacher: Generator,
        forget: torch.Tensor,
        retain: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """{"retain": scalar, "forget": scalar} for forget and retain batches [B, C, H, W] and mask [1, 1, H, W]."""
        raise NotImplementedError

    def __call__(self, student, teacher, forget, retain, mask, generator=None) -> tuple[torch.Tensor, dict]:
        """(L, {"retain": ..., "forget": ...}) with L = retain + forget_sign * alpha * forget."""
        terms = self.terms(student, teacher, forget, retain, mask, generator)
        loss = terms["retain"] + self.forget_sign * self.alpha * terms["forget"]
        return loss, {k: float(v.detach()) for k, v in terms.items()}
