"""Fashion-MNIST from Debian's IDX files, or from torchvision's download."""

from __future__ import annotations

from pathlib import Path

import torch

from iguln.core.errors import MissingArtefactError
from iguln.data.idx import find_idx, read_idx
from iguln.data.source import InMemorySource, resize_uint8

_STEMS = {"train": "train-{}-idx{}-ubyte", "test": "t10k-{}-idx{}-ubyte"}
HOW_TO_GET = (
    "Get it with one of: `apt-get install dataset-fashion-mnist` (Debian; files in /usr/share/datasets/fashion-mnist), "
    "data.root=DIR (a folder holding the four IDX files, .gz or not), or data.download=true where the internet "
    "can be reached."
)


def _has_all(root: Path) -> bool:
    return all(
        find_idx(root, stem.format(kind, dim)) is not None
        for stem in _STEMS.values()
        for kind, dim in (("images", 3), ("labels", 1))
    )


def _download(target: Path) -> None:
    from torchvision.datasets import FashionMNIST

    for train in (True, False):
        FashionMNIST(root=str(target), train=train, download=True)


def locate(root: str, download: bool, downloads: str) -> Path:
    """The folder holding the IDX files: data.root, else torchvision's download folder (downloading if allowed)."""
    candidates = [Path(root), Path(downloads) / "FashionMNIST" / "raw"]
    for folder in candidates:
        if _has_all(folder):
            return folder
    if not download:
        raise MissingArtefactError(f"Fashion-MNIST IDX files are not in data.root={root}. {HOW_TO_GET}")
    try:
        _download(Path(downloads))
    except Exception as err:  # noqa: BLE001 - any download failure becomes one message
        raise MissingArtefactError(
            f"Fashion-MNIST IDX files are not in data.root={root} and torchvision's download failed "
            f"({type(err).__name__}: {err}). {HOW_TO_GET}"
        ) from err
    return candidates[1]


def load(cfg, image_size: int, downloads: str) -> InMemorySource:
    """Fashion-MNIST at `image_size` px, one channel, labels 0..9 named by data.classes."""
    folder = locate(cfg.root, cfg.download, downloads)
    parts = {}
    for part, stem in _STEMS.items():
        images = torch.from_numpy(read_idx(find_idx(folder, stem.format("images", 3))).copy()).unsqueeze(1)
        labels = torch.from_numpy(read_idx(find_idx(folder, stem.format("labels", 1))).astype("int64"))
        parts[part] = (resize_uint8(images, image_size), labels)
    return InMemorySource("fashion_mnist", list(cfg.classes), 1, image_size, parts)
