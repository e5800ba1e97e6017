"""What every unlearning loss is: a retain term and a forget term, combined as
w_r * retain + sign * alpha * w_f * forget, and what one step hands it besides the images.

Separate batches (trainer.batches=separate, iguln's default): B forget and B retain images a step, each term the
mean over its own images (w = 1). A mixed batch (trainer.batches=mixed, the reference code's): B images drawn from
both sets; each term is weighted as the reference weights it, w = c * (its images / B), c from the family
(Generator.reference_weights).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from iguln.models.generator import Generator

FORMS = ("iguln", "reference")
NOISE_DRAWS = ("step", "once")
FEATURES = ("encoder", "decoder_input")  # which view of the encoder's features a feature loss compares
FORGET_NORMS = ("none", "initial")  # the forget term as it is, or divided by its value at the run's start
TARGETS = ("family", "noise_image")  # the paper's loss's forget target: the family's own, or E0(n) for every family


def feature_mse(a: torch.Tensor | list[torch.Tensor], b: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """Mean squared error between features (or outputs); for a list of feature maps, the sum over the list."""
    if isinstance(a, torch.Tensor):
        return F.mse_loss(a.float(), b.float())
    return sum(F.mse_loss(x.float(), y.float()) for x, y in zip(a, b, strict=True))


@dataclass(frozen=True)
class Masks:
    """The masks of one step: for the forget images and for the retain images (the same task mask [1, 1, H, W],
    or each image's own family mask with trainer.masks=family)."""

    forget: Any
    retain: Any


def as_masks(mask: Any) -> Masks:
    return mask if isinstance(mask, Masks) else Masks(mask, mask)


@dataclass(frozen=True)
class Step:
    """What a step knows besides its images. weights: (w_forget, w_retain); pairing: for each forget image, the
    retain image a loss that compares the two takes (RETAIN LABEL; default: row i with row i mod B_r); population:
    the step's images whose statistics a noise image takes (the mixed batch; default: the forget images); cache:
    the run's TargetCache (targets.py) or None; retain_index: the retain images' data set indices [B_r]."""

    weights: tuple[float, float] = (1.0, 1.0)
    pairing: torch.Tensor | None = None
    population: torch.Tensor | None = None
    cache: Any = None
    retain_index: torch.Tensor | None = None

    def retain_target(self, retain: torch.Tensor, compute, probe: Any = None):
        """The teacher's target compute(images) of the retain images, reused from the cache where it holds them
        (never for an encoder with a random input: probe not None)."""
        if self.cache is None or probe is not None:
            return compute(retain)
        return self.cache.retain(self.retain_index, retain, compute)

    def paired(self, forget: int, retain: int) -> torch.Tensor:
        """Retain row of each of `forget` forget rows: [forget] int64."""
        if self.pairing is not None:
            return self.pairing
        return torch.arange(forget) % max(retain, 1)


@dataclass
class Objective:
    """An unlearning loss, and its entry in the loss registry (losses.py).

    name: its `loss` option; row: its row in the paper's tables; scope: what it trains ("encoder": the encoder
    only, "all": every trainable part of the generator); needs: the family capabilities it calls
    (iguln/models/capabilities.py); forget_sign: -1 for losses that push the forget term up (MAX LOSS); form:
    "iguln", or "reference" for a baseline's forget term as the reference code defines it.
    """

    alpha: float
    noise: str = "gaussian"
    form: str = "iguln"
    noise_draw: str = "step"  # step: a fresh noise image n each step; once: one n for the whole run (fix_noise)
    noise_seed: int | None = None  # once: the seed of that one draw (None: the job's seed)
    features: str = "encoder"  # encoder: every output of the encoder; decoder_input: as the frozen decoder reads them
    target: str = "family"  # family: the family's forget_target where it has one; noise_image: E0(n) for every family
    forget_norm: str = "none"  # initial: the forget term divided by its value at the run's start (forget_scale)
    fixed_noise: torch.Tensor | None = field(default=None, repr=False, compare=False)
    forget_scale: float | None = field(default=None, repr=False, compare=False)
    name: ClassVar[str]
    row: ClassVar[str]
    scope: ClassVar[str]
    needs: ClassVar[frozenset[str]] = frozenset()
    forget_sign: ClassVar[float] = 1.0
    has_start_value: ClassVar[bool] = False  # whether loss.forget_norm=initial can divide by its start (calibrate)

    def fix_noise(self, forget: torch.Tensor, generator: torch.Generator) -> None:
        """noise_draw=once: draw the run's one noise image [1, C, H, W] now, with the statistics of forget images
        [N, C, H, W] (a fixed sample of the forget set, so that a resumed run draws the same)."""
        from iguln.unlearn.noise import make_noise

        self.fixed_noise = make_noise(forget, self.noise, generator)[:1].clone()

    def once_generator(self, job_seed: int) -> torch.Generator:
        """The generator of the run's one noise image: loss.noise_seed's, or the job's seed's where it is None."""
        from iguln.unlearn.noise import once_generator

        return once_generator(job_seed if self.noise_seed is None else self.noise_seed)

    def noise_image(self, forget: torch.Tensor, generator: torch.Generator | None, step: Step) -> torch.Tensor:
        """The noise image n for a forget batch [B, C, H, W]: the run's one image, or a fresh draw."""
        from iguln.unlearn.noise import make_noise

        if self.noise_draw == "once" and self.fixed_noise is not None:
            return self.fixed_noise.to(forget).expand_as(forget)
        return make_noise(forget, self.noise, generator, step.population)

    def terms(
        self,
        student: Generator,
        teacher: Generator,
        forget: torch.Tensor,
        retain: torch.Tensor,
        mask: Masks,
        generator: torch.Generator | None = None,
        step: Step | None = None,
    ) -> dict[str, torch.Tensor]:
        """{"retain": scalar, "forget": scalar} for forget and retain batches [B, C, H, W] in [-1, 1]."""
        raise NotImplementedError

    def __call__(
        self, student, teacher, forget, retain, mask, generator=None, step: Step | None = None
    ) -> tuple[torch.Tensor, dict]:
        """(L, {"retain": ..., "forget": ...}) with L = w_r * retain + forget_sign * alpha * w_f * forget."""
        step = step or Step()
        terms = self.terms(student, teacher, forget, retain, as_masks(mask), generator, step)
        w_forget, w_retain = step.weights
        forget = terms["forget"] if self.forget_scale is None else terms["forget"] / self.forget_scale
        loss = w_retain * terms["retain"] + self.forget_sign * self.alpha * w_forget * forget
        return loss, {k: float(v.detach()) for k, v in terms.items()}
