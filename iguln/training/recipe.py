"""A training recipe (optimizer, schedule, budget), read and checked from any config section that holds one."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from omegaconf import DictConfig

from iguln.core.errors import ConfigError, positive_int

SCHEDULES = ("warmup_cosine", "constant")
# Keys a recipe may leave out, and their values then; at these values they are left out of its record too, so that
# store keys made before the keys existed (a domain judge's) stay the same.
DEFAULTS = {"schedule": "warmup_cosine", "no_decay_1d": False, "blr": None}


@dataclass(frozen=True)
class Recipe:
    """AdamW with `betas` and `weight_decay` (none on biases and other 1-D parameters with no_decay_1d), a linear
    warm-up over `warmup_steps`, then a half-cycle cosine to 0 (warmup_cosine) or the lr kept (constant); gradients
    clipped to `grad_clip` (None: not clipped). lr: given, or blr * batch_size / 256 (the reference code's rule)."""

    steps: int
    batch_size: int
    lr: float
    betas: tuple[float, float]
    weight_decay: float
    warmup_steps: int
    grad_clip: float | None
    schedule: str = "warmup_cosine"
    no_decay_1d: bool = False
    blr: float | None = None

    def record(self) -> dict:
        """Every value, for a result record."""
        return asdict(self)

    def key(self) -> dict:
        """The values a store key holds (DEFAULTS left out at their defaults)."""
        return {k: v for k, v in asdict(self).items() if not (k in DEFAULTS and DEFAULTS[k] == v)}


def _positive_int(cfg: DictConfig, key: str, where: str) -> int:
    return positive_int(f"{where}.{key}", cfg[key])


def _number(cfg: DictConfig, key: str, where: str, low: float, strict: bool) -> float:
    value = cfg[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (value > low if strict else value >= low):
        raise ConfigError(f"{where}.{key}", value, f"a finite number {'>' if strict else '>='} {low}")
    return float(value)


def _lr(cfg: DictConfig, where: str, batch_size: int) -> tuple[float, float | None]:
    """(lr, blr): lr as given, or blr * batch_size / 256 when `blr` is set (then lr must be null)."""
    blr = cfg.get("blr")
    if blr is None:
        return _number(cfg, "lr", where, 0.0, strict=True), None
    blr = _number(cfg, "blr", where, 0.0, strict=True)
    if cfg.get("lr") is not None:
        raise ConfigError(
            f"{where}.lr", cfg.lr, f"null while {where}.blr is set (lr = blr x batch_size / 256)", "Give one of them."
        )
    return blr * batch_size / 256, blr


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
    schedule = cfg.get("schedule", DEFAULTS["schedule"])
    if schedule not in SCHEDULES:
        raise ConfigError(f"{where}.schedule", schedule, SCHEDULES)
    no_decay = cfg.get("no_decay_1d", DEFAULTS["no_decay_1d"])
    if not isinstance(no_decay, bool):
        raise ConfigError(f"{where}.no_decay_1d", no_decay, "true or false")
    batch_size = _positive_int(cfg, "batch_size", where)
    lr, blr = _lr(cfg, where, batch_size)
    return Recipe(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        betas=(float(betas[0]), float(betas[1])),
        weight_decay=_number(cfg, "weight_decay", where, 0.0, strict=False),
        warmup_steps=warmup,
        grad_clip=clip,
        schedule=schedule,
        no_decay_1d=no_decay,
        blr=blr,
    )
