"""The registry of model families (`model.name`), and the resolution of `model` configs (preset + overrides) into
full specs.

Each entry is a Generator subclass and owns its metadata: `presets`, the config keys it is built from (`options`,
`generation`, `recipes`), and its optional capabilities (capabilities.py), which the losses' needs are checked
against. A family from elsewhere registers with `register_family` (iguln/extend.py), with its `model` config.
"""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from iguln.core.errors import ConfigError
from iguln.core.registry import Registry
from iguln.models.capabilities import capabilities
from iguln.models.diffusion import Diffusion
from iguln.models.generator import Generator
from iguln.models.mae import MAE
from iguln.models.vqgan import VQGAN

log = logging.getLogger("iguln")
FAMILIES: Registry[type[Generator]] = Registry("model family", "model.name", group="model")


def register_family(family: type[Generator], config: dict | None = None) -> type[Generator]:
    """Add a Generator subclass under its `family` name. `config`: its `model` config group option (the keys
    besides `name`: `preset`, `arch: {}`, `pretrain` and the family's `options` and `generation` keys), for a family
    without a YAML file in iguln/conf/model/."""
    return FAMILIES.register(family.family, family, config)


for _family in (VQGAN, MAE, Diffusion):
    register_family(_family)


def family_of(name: str) -> type[Generator]:
    return FAMILIES.get(name)


def family_capabilities(name: str) -> frozenset[str]:
    """The optional capabilities of the family `name` (capabilities.py)."""
    return capabilities(family_of(name))


def resolve_model_config(cfg: DictConfig, channels: int) -> DictConfig:
    """Fill model.arch from model.preset (keeping user overrides), or from the released weights' own config when
    they fix it, in place; the result is recorded as is."""
    family = family_of(cfg.name)
    with open_dict(cfg):
        family.resolve_options(cfg)
    overrides = OmegaConf.to_container(cfg.arch, resolve=True) or {}
    overrides.pop("num_channels", None)
    released = family.released_config(cfg)
    if released is not None:
        return apply_released(cfg, family, released, overrides, channels)
    if cfg.preset not in family.presets:
        raise ConfigError("model.preset", cfg.preset, sorted(family.presets))
    arch = merge_known(family.presets[cfg.preset], overrides, "model.arch")
    arch["num_channels"] = channels
    with open_dict(cfg):
        cfg.arch = arch
    return cfg


def apply_released(
    cfg: DictConfig, family: type[Generator], released: dict[str, Any], overrides: dict[str, Any], channels: int
) -> DictConfig:
    """model.arch from the released weights' config (overrides must agree with it, and so must the data's channels);
    model.preset becomes the preset it matches (null if none); keys left null take the released values."""
    arch, source = released["arch"], cfg.pretrained
    for key, value in overrides.items():
        if key not in arch:
            raise ConfigError(f"model.arch.{key}", value, sorted(arch))
        if value != arch[key]:
            raise ConfigError(
                f"model.arch.{key}",
                value,
                [arch[key]],
                f"model.pretrained={source} fixes the architecture (its config.json); leave model.arch.{key} out.",
            )
    if arch["num_channels"] != channels:
        raise ConfigError(
            "data.channels",
            channels,
            [arch["num_channels"]],
            f"model.pretrained={source} takes {arch['num_channels']}-channel images: pick a data set that has them "
            "(e.g. data=cifar10, or data=imagefolder data.root=DIR).",
        )
    preset = next((name for name, p in family.presets.items() if all(arch.get(k) == v for k, v in p.items())), None)
    if preset != cfg.preset:
        log.info("model.pretrained=%s fixes the architecture: model.preset=%s -> %s", source, cfg.preset, preset)
    with open_dict(cfg):
        cfg.arch, cfg.preset = arch, preset
        for key, value in released.items():
            if key != "arch" and cfg.get(key) is None:
                cfg[key] = value
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
    and so are top-level keys set to null or to the family's neutral value, so that a new optional setting does
    not orphan existing originals, and the seed (the store key holds it on its own)."""
    values = OmegaConf.to_container(cfg, resolve=True)
    values.pop("seed", None)
    family = family_of(cfg.name)
    neutral = family.neutral
    return {
        k: v
        for k, v in values.items()
        if k not in family.generation and v is not None and not (k in neutral and neutral[k] == v)
    }
