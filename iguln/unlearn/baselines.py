"""The paper's four baselines (Li et al. 2024, Section 5). Each applies its forget term to the forget images (the
reference MAGE code's (1 + label) weighting dropped it for RETAIN LABEL and RANDOM ENCODER; iguln does not).

    MAX LOSS        whole model    native(x_r) - alpha * native(x_f)
    NOISY LABEL     whole model    native(x_r) + alpha * native(x_f -> noise targets)
    RETAIN LABEL    whole model    ||G(x_r) - G0(x_r)||^2 + alpha * ||G(x_f) - G0(x_r)||^2
    RANDOM ENCODER  encoder only   ||E(x_r) - E0(x_r)||^2 + alpha * ||E(x_f) - r||^2, r ~ N(mean, std of E0(x_f))

G is the whole network's one-pass output (the family's `output`), G0 the frozen original's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from iguln.models.capabilities import draw_probe
from iguln.unlearn.l2_noise import L2Noise
from iguln.unlearn.noise import make_noise
from iguln.unlearn.objective import Objective, feature_mse


@dataclass
class MaxLoss(Objective):
    name = "max_loss"
    row = "MAX LOSS"
    scope = "all"
    forget_sign = -1.0

    def terms(self, student, teacher, forget, retain, mask, generator=None) -> dict[str, torch.Tensor]:
        return {
            "retain": student.native_loss(retain, mask, generator),
            "forget": student.native_loss(forget, mask, generator),
        }


@dataclass
class NoisyLabel(Objective):
    name = "noisy_label"
    row = "NOISY LABEL"
    scope = "all"
    needs = frozenset({"noisy_label_loss"})

    def terms(self, student, teacher, forget, retain, mask, generator=None) -> dict[str, torch.Tensor]:
        noise = make_noise(forget, self.noise, generator)
        return {
            "retain": student.native_loss(retain, mask, generator),
            "forget": student.noisy_label_loss(forget, noise, mask, generator),
        }


@dataclass
class RetainLabel(Objective):
    name = "retain_label"
    row = "RETAIN LABEL"
    scope = "all"
    needs = frozenset({"output"})

    def terms(self, student, teacher, forget, retain, mask, generator=None) -> dict[str, torch.Tensor]:
        probe = draw_probe(student, retain, generator)  # forget outputs are compared at the retain draw's levels
        with torch.no_grad():
            target = teacher.output(retain, mask, probe)
        return {
            "retain": feature_mse(student.output(retain, mask, probe), target),
            "forget": feature_mse(student.output(forget, mask, probe), target),
        }


def random_like(features: torch.Tensor | list[torch.Tensor], generator: torch.Generator | None):
    """Random features with each map's mean and standard deviation: N(mean, std) of the same shape."""
    if not isinstance(features, torch.Tensor):
        return [random_like(f, generator) for f in features]
    sample = torch.randn(features.shape, generator=generator, device="cpu").to(features)
    return sample * features.float().std() + features.float().mean()


@dataclass
class RandomEncoder(L2Noise):
    """The paper's loss with random features as the forget target (no noise image is drawn)."""

    name = "random_encoder"
    row = "RANDOM ENCODER"

    def forget_noise(self, forget, generator):
        return None

    def forget_target(self, teacher, forget, noise, mask, probe, generator=None):
        return random_like(teacher.encode(forget, mask, probe), generator)
