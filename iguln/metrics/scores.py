"""FID, Inception Score and embedding similarity from features computed once (torchmetrics does the maths)."""

from __future__ import annotations

import warnings

import torch
from torch import nn


class Precomputed(nn.Module):
    """A 'feature extractor' for torchmetrics that receives features already extracted: [N, D] -> [N, D]."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between two feature sets [N, D] and [M, D] (both need at least 2 rows)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=Precomputed(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def inception_score(logits: torch.Tensor, splits: int, seed: int) -> tuple[float, float]:
    """Inception Score (mean, std over `splits`) of class logits [N, K]; the split shuffle is seeded."""
    from torchmetrics.image.inception import InceptionScore

    with warnings.catch_warnings():  # its note on keeping features in memory: these are logits, already in memory
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = InceptionScore(feature=Precomputed(logits.shape[1]), splits=splits)
    metric.update(logits.double())
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*degrees of freedom.*")  # one split: std is NaN, dropped later
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def mean_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean cosine similarity of paired rows of [N, D] and [N, D]."""
    from torchmetrics.functional import cosine_similarity

    return float(cosine_similarity(a.double(), b.double(), reduction="mean"))
