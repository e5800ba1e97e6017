"""The paper's four baselines (Li et al. 2024, Section 5). Each applies its forget term to the forget images (the
reference MAGE code weights it by (1 + label), which is zero there for RETAIN LABEL and RANDOM ENCODER; iguln does
not).

    MAX LOSS        whole model    native(x_r) - alpha * native(x_f)
    NOISY LABEL     whole model    native(x_r) + alpha * native(x_f -> noise targets)
    RETAIN LABEL    whole model    ||G(x_r) - G0(x_r)||^2 + alpha * ||G(x_f) - G0(x_r')||^2
    RANDOM ENCODER  encoder only   ||E(x_r) - E0(x_r)||^2 + alpha * ||E(x_f) - r||^2, r ~ N(mean, std of E0)

G is the whole network's one-pass output (the family's `output`), G0 the frozen original's; x_r' the retain image
paired with each forget image. form=reference (loss.form) gives a forget term as the reference code defines it:
NOISY LABEL's noise targets (Gaussian token ids with the batch's statistics; Palette: pure noise in the hole,
predicted as itself), RETAIN LABEL's outputs at every position and over the whole vocabulary (Palette: unmasked),
each at its own noise level, and RANDOM ENCODER's statistics over the retain images' features too.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from iguln.core import seeding
from iguln.models.capabilities import capabilities, draw_probe, index_probe
from iguln.unlearn.l2_noise import L2Noise
from iguln.unlearn.objective import Masks, Objective, Step, feature_mse


@dataclass
class MaxLoss(Objective):
    name = "max_loss"
    row = "MAX LOSS"
    scope = "all"
    forget_sign = -1.0

    def terms(self, student, teacher, forget, retain, mask: Masks, generator=None, step=None) -> dict:
        return {
            "retain": student.native_loss(retain, mask.retain, generator),
            "forget": student.native_loss(forget, mask.forget, generator),
        }


@dataclass
class NoisyLabel(Objective):
    name = "noisy_label"
    row = "NOISY LABEL"
    scope = "all"
    needs = frozenset({"noisy_label_loss"})

    def terms(self, student, teacher, forget, retain, mask: Masks, generator=None, step=None) -> dict:
        step = step or Step()
        noise = self.noise_image(forget, generator, step)
        forget_term = (
            student.noisy_label_loss(forget, noise, mask.forget, generator, form=self.form, population=step.population)
            if self.form == "reference"
            else student.noisy_label_loss(forget, noise, mask.forget, generator)
        )
        return {"retain": student.native_loss(retain, mask.retain, generator), "forget": forget_term}


@dataclass
class RetainLabel(Objective):
    name = "retain_label"
    row = "RETAIN LABEL"
    scope = "all"
    needs = frozenset({"output"})

    def terms(self, student, teacher, forget, retain, mask: Masks, generator=None, step=None) -> dict:
        step = step or Step()
        pairs = step.paired(len(forget), len(retain))
        full = self.form == "reference"
        probe_r = draw_probe(student, retain, generator)
        # iguln: each forget output at its paired retain image's draw; reference: at its own draw, as Palette's
        probe_f = draw_probe(student, forget, generator) if full else index_probe(probe_r, pairs)
        kwargs = {"full": True} if full else {}
        with torch.no_grad():
            target = step.retain_target(retain, lambda x: teacher.output(x, mask.retain, probe_r, **kwargs), probe_r)
        return {
            "retain": feature_mse(student.output(retain, mask.retain, probe_r, **kwargs), target),
            "forget": feature_mse(student.output(forget, mask.forget, probe_f, **kwargs), target[pairs]),
        }


def random_like(features: torch.Tensor | list[torch.Tensor], generator: torch.Generator | None, stats=None):
    """Random features with each map's mean and standard deviation (those of `stats` when given): N(mean, std)
    of the same shape."""
    if not isinstance(features, torch.Tensor):
        stats = stats if stats is not None else [None] * len(features)
        return [random_like(f, generator, s) for f, s in zip(features, stats, strict=True)]
    source = (features if stats is None else stats).float()
    sample = seeding.standard_normal(tuple(features.shape), generator).to(features)
    return sample * source.std() + source.mean()


@dataclass
class RandomEncoder(L2Noise):
    """The paper's loss with random features as the forget target (no noise image is drawn)."""

    name = "random_encoder"
    row = "RANDOM ENCODER"
    has_start_value = False  # its target is redrawn every step (and, in the reference form, from the retain batch)

    def forget_noise(self, forget, generator, step):
        return None

    def forget_target(self, teacher, forget, noise, mask, probe, generator=None, retain_target=None):
        features = teacher.encode(forget, mask, probe)
        if self.form != "reference":
            return random_like(features, generator)
        # The reference takes the statistics of the teacher's features of the whole batch, retain images too, and
        # its teacher sees forget images as the paper's loss shows them to it (Palette: pure noise in the hole).
        seen = (
            teacher.forget_target(forget, None, mask, probe) if "forget_target" in capabilities(teacher) else features
        )
        return random_like(features, generator, _joined(seen, retain_target))


def _joined(a, b):
    if isinstance(a, torch.Tensor):
        return torch.cat([a.reshape(-1), b.reshape(-1)])
    return [_joined(x, y) for x, y in zip(a, b, strict=True)]
