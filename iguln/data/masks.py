"""Task masks as tensors: [1, 1, H, W] float, 1 = pixel the generator must fill, 0 = pixel it is given."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from iguln.errors import ConfigError


def _side(size: int, fraction: object, key: str, upper: float) -> int:
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction < upper:
        raise ConfigError(key, fraction, f"a number in (0, {upper})")
    pixels = round(size * fraction)
    if pixels < 1:
        raise ConfigError(key, fraction, f"at least 1/{size} (it must cover one pixel at {size} px)")
    return pixels


def center_square(size: int, fraction: float) -> torch.Tensor:
    """A centred square whose side is `fraction` of `size`: [1, 1, size, size]."""
    side = _side(size, fraction, "task.fraction", 1.0)
    start = (size - side) // 2
    mask = torch.zeros(1, 1, size, size)
    mask[..., start : start + side, start : start + side] = 1.0
    return mask


def border(size: int, fraction: float) -> torch.Tensor:
    """A border `fraction` of `size` wide on all four sides: [1, 1, size, size]."""
    width = _side(size, fraction, "task.fraction", 0.5)
    mask = torch.ones(1, 1, size, size)
    mask[..., width : size - width, width : size - width] = 0.0
    return mask


TASKS = {"inpaint_center": center_square, "outpaint": border}


def task_mask(cfg: DictConfig, size: int) -> torch.Tensor:
    """The mask of the task config `cfg` at `size` px: [1, 1, size, size], 1 = fill."""
    if cfg.name not in TASKS:
        raise ConfigError("task.name", cfg.name, sorted(TASKS), "Pick one with task=NAME.")
    return TASKS[cfg.name](size, cfg.fraction)


def apply_mask(x: torch.Tensor, mask: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """What a generator is shown: x [B, C, H, W] with the masked pixels set to `fill`."""
    return x * (1 - mask) + fill * mask
