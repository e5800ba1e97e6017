"""Model families by name, and the resolution of `model` configs (preset + overrides) into full specs."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from iguln.errors import ConfigError
from iguln.models.diffusion import Diffusion
from iguln.models.generator import Generator
from iguln.models.mae import MAE
from iguln.models.vqgan import VQGAN

FAMILIES: dict[str, type[Generator]] = {VQGAN.family: VQGAN, MAE.family: MAE, Diffusion.family: Diffusion}


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
    overrides.pop("num_channels", None)
    arch = merge_known(family.presets[cfg.preset], overrides, "model.arch")
    arch["num_channels"] = channels
    with open_dict(cfg):
        cfg.arch = arch
    return cfg


def merge_known(preset: dict[str, Any], overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """The preset with `overrides` applied (nested dicts merged key by key); an unknown key is a ConfigError."""
    merged = dict(preset)
    for key, value in overrides.items():
        if key not in preset:
            raise ConfigError(f"{where}.{key}", value, sorted(preset))
        if isinstance(preset[key], dict) and isinstance(value, dict):
            merged[key] = merge_known(preset[key], value, f"{where}.{key}")
        else:
            merged[key] = value
    return merged


def build_generator(cfg: DictConfig) -> Generator:
    """A freshly initialised generator from a resolved `model` config."""
    family = family_of(cfg.name)
    options: dict[str, Any] = {k: OmegaConf.to_container(cfg, resolve=True)[k] for k in family.options}
    generator = family(OmegaConf.to_container(cfg.arch, resolve=True), **options)
    configure_generation(generator, cfg)
    return generator


def configure_generation(generator: Generator, cfg: DictConfig) -> None:
    """Apply the `model` config's generation-only settings (e.g. vqgan's model.decode) to a generator."""
    if cfg.name == generator.family:
        values = OmegaConf.to_container(cfg, resolve=True)
        generator.configure_generation(**{k: values[k] for k in generator.generation if k in values})


def weights_key(cfg: DictConfig) -> dict[str, Any]:
    """The part of a resolved `model` config that decides the trained weights: generation settings are left out,
    and so are top-level keys set to null, so that a new optional setting does not orphan existing originals."""
    values = OmegaConf.to_container(cfg, resolve=True)
    generation = family_of(cfg.name).generation
    return {k: v for k, v in values.items() if k not in generation and v is not None}
