"""Endless, seeded batches for step-based training, that can restart at any step (to resume a run)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from iguln.core.seeding import make_generator


class BatchStream:
    """Image batches [B, C, H, W] drawn without replacement, reshuffled every epoch, forever.

    The order depends only on `seed` and the data set; a data set smaller than `batch_size` is sampled with
    replacement so that every batch is full; an epoch's last incomplete batch is dropped. Each epoch gets a new
    loader iterator, and making one draws a seed from torch's global generator (which dropout also draws from), so
    the epochs' boundaries are part of a run's random stream. `seek(step)` restarts the stream at batch `step`,
    exactly as if the `step` batches before it had been drawn.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int,
        num_workers: int = 0,
        pin_memory: bool = False,
        labels: bool = False,
    ) -> None:
        self.labels = labels
        replacement = len(dataset) < batch_size
        self.seed = seed
        self.sampler = RandomSampler(
            dataset,
            replacement=replacement,
            num_samples=batch_size if replacement else None,
            generator=make_generator(seed),
        )
        self.loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=self.sampler,
            drop_last=True,
            num_workers=num_workers,
            pin_memory=pin_memory,
            persistent_workers=num_workers > 0,
        )
        self._iterator: Iterator | None = None

    def seek(self, step: int) -> None:
        """Restart at batch `step`: whole epochs are skipped by drawing their order only, the rest of the last one
        by loading its batches. The epoch's iterator is made now, so a resuming run must call this before it
        restores torch's global generator."""
        self.sampler.generator = make_generator(self.seed)
        epochs, within = divmod(step, len(self.loader))
        for _ in range(epochs):
            list(iter(self.sampler))
        self._iterator = iter(self.loader)
        for _ in range(within):
            next(self._iterator)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The next batch of images [B, C, H, W]; with labels=True, (images, labels [B])."""
        if self._iterator is None:
            self._iterator = iter(self.loader)
        try:
            images, labels = next(self._iterator)
        except StopIteration:  # the next epoch
            self._iterator = iter(self.loader)
            images, labels = next(self._iterator)
        return (images, labels) if self.labels else images


class BalancedSets(Dataset):
    """Forget and retain images in one data set, labelled FORGET (0) or RETAIN (1), the smaller set repeated until
    both have as many images (as the reference code balances them): items (image, set label)."""

    FORGET, RETAIN = 0, 1

    def __init__(self, forget: Dataset, retain: Dataset):
        self.sets = (forget, retain)
        self.size = max(len(forget), len(retain))

    def __len__(self) -> int:
        return 2 * self.size

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        label, j = divmod(i, self.size)
        dataset = self.sets[label]
        return dataset[j % len(dataset)][0], label


class Indexed(Dataset):
    """A data set's images with their index: items (image, index), so that a stream's batches say which images
    they hold (a BatchStream with labels=True gives (images [B, C, H, W], indices [B]))."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.dataset[i][0], i
