"""How an unlearning step is made (trainer.batches, masks, params, augment): iguln's defaults, or the reference
code's protocol (experiment=paper/*). Each is a documented key; the README lists every difference.

    batches   separate: B forget and B retain images a step, each term the mean over its own images
              mixed: B images a step drawn from both sets (the smaller repeated to as many as the larger), each term
              weighted as the reference weights it (objective.py)
    masks     task: the task's mask for every image; family: each image its own draw of the family's pretraining
              masks (the training_masks capability), the same for student and teacher; decoding: each image the task's
              mask in one of the states the family's iterative decoding passes through, part of the hole filled
              with the image's own content (the decoding_masks capability)
    params    scope: the parameters the loss trains (its scope); all: every trainable parameter of the generator in
              the optimizer (those the loss reaches get gradients: Palette's noise-level embedding, say)
    augment   null, or {crop_scale: [low, high], flip: true}: RandomResizedCrop and a horizontal flip per image
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from iguln.core.errors import ConfigError
from iguln.data.augment import Augment

BATCHES = ("separate", "mixed")
MASKS = ("task", "family", "decoding")
MASK_HOOKS = {"family": "training_masks", "decoding": "decoding_masks"}  # the family capability each one needs
PARAMS = ("scope", "all")


@dataclass(frozen=True)
class Protocol:
    batches: str = "separate"
    masks: str = "task"
    params: str = "scope"
    augment: Augment | None = None

    def record(self) -> dict:
        augment = (
            None if self.augment is None else {"crop_scale": list(self.augment.crop_scale), "flip": self.augment.flip}
        )
        return {"batches": self.batches, "masks": self.masks, "params": self.params, "augment": augment}


def _choice(cfg: DictConfig, key: str, allowed: tuple[str, ...]) -> str:
    value = cfg.get(key, allowed[0])
    if value not in allowed:
        raise ConfigError(f"trainer.{key}", value, allowed)
    return value


def _augment(value) -> Augment | None:
    if value is None:
        return None
    value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    allowed = "null, or {crop_scale: [low, high] with 0 < low <= high <= 1, flip: true or false}"
    if not isinstance(value, dict) or set(value) - {"crop_scale", "flip"}:
        raise ConfigError("trainer.augment", value, allowed)
    scale, flip = value.get("crop_scale", [0.2, 1.0]), value.get("flip", True)
    ok = isinstance(scale, list) and len(scale) == 2 and all(isinstance(s, (int, float)) for s in scale)
    if not ok or not 0 < scale[0] <= scale[1] <= 1 or not isinstance(flip, bool):
        raise ConfigError("trainer.augment", value, allowed)
    return Augment((float(scale[0]), float(scale[1])), flip)


def read_protocol(cfg: DictConfig) -> Protocol:
    """The protocol the `trainer` config asks for; ConfigError on a bad value."""
    return Protocol(
        batches=_choice(cfg, "batches", BATCHES),
        masks=_choice(cfg, "masks", MASKS),
        params=_choice(cfg, "params", PARAMS),
        augment=_augment(cfg.get("augment")),
    )
