"""The paper's loss (Li et al. 2024): keep the encoder on retain images, map forget images to noise features.

    L = ||E(x_r) - E0(x_r)||^2 + alpha * ||E(x_f) - E0(n)||^2

E is the student encoder, E0 the frozen teacher (a copy of the original encoder), n a noise image; student and
teacher see the same masks (and, for an encoder with random inputs such as diffusion's noise level, the same
draw, the family's encode_probe capability). The teacher's forget target is E0(n), or the family's own
forget_target (diffusion: the forget image's context with pure noise in the masked region). Only the encoder is
trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from iguln.models.capabilities import capabilities, draw_probe, forget_features, viewed
from iguln.unlearn.objective import Masks, Objective, Step, feature_mse


@dataclass
class L2Noise(Objective):
    name = "l2_noise"
    row = "Ours"
    scope = "encoder"
    has_start_value = True

    def forget_noise(self, forget: torch.Tensor, generator, step: Step) -> torch.Tensor | None:
        """The noise image n of the forget batch (drawn before the probes)."""
        return self.noise_image(forget, generator, step)

    def forget_target(self, teacher, forget, noise, mask, probe, generator=None, retain_target=None):
        """The teacher's features the student's forget features are pulled towards: E0(n), as the family builds it
        (loss.target=family) or the noise image's own features for every family (loss.target=noise_image)."""
        if self.target == "noise_image":
            return teacher.encode(noise, mask, probe)
        return forget_features(teacher, forget, noise, mask, probe)

    def constant_target(self, teacher, noise, mask, probe, step: Step) -> bool:
        """Whether the forget target is the one E0(n) of the run (noise_draw=once, the paper's target E0(n), the
        task's mask, a deterministic encoder): then the step's cache computes it once."""
        return (
            step.cache is not None
            and self.noise_draw == "once"
            and self.fixed_noise is not None
            and noise is not None
            and type(self).forget_target is L2Noise.forget_target
            and ("forget_target" not in capabilities(teacher) or self.target == "noise_image")
            and probe is None
            and isinstance(mask, torch.Tensor)
            and mask.shape[0] == 1
        )

    def calibrate(self, teacher, forget: torch.Tensor, mask: torch.Tensor, generator, batch: int = 64) -> float:
        """loss.forget_norm=initial: the forget term at the run's start, where the student is the teacher, on forget
        images [N, C, H, W] under the task's mask [1, 1, H, W]; kept as forget_scale, which the forget term is
        divided by. Then alpha weighs the share of the start's distance to the target that is left, however far
        from the forget images' features the drawn noise image's features lie."""
        total = 0.0
        with torch.no_grad():
            for x in forget.split(batch):
                noise = self.forget_noise(x, generator, Step())
                probe = draw_probe(teacher, x, generator)
                target = self.forget_target(teacher, x, noise, mask, probe, generator)
                total += float(self.distance(teacher, teacher.encode(x, mask, probe), target, mask)) * len(x)
        if not total > 0:
            raise ValueError(f"loss.forget_norm=initial: the forget term is {total} at the start; nothing to divide by")
        self.forget_scale = total / len(forget)
        return self.forget_scale

    def terms(self, student, teacher, forget, retain, mask: Masks, generator=None, step=None) -> dict:
        step = step or Step()
        noise = self.forget_noise(forget, generator, step)
        probe_r, probe_f = draw_probe(student, retain, generator), draw_probe(student, forget, generator)
        with torch.no_grad():
            retain_target = step.retain_target(retain, lambda x: teacher.encode(x, mask.retain, probe_r), probe_r)
            if self.constant_target(teacher, noise, mask.forget, probe_f, step):
                one = step.cache.constant(lambda: teacher.encode(self.fixed_noise.to(forget), mask.forget, None))
                forget_target = one.expand(len(forget), *one.shape[1:])
            else:
                forget_target = self.forget_target(
                    teacher, forget, noise, mask.forget, probe_f, generator, retain_target
                )
        return {
            "retain": self.distance(student, student.encode(retain, mask.retain, probe_r), retain_target, mask.retain),
            "forget": self.distance(student, student.encode(forget, mask.forget, probe_f), forget_target, mask.forget),
        }

    def distance(self, model, features, target, mask) -> torch.Tensor:
        """The squared distance of features to their target, both in the view loss.features names."""
        return feature_mse(viewed(model, features, mask, self.features), viewed(model, target, mask, self.features))
