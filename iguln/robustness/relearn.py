"""The relearning attack: fine-tune a generator with its own training loss on k forget images for s steps, and
score the forget set as it goes (FID, detector rates). Run on the unlearned model, the original and Retrain: the
number of steps until the forget class comes back says how deep the forgetting went."""

from __future__ import annotations

import copy
import logging

import torch
from torch.utils.data import DataLoader

from iguln.core.seeding import make_generator
from iguln.jobs.job import Job
from iguln.jobs.scoring import score_models
from iguln.training.engine import autocast

log = logging.getLogger("iguln")
SCORED = ("fid", "detect", "detect_hole")


def attack_images(job: Job, k: int) -> list[int]:
    """k forget-class train images (indices into the train part), drawn with the job's seed."""
    pool = list(job.split.unlearn["forget"])
    if k > len(pool):
        from iguln.core.errors import ConfigError

        raise ConfigError("robust.images", k, f"at most {len(pool)} (the forget train images unlearning had)")
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(job.cfg.seed + 11)).tolist()
    return [pool[i] for i in order[:k]]


def check_attack(job: Job) -> None:
    """ConfigError for a robust.* value of the attack that cannot run, before any work."""
    from iguln.core.errors import ConfigError

    cfg = job.cfg.robust
    for key in ("images", "steps", "every", "batch_size"):
        value = cfg[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"robust.{key}", value, "a positive integer")
    if not isinstance(cfg.lr, (int, float)) or not cfg.lr > 0:
        raise ConfigError("robust.lr", cfg.lr, "a positive number")
    if cfg.params not in ("all", "encoder"):
        raise ConfigError("robust.params", cfg.params, ("all", "encoder"))
    attack_images(job, cfg.images)


def checkpoints(steps: int, every: int) -> list[int]:
    return sorted({0, steps, *range(every, steps, every)})


def attack(job: Job, backbone, models: dict) -> dict[str, list[dict]]:
    """{model name: [{"step", "loss", "forget": {fid, detect, detect_hole entries}}]}, one curve per model; each
    model is attacked from its own weights (a copy), with the same images, batches and seed."""
    cfg = job.cfg.robust
    images = job.source.subset("train", attack_images(job, cfg.images))
    scored_at = checkpoints(cfg.steps, cfg.every)
    curves = {}
    for name, (model, _) in models.items():
        attacked = copy.deepcopy(model).to(job.device)
        params = attacked.encoder_parameters() if cfg.params == "encoder" else list(attacked.parameters())
        params = [p for p in params if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
        rng = make_generator(job.cfg.seed + 12, job.device)
        order = torch.Generator().manual_seed(job.cfg.seed + 13)
        loader = DataLoader(images, batch_size=min(cfg.batch_size, len(images)), shuffle=True, generator=order)
        batches, curve, loss = iter(loader), [], None
        for step in range(cfg.steps + 1):
            if step in scored_at:
                metrics, _ = score_models(job, backbone, {name: (attacked, None)}, subsets=("forget",))
                curve.append({"step": step, "loss": loss, "forget": {k: metrics[name]["forget"][k] for k in SCORED}})
                log.info("relearning %s: step %d, forget FID %s", name, step, metrics[name]["forget"]["fid"]["value"])
            if step == cfg.steps:
                break
            try:
                x, _ = next(batches)
            except StopIteration:
                batches = iter(loader)
                x, _ = next(batches)
            attacked.train()
            with autocast(job.device, job.precision):
                value = attacked.native_loss(x.to(job.device), job.mask.to(job.device), rng)
            optimizer.zero_grad(set_to_none=True)
            value.float().backward()
            optimizer.step()
            loss = round(value.item(), 6)
        curves[name] = curve
    return curves
