"""Unlearning losses by `loss.name`, built from their config with every value checked first."""

from __future__ import annotations

from omegaconf import DictConfig

from iguln.errors import ConfigError
from iguln.unlearn.l2_noise import L2Noise
from iguln.unlearn.noise import NOISES

LOSSES = {"l2_noise": L2Noise}


def _alpha(cfg: DictConfig) -> float:
    alpha = cfg.alpha
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or alpha < 0:
        raise ConfigError("loss.alpha", alpha, "a number >= 0 (the weight of the forget term)")
    return float(alpha)


def build_loss(cfg: DictConfig):
    """The loss object named by loss.name (a callable (student, teacher, forget, retain, mask, generator))."""
    if cfg.name not in LOSSES:
        raise ConfigError("loss.name", cfg.name, sorted(LOSSES), "Pick one with loss=NAME.")
    if cfg.noise not in NOISES:
        raise ConfigError("loss.noise", cfg.noise, NOISES)
    return LOSSES[cfg.name](alpha=_alpha(cfg), noise=cfg.noise)
