"""Weights that other libraries download on first use (torch.hub's cache): found locally, or refused at once when
downloads are off.

With HF_HUB_OFFLINE=1 iguln downloads nothing: hub ids and torch.hub URLs are looked up in their local caches
only, so a missing file fails in milliseconds instead of after a network timeout.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import torch

from iguln.core.errors import MissingArtefactError


def downloads_off() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def torch_hub_file(url: str) -> Path:
    """Where torch.hub keeps the download of `url` (the file may not be there)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def cached_or_downloadable(url: str, what: str, fix: str) -> Path | None:
    """torch.hub's cached copy of `url`; None when it is not cached but may be downloaded. Raises
    MissingArtefactError when it is not cached and downloads are off. `what` names the weights, `fix` says how
    to give them."""
    path = torch_hub_file(url)
    if path.is_file():
        return path
    if downloads_off():
        raise MissingArtefactError(f"{what}: not in torch.hub's cache ({path}) and HF_HUB_OFFLINE is set. {fix}")
    return None
