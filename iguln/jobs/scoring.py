"""Scoring generators on the forget and retain test sets, with the ground truth's features (and those of stored
generators, such as the original) kept in the store and reused by later jobs."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from omegaconf import OmegaConf

from iguln.core import distributed
from iguln.core.io import config_hash
from iguln.data.sources import data_identity
from iguln.data.split import SETS
from iguln.jobs.job import Job
from iguln.metrics.backbones import Backbone
from iguln.metrics.bootstrap import LEVEL, ratio_interval
from iguln.metrics.catalogue import MetricMissing, Settings, between_metrics, paired_metrics
from iguln.metrics.detector import OUTSIDE
from iguln.metrics.evaluate import extract_features, metric_entries
from iguln.metrics.preservation import OriginalPass
from iguln.metrics.reference_fills import fills, ground_truth_entries
from iguln.models.generator import Generator
from iguln.store.features import cached_features

EMBEDDINGS_KEPT = 500


def scoring_seed(cfg) -> int:
    """The seed of the generators' sampling when they are scored."""
    return cfg.seed + 4


def features_key(job: Job, backbone: Backbone, indices: list[int]) -> dict:
    """What the features of the images `indices` (of the data set's split they come from) depend on."""
    return {
        "data": data_identity(job.cfg.data, job.source),
        "images": config_hash(indices, 16),
        "backbone": backbone.describe(),
        "device": job.device.type,
        "precision": job.precision,
        "batch_size": job.cfg.eval.batch_size,
        "hole_view": {"task": OmegaConf.to_container(job.cfg.task, resolve=True), "outside": OUTSIDE},
    }


def generated_key(job: Job, backbone: Backbone, indices: list[int], generator: Generator, sha256: str) -> dict:
    """What the features of a stored generator's fills of the images `indices` depend on: features_key, the
    weights, the generation settings, the task and the scoring seed."""
    key = {
        **features_key(job, backbone, indices),
        "generator": sha256,
        "generation": generator.generation_values,
        "task": OmegaConf.to_container(job.cfg.task, resolve=True),
        "seed": scoring_seed(job.cfg),
    }
    if distributed.active():  # each process samples its share with its own seed
        key["processes"] = distributed.world_size()
    return key


def labelled(job: Job) -> dict:
    """What a labelled metric reads per set: {"forget": {"labels": [N], "forget": (...), "subset": "forget"}, ...}."""
    targets = job.source.targets("test")
    forget = tuple(job.split.classes["forget"])
    return {s: {"labels": targets[job.split.evaluate[s]], "forget": forget, "subset": s} for s in SETS}


def score_models(
    job: Job,
    backbone: Backbone,
    models: dict[str, tuple[Generator, str | None]],
    embeddings: dict | None = None,
    watchers: dict[str, Callable[[torch.Tensor, torch.Tensor], None]] | None = None,
    features: dict | None = None,
    subsets: tuple[str, ...] = SETS,
) -> tuple[dict, list[str]]:
    """Metrics of each named generator on the forget and retain test sets (or `subsets` of them). models:
    name -> (generator, the sha256 of its stored weights, or None); features of the ground truth and of stored
    generators come from the store when an earlier job made them with the same data, images, backbone, generation
    settings and seed. Returns (metrics, which feature sets were reused). `embeddings`, when given, receives the
    backbone embeddings ("<model>/<set>": [N, D], the first EMBEDDINGS_KEPT of each) for the report's T-SNE.
    `watchers` ("<model>/<set>" -> observe(inputs, outputs)) see that model's generated outputs batch by batch;
    such a set is always generated, not taken from the store. `features`, when given, receives every feature set
    ("real/<set>", "<model>/<set>": {feature: [N, D]})."""
    cfg, sets, store = job.cfg, job.eval_sets(), job.cfg.paths.store
    seed = scoring_seed(cfg)
    start, reused = time.perf_counter(), {}
    real = {}
    for s in subsets:
        key = features_key(job, backbone, job.split.evaluate[s])
        real[s], reused[f"real/{s}"] = cached_features(
            store,
            f"real-{s}",
            key,
            lambda s=s: extract_features(
                backbone, sets[s], cfg.eval.batch_size, job.device, job.precision, hole=job.mask
            ),
        )
    job.timings["eval_real"] = round(time.perf_counter() - start, 3)
    if features is not None:
        features.update({f"real/{s}": real[s] for s in subsets})
    metrics, labels = {}, labelled(job)
    for name, (generator, sha256) in models.items():
        start = time.perf_counter()
        generator.eval()
        metrics[name] = {}
        for s in subsets:
            watch = (watchers or {}).get(f"{name}/{s}")

            def generate(s=s, generator=generator, watch=watch):
                return extract_features(
                    backbone, sets[s], cfg.eval.batch_size, job.device, job.precision, generator, job.mask, seed, watch,
                    hole=job.mask,
                )  # fmt: skip

            if sha256 is None or watch is not None:
                fake = generate()
            else:
                key = generated_key(job, backbone, job.split.evaluate[s], generator, sha256)
                fake, reused[f"{name}/{s}"] = cached_features(store, f"{name}-{s}", key, generate)
            bootstrap = cfg.eval.get("bootstrap", 0)
            metrics[name][s] = metric_entries(real[s], fake, backbone, cfg.eval.is_splits, seed, bootstrap, **labels[s])
            if features is not None:
                features[f"{name}/{s}"] = fake
            if embeddings is not None and "embed" in fake:
                embeddings[f"{name}/{s}"] = fake["embed"][:EMBEDDINGS_KEPT].clone()
        job.timings[f"eval_{name}"] = round(time.perf_counter() - start, 3)
    return metrics, sorted(k for k, v in reused.items() if v)


def score_with_paired_metrics(
    job: Job, backbone: Backbone, models: dict[str, tuple[Generator, str | None]], embeddings: dict | None = None
) -> tuple[dict, list[str], dict]:
    """score_models for {"original": ..., "unlearned": ...}; every paired metric of the catalogue of the unlearned
    model's retain outputs against the original's: from the pixels, in the same scoring pass (LPIPS, PSNR, SSIM),
    and from both models' features (feature distance); and the FID ratios."""
    accumulators = {m.name: m.watch(job.cfg.eval, job.mask, job.device) for m in paired_metrics()}
    watch = None
    if any(a.available for a in accumulators.values()):
        original = models["original"][0]
        watch = {"unlearned/retain": OriginalPass(original, job.mask, job.device, job.precision,
                                                  scoring_seed(job.cfg), accumulators.values())}  # fmt: skip
    features: dict = {}
    metrics, reused = score_models(job, backbone, models, embeddings, watch, features)
    for name, accumulator in accumulators.items():
        metrics["unlearned"]["retain"][name] = accumulator.entry()
    settings = Settings(job.cfg.eval.is_splits, scoring_seed(job.cfg))
    for metric in between_metrics():
        for s in metric.sets:
            a, b = features[f"original/{s}"].get(metric.between), features[f"unlearned/{s}"].get(metric.between)
            entry = {"value": None, **backbone.describe(metric.between), "unit": metric.unit}
            if a is None or b is None:
                entry["missing"] = f"backbone {entry['backbone']} has no '{metric.between}' features"
            else:
                try:
                    entry.update(metric.compute(a, b, settings), n_generated=len(b))
                except MetricMissing as missing:
                    entry["missing"] = str(missing)
            metrics["unlearned"][s][metric.name] = entry
    return metrics, reused, fid_ratios(metrics, features, job.cfg.eval.get("bootstrap", 0), scoring_seed(job.cfg))


def fid_ratios(metrics: dict, features: dict, bootstrap: int, seed: int) -> dict:
    """Per set, unlearned FID / original FID, with its paired bootstrap interval (one resample of the images for
    both models): {"forget": {"value", "ci95", "bootstrap"}, "retain": ...}; missing with the reason when either
    FID is."""
    ratios = {}
    for s in SETS:
        original, unlearned = metrics["original"][s]["fid"], metrics["unlearned"][s]["fid"]
        if original["value"] is None or unlearned["value"] is None or original["value"] <= 0:
            ratios[s] = {"value": None, "missing": "an FID of the two models is missing or 0"}
            continue
        entry = {"value": unlearned["value"] / original["value"], "unit": "unlearned FID / original FID"}
        real, a, b = (features[f"{m}/{s}"].get("pool") for m in ("real", "original", "unlearned"))
        if bootstrap and a is not None and len(real) == len(a) == len(b):
            entry["ci95"] = ratio_interval(real, a, b, bootstrap, seed)
            entry["bootstrap"] = {"draws": bootstrap, "level": LEVEL, "paired": True, "seed": seed}
        ratios[s] = entry
    return ratios


def score_references(job: Job, backbone: Backbone) -> tuple[dict, list[str]]:
    """The record's reference points (metrics/reference_fills.py): {"ground_truth": {set: the detector's rates on
    the real images}, "zero_fill": {set: every metric}, "noise_fill": ...}, and which fill feature sets were reused
    (the real images' features were extracted or reused by the job's own scoring, which already said which)."""
    features: dict = {}
    metrics, reused = score_models(job, backbone, fills(), features=features)
    cfg, labels = job.cfg.eval, labelled(job)
    truth = {}
    for s in SETS:
        real = features[f"real/{s}"]
        entries = metric_entries(real, real, backbone, cfg.is_splits, scoring_seed(job.cfg), 0, **labels[s])
        truth[s] = ground_truth_entries(entries)
    return {"ground_truth": truth, **metrics}, [key for key in reused if not key.startswith("real/")]
