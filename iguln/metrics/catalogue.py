"""The registry of metrics: what every result record scores, and how tables show it.

Each entry owns its metadata: its key in the record (metrics[model][set][name]), its column header and unit, which
direction is better, and what it reads. A *feature* metric reads one backbone feature ("pool", "logits" or "embed")
of the outputs and of their ground truth, and computes from those; it is missing, with the reason, when the
backbone has no such feature. A *paired* metric compares a model's outputs with the original's on the same inputs
(LPIPS); it watches the scoring pass. A metric from elsewhere registers with `register_metric` (iguln/extend.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from iguln.core.registry import Registry


class MetricMissing(Exception):
    """Raised by a metric's compute when it cannot be computed; the reason goes into the record."""


@dataclass(frozen=True)
class Settings:
    """What a feature metric may need besides the features: the IS splits, the seed of any shuffle or resample,
    and how many bootstrap draws an interval takes (0: none)."""

    splits: int
    seed: int
    bootstrap: int = 0


FeatureCompute = Callable[[torch.Tensor, torch.Tensor, Settings], "float | dict[str, Any]"]


@dataclass(frozen=True)
class Metric:
    """A metric. compute(real [N, D], fake [M, D], settings) -> value or {"value": ..., more fields} for a feature
    metric (raise MetricMissing when it cannot be computed); watch(eval cfg, original, mask, device, precision,
    seed) -> a watcher of the scoring pass for a paired metric (see preservation.py)."""

    name: str
    header: str
    unit: str
    higher_is_better: bool  # for the quality of an output (or its closeness to the original's)
    feature: str | None = None  # the backbone feature a feature metric reads
    compute: FeatureCompute | None = None
    watch: Callable[..., Any] | None = None
    table: bool = True  # a column of the paper's tables (both sets, every row)
    named: Callable[[set[str]], str] | None = None  # its header for the backbones that computed it

    def header_for(self, backbones: set[str]) -> str:
        """The column header for values computed by `backbones` (a metric may be named for its network)."""
        return self.named(backbones) if self.named is not None else self.header

    def arrow(self, subset: str | None = None) -> str:
        """The better direction: for an output's quality, or for unlearning on `subset` (on the forget set
        unlearning wants a quality metric to get worse)."""
        up = self.higher_is_better != (subset == "forget")
        return "↑" if up else "↓"


METRICS: Registry[Metric] = Registry("metric", "metric")


def register_metric(metric: Metric) -> Metric:
    return METRICS.register(metric.name, metric)


def feature_metrics() -> list[Metric]:
    return [m for m in METRICS.values() if m.feature is not None]


def paired_metrics() -> list[Metric]:
    return [m for m in METRICS.values() if m.watch is not None]


def table_metrics() -> list[Metric]:
    return [m for m in METRICS.values() if m.table]


def _fid(real: torch.Tensor, fake: torch.Tensor, settings: Settings) -> dict:
    from iguln.metrics.bootstrap import LEVEL, fid_interval
    from iguln.metrics.scores import fid

    if min(len(real), len(fake)) < 2:
        raise MetricMissing("FID needs at least 2 generated and 2 real images")
    entry: dict = {"value": fid(real, fake)}
    if settings.bootstrap and len(real) == len(fake):  # paired: each output with its own image
        entry["ci95"] = fid_interval(real, fake, settings.bootstrap, settings.seed)
        entry["bootstrap"] = {"draws": settings.bootstrap, "level": LEVEL, "paired": True, "seed": settings.seed}
    return entry


def _inception_score(real: torch.Tensor, fake: torch.Tensor, settings: Settings) -> dict:
    import math

    from iguln.metrics.scores import inception_score

    mean, std = inception_score(fake, settings.splits, settings.seed)
    return {"value": mean, "std": std if math.isfinite(std) else None, "splits": settings.splits}


def _similarity(real: torch.Tensor, fake: torch.Tensor, settings: Settings) -> float:
    from iguln.metrics.scores import mean_cosine

    return mean_cosine(fake, real)


def _similarity_name(backbones: set[str]) -> str:
    """The paper's "CLIP" column is CLIP only when a CLIP network computed it."""
    if backbones and all(b.startswith("clip:") for b in backbones):
        return "CLIP"
    if backbones == {"domain-judge"}:
        return "judge similarity"
    return "embedding similarity"


def _lpips_watcher(*args):
    from iguln.metrics.preservation import LpipsToOriginal

    return LpipsToOriginal(*args)


for _metric in (
    Metric(
        "fid",
        "FID",
        "Frechet distance between backbone 'pool' features of outputs and ground truth; lower is better",
        higher_is_better=False,
        feature="pool",
        compute=_fid,
    ),
    Metric(
        "is",
        "IS",
        "Inception Score of the outputs from backbone logits (mean over splits); higher is better",
        higher_is_better=True,
        feature="logits",
        compute=_inception_score,
    ),
    Metric(
        "clip",
        "CLIP",
        "mean cosine similarity of backbone embeddings, output vs its ground truth; higher is better",
        higher_is_better=True,
        feature="embed",
        compute=_similarity,
        named=_similarity_name,
    ),
    Metric(
        "lpips",
        "LPIPS to original",
        "mean LPIPS (AlexNet) between the original's and this model's outputs on the same inputs; lower keeps more",
        higher_is_better=False,
        watch=_lpips_watcher,
        table=False,
    ),
):
    register_metric(_metric)
