"""Endless, seeded batches for step-based training, that can restart at any step (to resume a run)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler

from iguln.seeding import make_generator


class _EpochBatches(Sampler[list[int]]):
    """Batches of indices, epoch after epoch of `sampler` (the last incomplete batch of an epoch dropped), forever;
    the first `skip` batches are drawn and left out."""

    def __init__(self, sampler: RandomSampler, batch_size: int):
        self.sampler, self.batch_size, self.skip = sampler, batch_size, 0

    def __iter__(self) -> Iterator[list[int]]:
        skip = self.skip
        while True:
            epoch = list(iter(self.sampler))
            for start in range(0, len(epoch) - self.batch_size + 1, self.batch_size):
                if skip:
                    skip -= 1
                    continue
                yield epoch[start : start + self.batch_size]


class BatchStream:
    """Image batches [B, C, H, W] drawn without replacement, reshuffled every epoch, forever.

    The order depends only on `seed` and the data set; a data set smaller than `batch_size` is sampled with
    replacement so that every batch is full. `seek(step)` restarts the stream at batch `step`, exactly as if the
    `step` batches before it had been drawn.
    """

    def __init__(
        self, dataset: Dataset, batch_size: int, seed: int, num_workers: int = 0, pin_memory: bool = False
    ) -> None:
        replacement = len(dataset) < batch_size
        self.seed = seed
        self.sampler = RandomSampler(
            dataset,
            replacement=replacement,
            num_samples=batch_size if replacement else None,
            generator=make_generator(seed),
        )
        self.batches = _EpochBatches(self.sampler, batch_size)
        self.loader = DataLoader(dataset, batch_sampler=self.batches, num_workers=num_workers, pin_memory=pin_memory)
        self._iterator: Iterator | None = None

    def seek(self, step: int) -> None:
        """Restart at batch `step`. The loader's iterator is made now: making one draws a seed from torch's global
        generator, so a resuming run must call this before it restores that generator's state."""
        self.sampler.generator = make_generator(self.seed)
        self.batches.skip = step
        self._iterator = iter(self.loader)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> torch.Tensor:
        if self._iterator is None:
            self._iterator = iter(self.loader)
        images, _labels = next(self._iterator)
        return images
