"""The validation score that trainer.select chooses the unlearned weights by (unlearn/selection.py): the student's
forget and retain FID on train images held out of unlearning, as ratios of the original's on the same images."""

from __future__ import annotations

import time

from iguln.data.split import SETS
from iguln.jobs.job import Job
from iguln.jobs.scoring import features_key, generated_key, scoring_seed
from iguln.metrics.backbones import Backbone
from iguln.metrics.evaluate import extract_features
from iguln.metrics.scores import fid
from iguln.models.generator import Generator
from iguln.store.features import cached_features
from iguln.unlearn.selection import Score

FEATURE = "pool"  # the features the FID reads
TRAIN = {"images_of": "train"}  # in the store keys: these indices are of the train split, the test sets' of test


def validation_score(
    job: Job, backbone: Backbone, original: Generator, original_sha256: str, student: Generator
) -> Score:
    """score() -> {"forget": r_f, "retain": r_r, "forget_fid": ..., "retain_fid": ...}: the student's validation
    FIDs now, each ratio over the original's. The fills are sampled with the scoring seed. The real images' and
    the original's features come from the store when a job with the same validation images made them (the seeds
    of a sweep over `seed` alone share them only where split.seed is fixed), else are computed here, once."""
    cfg, store = job.cfg, job.cfg.paths.store
    sets = {s: job.source.subset("train", job.split.validate[s]) for s in SETS}
    seed, batch = scoring_seed(cfg), cfg.eval.batch_size

    def features(generator: Generator | None, s: str):
        mask = None if generator is None else job.mask
        return extract_features(backbone, sets[s], batch, job.device, job.precision, generator, mask, seed)

    def key(s: str) -> dict:
        return {**features_key(job, backbone, job.split.validate[s]), **TRAIN}

    start = time.perf_counter()
    original.eval()
    real, base = {}, {}
    for s in SETS:
        real[s] = cached_features(store, f"val-real-{s}", key(s), lambda s=s: features(None, s))[0][FEATURE]
        fills_key = {**generated_key(job, backbone, job.split.validate[s], original, original_sha256), **TRAIN}
        fake = cached_features(store, f"val-original-{s}", fills_key, lambda s=s: features(original, s))[0]
        base[s] = fid(real[s], fake[FEATURE])
    job.timings["validation_original"] = round(time.perf_counter() - start, 3)

    def score() -> dict[str, float]:
        fids = {s: fid(real[s], features(student, s)[FEATURE]) for s in SETS}
        out = {s: fids[s] / base[s] if base[s] > 0 else float("nan") for s in SETS}
        return {**out, **{f"{s}_fid": fids[s] for s in SETS}, **{f"{s}_fid_original": base[s] for s in SETS}}

    return score
