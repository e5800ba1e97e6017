"""The registry of metrics: what every result record scores, and how tables show it.

Each entry owns its metadata: its key in the record (metrics[model][set][name]), its column header and unit, which
direction is better, and what it reads. A *feature* metric reads one backbone feature ("pool", "logits", "embed",
or "logits_hole": the logits of the filled region alone) of the outputs and of their ground truth, and computes
from those; a *labelled* one also reads the class of each image (the detector rate). Either is missing, with the
reason, when the backbone has no such feature. A *paired* metric compares a model's outputs with the original's
on the same inputs: from the pixels, watching the scoring pass (LPIPS, PSNR and SSIM in the hole; `watch`), or from
the backbone features of both (`between`). A metric from elsewhere registers with `register_metric`
(iguln/extend.py).
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
    how many bootstrap draws an interval takes (0: none), and for a labelled metric the class of each scored image
    (labels [N]), the forget class indices and which set is scored ("forget" or "retain")."""

    splits: int
    seed: int
    bootstrap: int = 0
    labels: torch.Tensor | None = None
    forget: tuple[int, ...] = ()
    subset: str | None = None


FeatureCompute = Callable[[torch.Tensor, torch.Tensor, Settings], "float | dict[str, Any]"]


@dataclass(frozen=True)
class Metric:
    """A metric. compute(real [N, D], fake [M, D], settings) -> value or {"value": ..., more fields} for a feature
    metric (raise MetricMissing when it cannot be computed); watch(eval cfg, mask, device) -> an accumulator of
    (original's, model's) output pixels for a paired metric (see preservation.py); for a `between` metric
    compute(original's features [N, D], model's features [N, D], settings) on the same inputs."""

    name: str
    header: str
    unit: str
    higher_is_better: bool  # for the quality of an output (or its closeness to the original's)
    feature: str | None = None  # the backbone feature a feature metric reads
    compute: FeatureCompute | None = None
    watch: Callable[..., Any] | None = None
    table: bool = True  # a column of the paper's tables (both sets, every row)
    named: Callable[[set[str]], str] | None = None  # its header for the backbones that computed it
    labelled: bool = False  # reads the images' classes (settings.labels): needs a backbone that classifies them
    extended: bool = False  # a column of the extended table (report's tables_extended.*)
    sets: tuple[str, ...] = ("forget", "retain")  # the sets it is recorded for
    between: str | None = None  # the backbone feature a paired feature metric compares (model's vs original's)

    @property
    def reads(self) -> str | None:
        """The backbone feature it needs ("logits_hole" is made from "logits")."""
        return self.feature.removesuffix("_hole") if self.feature else None

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


def between_metrics() -> list[Metric]:
    return [m for m in METRICS.values() if m.between is not None]


def table_metrics() -> list[Metric]:
    return [m for m in METRICS.values() if m.table]


def extended_metrics() -> list[Metric]:
    """The columns of the extended table: the paper's, then every metric marked `extended`."""
    return [m for m in METRICS.values() if m.table or m.extended]


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


def _detector_rate(real: torch.Tensor, fake: torch.Tensor, settings: Settings) -> dict:
    from iguln.metrics.detector import detector_rate

    return detector_rate(fake, settings.labels, settings.forget, settings.subset)


def _lpips(*args):
    from iguln.metrics.preservation import Lpips

    return Lpips(*args)


def _psnr(*args):
    from iguln.metrics.pixels import PsnrInHole

    return PsnrInHole(*args)


def _ssim(*args):
    from iguln.metrics.pixels import SsimInHole

    return SsimInHole(*args)


def _feature_distance(original: torch.Tensor, model: torch.Tensor, settings: Settings) -> dict:
    """Mean cosine distance (1 - cosine) between the model's and the original's embeddings of the same inputs."""
    from iguln.metrics.scores import mean_cosine

    if len(original) != len(model) or not len(model):
        raise MetricMissing("the two models' features are not of the same inputs")
    return {"value": 1 - mean_cosine(model, original), "reference": "original"}


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
        "detect",
        "detector rate",
        "share of outputs the detector assigns to a forget class (forget set: lower forgets more) or to their own "
        "class (retain set: higher keeps more), whole image",
        higher_is_better=True,
        feature="logits",
        compute=_detector_rate,
        table=False,
        labelled=True,
        extended=True,
    ),
    Metric(
        "detect_hole",
        "detector rate (hole)",
        "the detector rate of the filled region alone (everything outside the hole blanked)",
        higher_is_better=True,
        feature="logits_hole",
        compute=_detector_rate,
        table=False,
        labelled=True,
        extended=True,
    ),
    Metric(
        "lpips",
        "LPIPS to original",
        "mean LPIPS (AlexNet) between the original's and this model's outputs on the same inputs; lower keeps more",
        higher_is_better=False,
        watch=_lpips,
        table=False,
        extended=True,
        sets=("retain",),
    ),
    Metric(
        "psnr",
        "PSNR to original",
        "PSNR (dB) of this model's fills against the original's on the same inputs, pooled over the hole's pixels; "
        "higher keeps more",
        higher_is_better=True,
        watch=_psnr,
        table=False,
        extended=True,
        sets=("retain",),
    ),
    Metric(
        "ssim",
        "SSIM to original",
        "mean SSIM (torchmetrics, Gaussian window 11) of this model's fills against the original's, over the hole; "
        "higher keeps more",
        higher_is_better=True,
        watch=_ssim,
        table=False,
        extended=True,
        sets=("retain",),
    ),
    Metric(
        "feature_distance",
        "feature distance to original",
        "mean cosine distance (1 - cosine) between the backbone embeddings of this model's and the original's "
        "outputs on the same inputs; lower keeps more",
        higher_is_better=False,
        between="embed",
        compute=_feature_distance,
        table=False,
        extended=True,
        sets=("retain",),
    ),
):
    register_metric(_metric)
