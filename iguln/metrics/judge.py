"""The domain judge: a small classifier trained once on a data set's train split, used as an offline backbone.

FID uses its penultimate features, IS its logits, the CLIP-style similarity its (penultimate) embedding.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from iguln.store.folders import is_folder, read_folder, write_folder
from iguln.store.layout import entry_dir
from iguln.training.engine import autocast, fit
from iguln.training.recipe import Recipe


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class Judge(nn.Module):
    """Three conv stages (width, 2 width, 4 width), global pooling, a 4*width embedding and a linear classifier."""

    def __init__(self, channels: int, num_classes: int, width: int = 32):
        super().__init__()
        self.spec = {"channels": channels, "num_classes": num_classes, "width": width}
        self.body = nn.Sequential(_block(channels, width), _block(width, 2 * width), _block(2 * width, 4 * width))
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(4 * width, 4 * width), nn.ReLU(inplace=True))
        self.head = nn.Linear(4 * width, num_classes)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x [B, C, H, W] in [-1, 1] -> {"pool": [B, 4w], "embed": [B, 4w], "logits": [B, classes]}."""
        pooled = F.adaptive_avg_pool2d(self.body(x), 1)
        embedding = self.embed(pooled)
        return {"pool": embedding, "embed": embedding, "logits": self.head(embedding)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)["logits"]


@torch.no_grad()
def accuracy(judge: Judge, dataset, device: torch.device, batch_size: int = 500) -> float:
    judge.eval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
    correct = total = 0
    for images, labels in loader:
        with autocast(device, "bf16"):
            predicted = judge(images.to(device)).argmax(1).cpu()
        correct += int((predicted == labels).sum())
        total += len(labels)
    return correct / total


def train_judge(
    source, width: int, recipe: Recipe, device: torch.device, seed: int, precision: str
) -> tuple[Judge, dict]:
    """Train a judge on every train image of `source` (all classes); returns it with its test accuracy."""
    torch.manual_seed(seed)
    judge = Judge(source.channels, len(source.classes), width).to(device)
    train = source.subset("train", range(len(source.targets("train"))))
    batches = _labelled_batches(train, recipe.batch_size, seed)

    def step():
        images, labels = next(batches)
        return F.cross_entropy(judge(images.to(device)), labels.to(device)), {}

    history = fit(judge.parameters(), step, recipe, device, precision, desc="judge")
    test = source.subset("test", range(len(source.targets("test"))))
    return judge.eval(), {"test_accuracy": accuracy(judge, test, device), "train_wall_s": history["wall_s"]}


def _labelled_batches(dataset, batch_size: int, seed: int):
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        drop_last=True,
        sampler=torch.utils.data.RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)),
    )
    while True:
        yield from loader


def judge_key(source, width: int, recipe: Recipe, seed: int) -> dict:
    return {
        "data": source.name,
        "classes": source.classes,
        "image_size": source.image_size,
        "channels": source.channels,
        "width": width,
        "recipe": recipe.key(),
        "seed": seed,
    }


def load_or_train_judge(
    source, width: int, recipe: Recipe, store: str, device: torch.device, seed: int, precision: str
) -> tuple[Judge, dict, Path]:
    """The stored judge for this data set and recipe, trained and stored first if missing: (judge, manifest, dir)."""
    key = judge_key(source, width, recipe, seed)
    path = entry_dir(store, "judge", source.name, key)
    if not is_folder(path):
        judge, info = train_judge(source, width, recipe, device, seed, precision)
        with contextlib.suppress(FileExistsError):  # another job of the sweep stored the same judge meanwhile
            write_folder(path, judge, {"kind": "domain judge", "key": key, "spec": judge.spec, **info})
    folder = read_folder(path, "a domain judge folder")
    judge = folder.load_into(Judge(**folder.manifest["spec"]))
    return judge.to(device).eval(), folder.manifest, path
