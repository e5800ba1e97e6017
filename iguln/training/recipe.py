"""A training recipe (optimizer, schedule, budget), read and checked from any config section that holds one."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from omegaconf import DictConfig

from iguln.core.errors import ConfigError, positive_int


@dataclass(frozen=True)
class Recipe:
    steps: int
    batch_size: int
    lr: float
    betas: tuple[float, float]
    weight_decay: float
    warmup_steps: int
    grad_clip: float | None

    def record(self) -> dict:
        return asdict(self)


def _positive_int(cfg: DictConfig, key: str, where: str) -> int:
    return positive_int(f"{where}.{key}", cfg[key])


def _number(cfg: DictConfig, key: str, where: str, low: float, strict: bool) -> float:
    value = cfg[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (value > low if strict else value >= low):
        raise ConfigError(f"{where}.{key}", value, f"a finite number {'>' if strict else '>='} {low}")
    return float(value)


def read_recipe(cfg: DictConfig, where: str) -> Recipe:
    """The recipe at config section `where` (e.g. "trainer", "model.pretrain"), checked key by key."""
    steps = _positive_int(cfg, "steps", where)
    warmup = cfg.warmup_steps
    if not isinstance(warmup, int) or isinstance(warmup, bool) or not 0 <= warmup < steps:
        raise ConfigError(f"{where}.warmup_steps", warmup, f"an integer from 0 to {where}.steps - 1 = {steps - 1}")
    betas = cfg.betas
    if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
        raise ConfigError(f"{where}.betas", list(betas), "two numbers in [0, 1)")
    clip = cfg.grad_clip
    if clip is not None:
        clip = _number(cfg, "grad_clip", where, 0.0, strict=True)
    return Recipe(
        steps=steps,
        batch_size=_positive_int(cfg, "batch_size", where),
        lr=_number(cfg, "lr", where, 0.0, strict=True),
        betas=(float(betas[0]), float(betas[1])),
        weight_decay=_number(cfg, "weight_decay", where, 0.0, strict=False),
        warmup_steps=warmup,
        grad_clip=clip,
    )
