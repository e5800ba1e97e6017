"""Model families by name, and the resolution of `model` configs (preset + overrides) into full specs."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from iguln.errors import ConfigError
from iguln.models.generator import Generator
from iguln.models.mae import MAE

FAMILIES: dict[str, type[Generator]] = {MAE.family: MAE}


def family_of(name: str) -> type[Generator]:
    if name not in FAMILIES:
        raise ConfigError("model.name", name, sorted(FAMILIES), "Pick one with model=NAME.")
    return FAMILIES[name]


def resolve_model_config(cfg: DictConfig, channels: int) -> DictConfig:
    """Fill model.arch from model.preset (keeping user overrides), in place; the result is recorded as is."""
    family = family_of(cfg.name)
    if cfg.preset not in family.presets:
        raise ConfigError("model.preset", cfg.preset, sorted(family.presets))
    overrides = OmegaConf.to_container(cfg.arch, resolve=True) or {}
    arch = dict(family.presets[cfg.preset])
    unknown = sorted(set(overrides) - set(arch) - {"num_channels"})
    if unknown:
        raise ConfigError(f"model.arch.{unknown[0]}", overrides[unknown[0]], sorted(arch))
    arch.update(overrides)
    arch["num_channels"] = channels
    with open_dict(cfg):
        cfg.arch = arch
    return cfg


def build_generator(cfg: DictConfig) -> Generator:
    """A freshly initialised generator from a resolved `model` config."""
    family = family_of(cfg.name)
    options: dict[str, Any] = {k: cfg[k] for k in family.options}
    return family(OmegaConf.to_container(cfg.arch, resolve=True), **options)
