"""Backbone features kept in the store, so that a sweep extracts the ground truth's (and the original generator's)
features once: <paths.store>/features/<name>-<hash of key>/features.pt, loaded with weights_only=True."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch

from iguln.io import UNREADABLE, atomic_torch_save
from iguln.store import entry_dir

log = logging.getLogger("iguln")
Features = dict[str, torch.Tensor]


def cached_features(store: str | Path, name: str, key: dict, compute: Callable[[], Features]) -> tuple[Features, bool]:
    """The features stored under `key`, or compute() stored there now. Returns (features, whether reused). An
    unreadable file is reported and replaced, never trusted."""
    path = entry_dir(store, "features", name, key) / "features.pt"
    if path.is_file():
        try:
            features = torch.load(path, weights_only=True, map_location="cpu")
            if isinstance(features, dict) and all(isinstance(v, torch.Tensor) for v in features.values()):
                return features, True
            log.warning("ignoring %s: not a dict of tensors", path)
        except UNREADABLE as err:  # recompute
            log.warning("ignoring unreadable feature file %s (%s)", path, err)
    features = compute()
    atomic_torch_save(path, features)
    return features, False
