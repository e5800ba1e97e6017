"""Unlearning losses by `loss.name`, built from their config with every value checked first."""

from __future__ import annotations

from omegaconf import DictConfig

from iguln.core.errors import ConfigError
from iguln.unlearn.baselines import MaxLoss, NoisyLabel, RandomEncoder, RetainLabel
from iguln.unlearn.l2_noise import L2Noise
from iguln.unlearn.noise import NOISES
from iguln.unlearn.objective import Objective

LOSSES = {cls.name: cls for cls in (L2Noise, MaxLoss, NoisyLabel, RetainLabel, RandomEncoder)}
RETRAIN = "retrain"  # not a loss: a fresh generator trained on the retained classes only (the reference row)
NAMES = sorted([*LOSSES, RETRAIN])


def _alpha(cfg: DictConfig) -> float:
    alpha = cfg.alpha
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or alpha < 0:
        raise ConfigError("loss.alpha", alpha, "a number >= 0 (the weight of the forget term)")
    return float(alpha)


def check_loss(cfg: DictConfig) -> None:
    """Check the `loss` config; raises ConfigError."""
    if cfg.name not in NAMES:
        raise ConfigError("loss.name", cfg.name, NAMES, "Pick one with loss=NAME.")
    if cfg.name != RETRAIN:
        build_loss(cfg)


def build_loss(cfg: DictConfig) -> Objective:
    """The loss object named by loss.name (a callable (student, teacher, forget, retain, mask, generator))."""
    if cfg.name not in LOSSES:
        raise ConfigError("loss.name", cfg.name, sorted(LOSSES), "Pick one with loss=NAME.")
    noise = cfg.get("noise", "gaussian")
    if noise not in NOISES:
        raise ConfigError("loss.noise", noise, NOISES)
    return LOSSES[cfg.name](alpha=_alpha(cfg), noise=noise)
