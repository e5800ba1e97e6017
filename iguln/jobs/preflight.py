"""Before a paper experiment runs: every data root, class folder and weights file it needs, and where to give
each one that is missing (the key, and the environment variable the experiment reads it from)."""

from __future__ import annotations

import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from iguln.metrics.choice import missing_metric_weights
from iguln.models.families import family_of

ENV_VALUE = re.compile(r"\$\{oc\.env:(\w+)")  # how a paper experiment reads a key from the environment


def _where(cfg: DictConfig, key: str) -> str:
    """How to give `key`: the override, and the environment variable the config reads it from, if any."""
    raw = OmegaConf.to_container(cfg, resolve=False)
    for part in key.split("."):
        raw = raw.get(part) if isinstance(raw, dict) else None
    env = ENV_VALUE.match(raw) if isinstance(raw, str) else None
    return f"{key}=... (or {env.group(1)}=...)" if env else f"{key}=..."


def missing_items(cfg: DictConfig) -> list[str]:
    """What a paper experiment needs that is not there: data roots, class folders, weights files."""
    items = []
    data, model = cfg.data, cfg.model
    layout = f"<root>/{data.train_dir}/<class>/<images> and <root>/{data.eval_dir}/<class>/<images>"
    root = data.get("root")
    if root is None or not Path(str(root)).is_dir():
        state = "not set" if root is None else f"{root} does not exist"
        items.append(f"{_where(cfg, 'data.root')}: {state}; the {data.name} folder, {layout}")
    else:
        classes = list(cfg.split.forget) + list(cfg.split.retain)
        for part in (data.train_dir, data.eval_dir):
            absent = [c for c in classes if not (Path(str(root)) / part / str(c)).is_dir()]
            if absent:
                items.append(
                    f"data.root={root}: {len(absent)} class folders missing under {part}/, e.g. {', '.join(absent[:3])}"
                )
    family = family_of(model.name)
    for key in ("pretrained", "pretrained_tokenizer"):
        if key not in model:
            continue
        value, form = model.get(key), family.released_form
        if value is None and key == "pretrained":
            items.append(f"{_where(cfg, 'model.' + key)}: not set; the paper's released {model.name} weights ({form})")
        elif value is not None and not family.released_weights_present(str(value)):
            items.append(f"{_where(cfg, 'model.' + key)}: {value} is not {form}")
    items += [f"{_where(cfg, key)}: {what}" for key, what in missing_metric_weights(cfg.eval)]
    return items
