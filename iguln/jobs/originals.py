"""The original generator: where the store keeps it, and how it gets there (pretraining, or released weights)."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from iguln.core.errors import MissingArtefactError
from iguln.core.io import sha256_file
from iguln.core.seeding import make_generator, seed_modules
from iguln.data.batches import BatchStream
from iguln.data.split import pretrain_indices
from iguln.jobs.job import Job
from iguln.models.families import build_generator, family_of, weights_key
from iguln.store.layout import entry_dir
from iguln.training.checkpoints import Checkpoints, checkpoint_file, discard_checkpoint
from iguln.training.engine import fit
from iguln.training.recipe import read_recipe

log = logging.getLogger("iguln")


def released_identity(job: Job) -> dict | None:
    """What identifies the released weights the model config names (None when the original is trained here)."""
    return family_of(job.cfg.model.name).released_identity(job.cfg.model)


def data_identity(job: Job) -> dict:
    cfg = job.cfg.data
    identity = {"name": cfg.name, "classes": job.source.classes, "channels": job.source.channels}
    if cfg.name == "imagefolder":
        identity["root"] = str(cfg.root)
    return {**identity, "image_size": job.source.image_size}


def original_classes(job: Job) -> list[int]:
    """What an original generator trained here learns from: every class of the data set, as a released model would."""
    return list(range(len(job.source.classes)))


def retrain_classes(job: Job) -> list[int]:
    """What the Retrain reference learns from: the original's classes except the forget classes."""
    return [c for c in original_classes(job) if c not in job.split.classes["forget"]]


def trained_key(job: Job, classes: list[int]) -> dict:
    """What a generator trained here depends on: the model config (architecture, training options, recipes; not
    generation settings), the data, the classes and the seed."""
    return {
        "model": weights_key(job.cfg.model),
        "data": data_identity(job),
        "classes": sorted(classes),
        "seed": job.cfg.seed,
    }


def original_key(job: Job) -> dict:
    """What the original generator depends on: the released weights it is imported from (files: path, size,
    modification time; a hub checkpoint: id and commit) and the model config, or what it is trained with here
    (trained_key)."""
    identity = released_identity(job)
    if identity is not None:
        return {"model": weights_key(job.cfg.model), **identity}
    return trained_key(job, original_classes(job))


def original_dir(job: Job) -> Path:
    return entry_dir(job.cfg.paths.store, "original", job.cfg.model.name, original_key(job))


def retrain_dir(job: Job) -> Path:
    return entry_dir(job.cfg.paths.store, "retrain", job.cfg.model.name, trained_key(job, retrain_classes(job)))


def pretrain_command() -> str:
    """The `iguln pretrain ...` command that makes the original generator for this job's overrides."""
    overrides = HydraConfig.get().overrides.task
    return " ".join(["iguln pretrain", *(shlex.quote(o) for o in overrides)])


def ensure_original(job: Job, logger=None, pretrain_if_missing: bool = False) -> Path:
    """The store's original generator for this job: found, imported from released weights, or (if asked)
    trained now. Otherwise a MissingArtefactError with the exact `iguln pretrain ...` command."""
    path = original_dir(job)
    if (path / "manifest.json").is_file():
        return path
    if released_identity(job) is not None:
        return import_original(job)
    if pretrain_if_missing:
        return pretrain_generator(job, original_classes(job), path, "original", logger)
    raise MissingArtefactError(
        f"the store has no original generator for this config (looked in {path}). Make it first with:\n"
        f"    {pretrain_command()}\n"
        "or add pretrain_if_missing=true to train it now."
    )


def import_original(job: Job) -> Path:
    """Convert released weights (model.pretrained ...) into a generator folder in the store."""
    generator = build_generator(job.cfg.model)
    pretrained = {part: provenance(value) for part, value in generator.load_pretrained(job.cfg.model).items()}
    path = original_dir(job)
    try:
        generator.save(
            path,
            role="original",
            key=original_key(job),
            source="released weights",
            pretrained=pretrained,
            config=OmegaConf.to_container(job.cfg, resolve=True),
        )
    except FileExistsError:  # another job of the sweep imported the same weights meanwhile
        log.info("%s was imported by another job meanwhile; using it", path)
        return path
    log.info("imported %s into %s", ", ".join(sorted({p["path"] for p in pretrained.values()})), path)
    return path


def provenance(loaded: str | dict) -> dict:
    """What the record keeps of one loaded weights file: its path, sha256 and any provenance the family gave."""
    info = dict(loaded) if isinstance(loaded, dict) else {"path": loaded}
    return {**info, "sha256": sha256_file(info["path"])}


def held_out_images(job: Job, classes: list[int], count: int = 1000) -> torch.Tensor:
    """Up to `count` test images of the pretraining classes, evenly spread: [N, C, H, W] in [-1, 1]."""
    indices = pretrain_indices(job.source.targets("test"), classes)
    step = max(1, len(indices) // count)
    dataset = job.source.subset("test", indices[::step][:count])
    return torch.stack([dataset[i][0] for i in range(len(dataset))])


def ensure_retrained(job: Job, logger=None) -> Path:
    """The store's Retrain reference for this job (a fresh generator trained on retrain_classes with the original's
    recipes and seed), trained now when missing."""
    path = retrain_dir(job)
    if (path / "manifest.json").is_file():
        return path
    return pretrain_generator(job, retrain_classes(job), path, "retrain", logger)


def pretrain_generator(job: Job, classes: list[int], path: Path, role: str, logger=None) -> Path:
    """Train a fresh generator on the train images of `classes`, stage by stage, with its own losses, and save it
    to `path` (role "original" or "retrain")."""
    cfg, device = job.cfg, job.device
    data = job.source.subset("train", pretrain_indices(job.source.targets("train"), classes))
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
    key = {**trained_key(job, classes), "role": role}
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
        batches = BatchStream(
            data, recipe.batch_size, cfg.seed + 10 * i, cfg.trainer.num_workers, device.type == "cuda"
        )
        masks = make_generator(cfg.seed + 5 + 10 * i)
        seed_modules(cfg.seed + 6 + 10 * i)

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
        generator.cpu().save(
            path,
            role=role,
            key=trained_key(job, classes),
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
