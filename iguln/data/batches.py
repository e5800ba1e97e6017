"""Endless, seeded batches for step-based training."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from iguln.seeding import make_generator


def endless_batches(
    dataset: Dataset, batch_size: int, seed: int, num_workers: int = 0, pin_memory: bool = False
) -> Iterator[torch.Tensor]:
    """Image batches [B, C, H, W] drawn without replacement, reshuffled every epoch, forever.

    The order depends only on `seed` and the data set; a data set smaller than `batch_size` is sampled with
    replacement so that every batch is full.
    """
    replacement = len(dataset) < batch_size
    sampler = RandomSampler(
        dataset,
        replacement=replacement,
        num_samples=batch_size if replacement else None,
        generator=make_generator(seed),
    )
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=True,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
    )
    while True:
        for images, _labels in loader:
            yield images
