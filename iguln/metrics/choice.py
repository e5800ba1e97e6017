"""Which backbone scores which metric (eval.backbone), and loading them, with `auto`'s fall-back to the domain judge.

eval.backbone is one name for every metric, a mapping {fid: ..., is: ..., clip: ...}, or `auto`: each metric
takes the network eval.auto names for it when its weights load, and the domain judge otherwise; the metric's
entry in the record then says what was tried and why it was not used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from iguln.core.errors import ConfigError, MissingArtefactError
from iguln.core.registry import Registry
from iguln.metrics.backbones import Backbone, clip_backbone, combine, inception_backbone
from iguln.metrics.catalogue import feature_metrics
from iguln.metrics.openclip import clip_available
from iguln.metrics.places import places_backbone

log = logging.getLogger("iguln")
AUTO = "auto"


@dataclass(frozen=True)
class BackboneEntry:
    """An `eval.backbone` value. load(eval cfg, device, judge) -> Backbone (judge() loads the domain judge);
    weights: (the eval key of its weights file, what that file is), for the pre-flight check of `iguln reproduce
    paper`; present(eval cfg): whether its weights can be had without a download that downloads_off forbids."""

    name: str
    load: Callable[[DictConfig, torch.device, Callable[[], Backbone]], Backbone]
    weights: tuple[str, str] | None = None
    present: Callable[[DictConfig], bool] | None = None


BACKBONES: Registry[BackboneEntry] = Registry("backbone", "eval.backbone")
for _entry in (
    BackboneEntry("domain", lambda cfg, device, judge: judge()),
    BackboneEntry(
        "inception",
        lambda cfg, device, judge: inception_backbone(cfg.inception_weights, device),
        ("inception_weights", "torch-fidelity's Inception-V3 weights file (pt_inception-2015-12-05)"),
    ),
    BackboneEntry(
        "clip",
        lambda cfg, device, judge: clip_backbone(cfg.clip_model, device),
        present=lambda cfg: clip_available(str(cfg.clip_model)),
    ),
    BackboneEntry(
        "places365",
        lambda cfg, device, judge: places_backbone(cfg.places_weights, device),
        ("places_weights", "CSAILVision's resnet50_places365.pth.tar"),
    ),
):
    BACKBONES.register(_entry.name, _entry)


def _allowed() -> str:
    metrics = ", ".join(f"{m.name}: ..." for m in feature_metrics())
    return f"one of {', '.join(BACKBONES.names())}, {AUTO}, or a mapping {{{metrics}}}"


def _names(key: str, value: object) -> dict[str, str]:
    """metric -> backbone name, for every feature metric, from one name or a mapping of metric names. A mapping
    needs, for each feature a metric reads, one of those metrics; every metric reading it takes that backbone."""
    metrics = feature_metrics()
    if isinstance(value, str):
        if value not in BACKBONES:
            raise ConfigError(key, value, _allowed())
        return {m.name: value for m in metrics}
    known = {m.name for m in metrics}
    if not isinstance(value, dict) or not value or not set(value) <= known:
        raise ConfigError(key, value, _allowed())
    by_feature: dict[str, str] = {}
    for metric, name in value.items():
        if name not in BACKBONES:
            raise ConfigError(f"{key}.{metric}", name, BACKBONES.names())
        feature = next(m.reads for m in metrics if m.name == metric)
        if by_feature.setdefault(feature, name) != name:
            raise ConfigError(f"{key}.{metric}", name, [by_feature[feature]], f"Metrics reading '{feature}' share one.")
    uncovered = [m.name for m in metrics if m.reads not in by_feature]
    if uncovered:
        raise ConfigError(key, value, _allowed(), f"No backbone is given for {', '.join(uncovered)}.")
    return {m.name: by_feature[m.reads] for m in metrics}


def metric_choices(cfg: DictConfig) -> tuple[dict[str, str], bool]:
    """(metric -> backbone name, whether auto) from eval.backbone; a ConfigError for anything else."""
    value = cfg.backbone
    value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    if value == AUTO:
        auto = cfg.get("auto")
        auto = OmegaConf.to_container(auto) if OmegaConf.is_config(auto) else auto
        return _names("eval.auto", auto), True
    return _names("eval.backbone", value), False


def check_backbone_name(cfg: DictConfig) -> None:
    metric_choices(cfg)
    if cfg.get("lpips", "auto") not in ("auto", "off", False):  # YAML files read `off` as false
        raise ConfigError("eval.lpips", cfg.lpips, ("auto", "off"))


def load_metric_backbone(cfg: DictConfig, device: torch.device, judge: Callable[[], Backbone]) -> Backbone:
    """One backbone giving each metric's features from the backbone chosen for it. `judge` loads (or trains) the
    domain judge; it is called only when some metric needs it."""
    choices, auto = metric_choices(cfg)
    loaded: dict[str, Backbone | MissingArtefactError] = {}
    parts, warned = {}, set()
    for metric, name in choices.items():
        if name not in loaded:
            try:
                loaded[name] = BACKBONES.get(name).load(cfg, device, judge)
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
        parts[next(m.reads for m in feature_metrics() if m.name == metric)] = part
    return combine(parts)


def missing_metric_weights(cfg: DictConfig) -> list[tuple[str, str]]:
    """(config key, what is missing) for each metric network eval.backbone names whose weights are not here; none
    for auto, which falls back to the domain judge."""
    choices, auto = metric_choices(cfg)
    if auto:
        return []
    items = []
    for name in dict.fromkeys(choices.values()):
        entry = BACKBONES.get(name)
        if entry.weights is not None:
            key, what = entry.weights
            value = cfg.get(key)
            if value is None or not Path(str(value)).is_file():
                state = "not set" if value is None else f"{value} is not a file"
                items.append((f"eval.{key}", f"{state}; {what}"))
        if entry.present is not None and not entry.present(cfg):
            items.append(("eval.clip_model", f"{cfg.clip_model} is not a local file or dir and downloads are off"))
    return items
