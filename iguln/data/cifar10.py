"""CIFAR-10 through torchvision (its python-pickle batches; downloaded when allowed and missing)."""

from __future__ import annotations

import torch

from iguln.core.errors import MissingArtefactError
from iguln.data.source import InMemorySource, resize_uint8


def load(cfg, image_size: int, downloads: str) -> InMemorySource:
    """CIFAR-10 at `image_size` px, three channels."""
    from torchvision.datasets import CIFAR10

    parts = {}
    for part in ("train", "test"):
        try:
            data = CIFAR10(root=str(cfg.root), train=part == "train", download=bool(cfg.download))
        except Exception as err:  # noqa: BLE001 - a missing or failed download becomes one message
            raise MissingArtefactError(
                f"CIFAR-10 is not in data.root={cfg.root} and could not be downloaded ({type(err).__name__}: {err}). "
                "Put torchvision's cifar-10-batches-py folder in data.root, or run once where the internet can be "
                "reached with data.download=true."
            ) from err
        images = torch.from_numpy(data.data).permute(0, 3, 1, 2)
        parts[part] = (resize_uint8(images, image_size), torch.tensor(data.targets, dtype=torch.long))
    return InMemorySource("cifar10", list(cfg.classes), 3, image_size, parts)
