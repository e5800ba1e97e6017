"""Score a generator on the forget and retain test sets: generate, extract features once, compute every metric."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from iguln.core import distributed
from iguln.core.seeding import make_generator
from iguln.metrics.backbones import Backbone
from iguln.metrics.catalogue import MetricMissing, Settings, feature_metrics
from iguln.metrics.detector import hole_only
from iguln.models.generator import Generator
from iguln.training.engine import autocast


@torch.no_grad()
def extract_features(
    backbone: Backbone,
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    precision: str,
    generator: Generator | None = None,
    mask: torch.Tensor | None = None,
    seed: int = 0,
    observe: Callable[[torch.Tensor, torch.Tensor], None] | None = None,
    hole: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Backbone features [N, D] of the images of `dataset`, or of `generator`'s outputs for them under `mask`.
    `observe(inputs, outputs)`, when given, sees each batch of generated outputs (e.g. to compare them with
    another model's), so they are not generated twice. `hole` (a mask [1, 1, H, W], 1 inside), when given and the
    backbone gives "logits", adds "logits_hole": the logits of the images with everything outside the hole
    blanked (detector.hole_only), for the detector rate of the filled region alone. Under torchrun each process
    takes its contiguous share of the images, samples with its own seed, and every process gets all N rows, in the
    data's order."""
    chunks: dict[str, list[torch.Tensor]] = {}
    rng = make_generator(distributed.rank_seed(seed), device) if generator is not None else None
    share = Subset(dataset, distributed.shard(len(dataset))) if distributed.active() else dataset
    for inputs, _labels in DataLoader(share, batch_size=batch_size, pin_memory=device.type == "cuda"):
        images = inputs = inputs.to(device, non_blocking=True)
        with autocast(device, precision):
            if generator is not None:
                images = generator.generate(inputs, mask.to(device), rng).float()
            features = backbone.extract(images)
            if hole is not None and "logits" in features:
                features["logits_hole"] = backbone.extract(hole_only(images, hole.to(device)))["logits"]
        if observe is not None:
            observe(inputs, images)
        for key, value in features.items():
            chunks.setdefault(key, []).append(value.float().cpu())
    return distributed.gather_rows({key: torch.cat(value) for key, value in chunks.items()})


def metric_entries(
    real: dict,
    fake: dict,
    backbone: Backbone,
    splits: int,
    seed: int,
    bootstrap: int = 0,
    labels: torch.Tensor | None = None,
    forget: tuple[int, ...] = (),
    subset: str | None = None,
) -> dict[str, dict]:
    """Every feature metric of the catalogue, each with its backbone and sample counts, or missing with a reason.
    labels [N]: the class of each scored image (for the detector rate); forget: the forget class indices; subset:
    "forget" or "retain"."""
    n_fake, n_real = len(next(iter(fake.values()))), len(next(iter(real.values())))
    counts = {"n_generated": n_fake, "n_real": n_real}
    settings = Settings(splits, seed, bootstrap, labels, tuple(forget), subset)
    entries = {}
    for metric in feature_metrics():
        base = metric.reads
        entry = {"value": None, **backbone.describe(base), **counts, "unit": metric.unit}
        if base not in backbone.provides:
            entry["missing"] = f"backbone {entry['backbone']} has no '{base}' features"
        elif metric.labelled and not backbone.classifies_data:
            entry["missing"] = (f"backbone {entry['backbone']} does not classify this data set's classes; the "
                                "detector rate needs a classifier of them (eval.backbone=judge)")  # fmt: skip
        elif metric.labelled and labels is None:
            entry["missing"] = "the images' classes were not given"
        elif metric.feature not in fake or metric.feature not in real:
            entry["missing"] = f"no '{metric.feature}' features were extracted"
        else:
            try:
                value = metric.compute(real[metric.feature], fake[metric.feature], settings)
                entry.update(value if isinstance(value, dict) else {"value": value})
            except MetricMissing as missing:
                entry["missing"] = str(missing)
        if entry["value"] is not None and not math.isfinite(entry["value"]):
            entry.update(value=None, missing=f"the computed value was {entry['value']} (not finite)")
        entries[metric.name] = entry
    return entries
