"""Image sources: a labelled train part and test part, images served at the model's resolution.

Pixel range: every image iguln hands to a model is float32 [C, H, W] in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

PARTS = ("train", "test")


class ImageSource(Protocol):
    """A labelled image data set with a train part (pretraining, unlearning) and a test part (evaluation)."""

    name: str
    classes: list[str]
    channels: int
    image_size: int

    def targets(self, part: str) -> torch.Tensor:
        """Class index of every image of `part` ("train" or "test"): [N] int64."""

    def subset(self, part: str, indices: Sequence[int]) -> Dataset:
        """The images of `part` at `indices`: items (image [C, H, W] float in [-1, 1], class index)."""


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [..., C, H, W] in [0, 255] -> float32 in [-1, 1]."""
    return images.float().div(127.5).sub(1.0)


def resize_uint8(images: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Resize uint8 [N, C, h, w] to [N, C, size, size] (antialiased bilinear), kept as uint8 to save memory."""
    if images.shape[-2:] == (size, size):
        return images.contiguous()
    out = torch.empty(images.shape[0], images.shape[1], size, size, dtype=torch.uint8)
    for start in range(0, images.shape[0], chunk):
        batch = images[start : start + chunk].float()
        resized = F.interpolate(batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start : start + chunk] = resized.round().clamp(0, 255).to(torch.uint8)
    return out


class TensorImages(Dataset):
    """Images held in memory as uint8 [N, C, H, W], served as float [-1, 1] with their labels."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return to_unit_range(self.images[i]), int(self.labels[i])


@dataclass
class InMemorySource:
    """A data set small enough to hold in memory (Fashion-MNIST, CIFAR-10), resized once at load."""

    name: str
    classes: list[str]
    channels: int
    image_size: int
    parts: dict[str, tuple[torch.Tensor, torch.Tensor]]  # part -> (uint8 [N, C, H, W], labels [N])

    def targets(self, part: str) -> torch.Tensor:
        return self.parts[part][1]

    def subset(self, part: str, indices: Sequence[int]) -> Dataset:
        images, labels = self.parts[part]
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return TensorImages(images[index], labels[index])
