"""The paper's loss (Li et al. 2024): keep the encoder on retain images, map forget images to noise features.

    L = ||E(x_r) - E0(x_r)||^2 + alpha * ||E(x_f) - E0(n)||^2

E is the student encoder, E0 the frozen teacher (a copy of the original encoder), n a noise image; student and
teacher see the same task mask (and, for an encoder with random inputs such as diffusion's noise level, the same
draw). The teacher's forget target comes from the family (`forget_target`): E0(n) by default; for diffusion the
forget image's context with pure noise in the masked region. Only the encoder is trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from iguln.models.generator import Generator
from iguln.unlearn.noise import make_noise


def feature_mse(a: torch.Tensor | list[torch.Tensor], b: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """Mean squared error between encoder features; for a list of feature maps, the sum over the list."""
    if isinstance(a, torch.Tensor):
        return F.mse_loss(a.float(), b.float())
    return sum(F.mse_loss(x.float(), y.float()) for x, y in zip(a, b, strict=True))


@dataclass
class L2Noise:
    alpha: float
    noise: str
    scope = "encoder"  # which parameters the method trains

    def __call__(
        self,
        student: Generator,
        teacher: Generator,
        forget: torch.Tensor,
        retain: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """forget, retain: [B, C, H, W] in [-1, 1]; mask [1, 1, H, W]. Returns (L, {"retain": ..., "forget": ...})."""
        noise = make_noise(forget, self.noise, generator)
        probe_r, probe_f = student.encode_probe(retain, generator), student.encode_probe(forget, generator)
        with torch.no_grad():
            retain_target = teacher.encode(retain, mask, probe_r)
            forget_target = teacher.forget_target(forget, noise, mask, probe_f)
        retain_term = feature_mse(student.encode(retain, mask, probe_r), retain_target)
        forget_term = feature_mse(student.encode(forget, mask, probe_f), forget_target)
        loss = retain_term + self.alpha * forget_term
        return loss, {"retain": float(retain_term.detach()), "forget": float(forget_term.detach())}
