"""Pretraining a fresh generator in a job, stage by stage with the family's own losses, resumable from step
checkpoints: the original (iguln pretrain) and the Retrain reference."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from omegaconf import OmegaConf

from iguln.core.seeding import make_generator, model_seed, seed_everything, seed_modules
from iguln.data.batches import BatchStream
from iguln.data.split import pretrain_indices
from iguln.jobs.job import Job
from iguln.models.families import build_generator
from iguln.models.storage import save_generator
from iguln.store.partial import checkpoint_file, discard_checkpoint
from iguln.training.checkpoints import Checkpoints
from iguln.training.engine import fit
from iguln.training.recipe import read_recipe

log = logging.getLogger("iguln")


def held_out_images(job: Job, classes: list[int], count: int = 1000) -> torch.Tensor:
    """Up to `count` test images of the pretraining classes, evenly spread: [N, C, H, W] in [-1, 1]."""
    indices = pretrain_indices(job.source.targets("test"), classes)
    step = max(1, len(indices) // count)
    dataset = job.source.subset("test", indices[::step][:count])
    return torch.stack([dataset[i][0] for i in range(len(dataset))])


def pretrain_generator(job: Job, classes: list[int], path: Path, role: str, key: dict, logger=None) -> Path:
    """Train a fresh generator on the train images of `classes`, stage by stage, with its own losses, and save it
    to `path` (role "original" or "retrain") with its store key `key`."""
    cfg, device = job.cfg, job.device
    seed = model_seed(cfg)
    data = job.source.subset("train", pretrain_indices(job.source.targets("train"), classes))
    seed_everything(seed)  # the weights' initialisation: the original's seed, whatever the job's
    generator = build_generator(cfg.model).to(device)
    log.info(
        "pretraining %s %s (%s, %.2f M parameters) on %d images of %d classes",
        role,
        cfg.model.name,
        cfg.model.preset,
        sum(p.numel() for p in generator.parameters()) / 1e6,
        len(data),
        len(classes),
    )
    held_out = held_out_images(job, classes)
    store_key = key
    key = {**store_key, "role": role}
    checkpoint = checkpoint_file(cfg.paths.store, f"pretrain-{role}-{cfg.model.name}", key)
    if not cfg.resume:
        discard_checkpoint(checkpoint)
    stages: dict = {}
    resume_at = 0
    saved = Checkpoints(checkpoint, key, 0, {}).read()
    if saved is not None:  # the stages before the checkpoint's are done; their weights are in the checkpoint
        resume_at, stages = saved["extra"]["stage"], saved["extra"]["stages"]
    for i, stage in enumerate(generator.pretraining_stages()):
        if i < resume_at:
            continue
        recipe = read_recipe(OmegaConf.select(cfg, stage.recipe), stage.recipe)
        stage.begin()
        batches = BatchStream(data, recipe.batch_size, seed + 10 * i, cfg.trainer.num_workers, device.type == "cuda")
        masks = make_generator(seed + 5 + 10 * i)
        seed_modules(seed + 6 + 10 * i)

        def step(stage=stage, batches=batches, masks=masks):
            return stage.loss(next(batches).to(device, non_blocking=True), masks)

        def extra_state(i=i, stage=stage) -> dict:
            return {"stage": i, "stages": stages, "stage_state": stage.state()}

        def load_extra(saved: dict, stage=stage) -> None:
            stage.load_state(saved["stage_state"])

        checkpoints = Checkpoints(
            checkpoint,
            key,
            cfg.trainer.checkpoint_every,
            {"generator": generator},
            {"masks": masks},
            [batches],
            (extra_state, load_extra),
            tag=stage.name,
        )
        log_fn = (lambda s, v, name=stage.name: logger.log(s, v, f"pretrain/{name}")) if logger is not None else None
        history = fit(
            stage.params,
            step,
            recipe,
            device,
            job.precision,
            desc=f"pretrain {stage.name}",
            log=log_fn,
            log_every=cfg.trainer.log_every,
            checkpoints=checkpoints,
        )
        report = stage.end(held_out)
        stages[stage.name] = {**stage.info, **{k: v for k, v in history.items() if k != "history"}, "held_out": report}
        log.info("stage %s: %d steps in %.1f s; %s", stage.name, recipe.steps, history["wall_s"], report or "")
    wall = sum(s["wall_s"] for s in stages.values())
    try:
        save_generator(
            generator.cpu(),
            path,
            role=role,
            key=store_key,
            source="iguln pretrain",
            training=stages,
            images=len(data),
            config=OmegaConf.to_container(cfg, resolve=True),
        )
    except FileExistsError:  # another job of the sweep (same key, same seed) saved it meanwhile: keep that one
        log.info("%s generator %s was saved by another job meanwhile; using it", role, path)
    job.timings["pretrain" if role == "original" else role] = round(wall, 3)
    discard_checkpoint(checkpoint)
    log.info("%s generator saved to %s (%.1f s)", role, path, wall)
    return path
