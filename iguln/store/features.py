"""Backbone features kept in the store, so that a sweep extracts the ground truth's (and the original generator's)
features once: <paths.store>/features/<name>-<hash of key>/features.pt, loaded with weights_only=True. Under torchrun
process 0 reads and writes the store, and every process ends with the same features."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch

from iguln.core import distributed
from iguln.core.io import UNREADABLE, atomic_torch_save
from iguln.store.layout import entry_dir

log = logging.getLogger("iguln")
Features = dict[str, torch.Tensor]


def _load(path: Path) -> Features | None:
    """The features in `path`, or None when there are none; an unreadable file is reported, never trusted."""
    if not path.is_file():
        return None
    try:
        features = torch.load(path, weights_only=True, map_location="cpu")
        if isinstance(features, dict) and all(isinstance(v, torch.Tensor) for v in features.values()):
            return features
        log.warning("ignoring %s: not a dict of tensors", path)
    except UNREADABLE as err:  # recompute
        log.warning("ignoring unreadable feature file %s (%s)", path, err)
    return None


def cached_features(store: str | Path, name: str, key: dict, compute: Callable[[], Features]) -> tuple[Features, bool]:
    """The features stored under `key`, or compute() stored there now (replacing an unreadable file). Returns
    (features, whether reused). Under torchrun every process calls this, and compute() is a collective."""
    path = entry_dir(store, "features", name, key) / "features.pt"
    features = _load(path) if distributed.is_main() else None
    if distributed.broadcast(features is not None):
        return distributed.broadcast(features), True
    features = compute()
    if distributed.is_main():
        atomic_torch_save(path, features)
    return features, False
