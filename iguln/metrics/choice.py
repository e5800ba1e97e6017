"""Which backbone scores which metric (eval.backbone), and loading them, with `auto`'s fall-back to the domain judge.

eval.backbone is one name for every metric, a mapping {fid: ..., is: ..., clip: ...}, or `auto`: each metric
takes the network eval.auto names for it when its weights load, and the domain judge otherwise; the metric's
entry in the record then says what was tried and why it was not used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from iguln.core.errors import ConfigError, MissingArtefactError
from iguln.metrics.backbones import BACKBONES, Backbone, clip_backbone, combine, inception_backbone
from iguln.metrics.openclip import clip_available
from iguln.metrics.places import places_backbone

log = logging.getLogger("iguln")
METRIC_FEATURES = {"fid": "pool", "is": "logits", "clip": "embed"}  # metric -> the backbone feature it uses
AUTO = "auto"


def _names(key: str, value: object) -> dict[str, str]:
    if isinstance(value, str):
        if value not in BACKBONES:
            raise ConfigError(key, value, (*BACKBONES, AUTO, "{fid: ..., is: ..., clip: ...}"))
        return dict.fromkeys(METRIC_FEATURES, value)
    if not isinstance(value, dict) or set(value) != set(METRIC_FEATURES):
        raise ConfigError(key, value, f"one of {', '.join(BACKBONES)}, {AUTO}, or a mapping with keys fid, is, clip")
    for metric, name in value.items():
        if name not in BACKBONES:
            raise ConfigError(f"{key}.{metric}", name, BACKBONES)
    return dict(value)


def metric_choices(cfg: DictConfig) -> tuple[dict[str, str], bool]:
    """(metric -> backbone name, whether auto) from eval.backbone; a ConfigError for anything else."""
    value = cfg.backbone
    value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    if value == AUTO:
        auto = cfg.get("auto")
        auto = OmegaConf.to_container(auto) if OmegaConf.is_config(auto) else auto
        return _names("eval.auto", auto), True
    return _names("eval.backbone", value), False


def load_named(name: str, cfg: DictConfig, device: torch.device, judge: Callable[[], Backbone]) -> Backbone:
    if name == "inception":
        return inception_backbone(cfg.inception_weights, device)
    if name == "clip":
        return clip_backbone(cfg.clip_model, device)
    if name == "places365":
        return places_backbone(cfg.places_weights, device)
    return judge()


def load_metric_backbone(cfg: DictConfig, device: torch.device, judge: Callable[[], Backbone]) -> Backbone:
    """One backbone giving each metric's features from the backbone chosen for it. `judge` loads (or trains) the
    domain judge; it is called only when some metric needs it."""
    choices, auto = metric_choices(cfg)
    loaded: dict[str, Backbone | MissingArtefactError] = {}
    parts, warned = {}, set()
    for metric, name in choices.items():
        if name not in loaded:
            try:
                loaded[name] = load_named(name, cfg, device, judge)
            except MissingArtefactError as err:
                if not auto:
                    raise
                loaded[name] = err
        part = loaded[name]
        if isinstance(part, MissingArtefactError):
            if "domain" not in loaded:
                loaded["domain"] = judge()
            reason = f"eval.backbone=auto: {name} could not be loaded ({part}); the domain judge scores {metric}"
            if name not in warned:
                warned.add(name)
                log.warning("eval.backbone=auto: %s could not be loaded (%s); the domain judge stands in", name, part)
            part = replace(loaded["domain"], info={**loaded["domain"].info, "auto": reason})
        elif auto:
            part = replace(part, info={**part.info, "auto": f"eval.backbone=auto chose {name} for {metric}"})
        parts[METRIC_FEATURES[metric]] = part
    return combine(parts)


def missing_metric_weights(cfg: DictConfig) -> list[tuple[str, str]]:
    """(config key, what is missing) for each metric network eval.backbone names whose weights are not here; none
    for auto, which falls back to the domain judge."""
    choices, auto = metric_choices(cfg)
    names, items = set(choices.values()), []
    if auto:
        return items
    for name, key, what in (
        ("inception", "inception_weights", "torch-fidelity's Inception-V3 weights file (pt_inception-2015-12-05)"),
        ("places365", "places_weights", "CSAILVision's resnet50_places365.pth.tar"),
    ):
        value = cfg.get(key)
        if name in names and (value is None or not Path(str(value)).is_file()):
            state = "not set" if value is None else f"{value} is not a file"
            items.append((f"eval.{key}", f"{state}; {what}"))
    if "clip" in names and not clip_available(str(cfg.clip_model)):
        items.append(("eval.clip_model", f"{cfg.clip_model} is not a local file or dir and downloads are off"))
    return items
