"""Class-per-folder image trees (ImageNet, Places-365, or any <root>/<part dir>/<class>/<image>)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import v2

from iguln.core.errors import ConfigError, MissingArtefactError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def scan(folder: Path, classes: list[str]) -> tuple[list[Path], torch.Tensor]:
    """Every image file under folder/<class>/ (sorted), with its class index: (paths, [N] int64)."""
    paths, labels = [], []
    for index, name in enumerate(classes):
        class_dir = folder / name
        if not class_dir.is_dir():
            continue
        files = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += files
        labels += [index] * len(files)
    return paths, torch.tensor(labels, dtype=torch.long)


class FolderImages(Dataset):
    """Image files decoded on demand: resized (shorter side), centre-cropped, float [C, H, W] in [-1, 1]."""

    def __init__(self, paths: list[Path], labels: torch.Tensor, image_size: int, channels: int):
        self.paths, self.labels, self.mode = paths, labels, "L" if channels == 1 else "RGB"
        self.transform = v2.Compose(
            [
                v2.PILToTensor(),
                v2.Resize(image_size, antialias=True),
                v2.CenterCrop(image_size),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize([0.5] * channels, [0.5] * channels),
            ]
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        with Image.open(self.paths[i]) as image:
            return self.transform(image.convert(self.mode)), int(self.labels[i])


@dataclass
class FolderSource:
    name: str
    classes: list[str]
    channels: int
    image_size: int
    files: dict[str, tuple[list[Path], torch.Tensor]]  # part -> (paths, labels)

    def targets(self, part: str) -> torch.Tensor:
        return self.files[part][1]

    def subset(self, part: str, indices: Sequence[int]) -> Dataset:
        paths, labels = self.files[part]
        index = list(indices)
        return FolderImages([paths[i] for i in index], labels[index], self.image_size, self.channels)


def load(cfg, image_size: int, downloads: str) -> FolderSource:
    """A class-per-folder tree under data.root; classes from data.classes or the train dir's sub-folders."""
    root = Path(cfg.root)
    layout = f"{cfg.root}/{cfg.train_dir}/<class>/<image> and {cfg.root}/{cfg.eval_dir}/<class>/<image>"
    if not root.is_dir():
        raise MissingArtefactError(f"data.root={cfg.root} does not exist. Expected layout: {layout}.")
    parts = {"train": root / cfg.train_dir, "test": root / cfg.eval_dir}
    for part, folder in parts.items():
        if not folder.is_dir():
            key = "data.train_dir" if part == "train" else "data.eval_dir"
            raise MissingArtefactError(f"{key}: {folder} does not exist. Expected layout: {layout}.")
    classes = list(cfg.classes) if cfg.classes else sorted(p.name for p in parts["train"].iterdir() if p.is_dir())
    if not classes:
        raise MissingArtefactError(f"{parts['train']} has no class sub-folders. Expected layout: {layout}.")
    missing = [c for c in classes if not (parts["train"] / c).is_dir()]
    if missing:
        raise ConfigError("data.classes", missing[:5], f"sub-folders of {parts['train']}")
    files = {part: scan(folder, classes) for part, folder in parts.items()}
    return FolderSource(cfg.name, classes, int(cfg.channels), image_size, files)
