"""iguln pretrain: train the original generator on the forget + retain classes and put it in the store."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from iguln.commands.app import hydra_app
from iguln.commands.common import Job, original_dir, original_key, prepare, run_name
from iguln.data.batches import endless_batches
from iguln.data.split import pretrain_indices
from iguln.loggers import make_logger
from iguln.models.checkpoint import load_generator
from iguln.models.registry import build_generator
from iguln.record import new_record, write_record
from iguln.seeding import make_generator
from iguln.unlearn.engine import fit
from iguln.unlearn.recipe import read_recipe

log = logging.getLogger("iguln")


def pretrain_original(job: Job, logger=None) -> Path:
    """Train the original generator with its native loss and save it to the store; returns its folder."""
    cfg, device = job.cfg, job.device
    recipe = read_recipe(cfg.model.pretrain, "model.pretrain")
    classes = job.split.classes["forget"] + job.split.classes["retain"]
    data = job.source.subset("train", pretrain_indices(job.source.targets("train"), classes))
    log.info(
        "pretraining %s (%s) on %d images of %d classes, %d steps",
        cfg.model.name,
        cfg.model.preset,
        len(data),
        len(classes),
        recipe.steps,
    )
    generator = build_generator(cfg.model).to(device)
    batches = endless_batches(data, recipe.batch_size, cfg.seed, cfg.trainer.num_workers, device.type == "cuda")
    masks = make_generator(cfg.seed + 5)

    def step():
        return generator.native_loss(next(batches).to(device, non_blocking=True), None, masks), {}

    log_fn = (lambda s, v: logger.log(s, v, "pretrain")) if logger is not None else None
    history = fit(
        [p for p in generator.parameters() if p.requires_grad],
        step,
        recipe,
        device,
        job.precision,
        desc="pretrain",
        log=log_fn,
        log_every=cfg.trainer.log_every,
    )
    path = original_dir(job)
    generator.cpu().save(
        path,
        role="original",
        key=original_key(job),
        source="iguln pretrain",
        training={k: v for k, v in history.items() if k != "history"},
        images=len(data),
        config=OmegaConf.to_container(cfg, resolve=True),
    )
    job.timings["pretrain"] = history["wall_s"]
    log.info("original generator saved to %s (%.1f s)", path, history["wall_s"])
    return path


def run(cfg: DictConfig) -> None:
    job = prepare(cfg, "pretrain")
    path = original_dir(job)
    record = new_record(
        "pretrain", OmegaConf.to_container(cfg, resolve=True), cfg.seed, job.split.record(job.source.classes)
    )
    if (path / "manifest.json").is_file():
        log.info("the store already holds this original generator: %s (delete it to train again)", path)
        record["reused"] = True
    else:
        name, group = run_name(f"pretrain-{cfg.model.name}")
        logger = make_logger(cfg.logger, job.run_dir, cfg, name=name, group=group)
        pretrain_original(job, logger)
        logger.finish()
    _, manifest = load_generator(path)
    record["models"]["original"] = {"path": str(path), "sha256": manifest["sha256"], "training": manifest["training"]}
    record.update(status="complete", timings_s=job.timings)
    log.info("record: %s", write_record(job.run_dir, record))


main = hydra_app("pretrain", run)
