"""iguln pretrain: make the original generator (trained on every class of the data set, or imported from
released weights) and put it in the store."""

from __future__ import annotations

import logging

from omegaconf import DictConfig, OmegaConf

from iguln.commands.app import hydra_app
from iguln.core.loggers import make_logger
from iguln.jobs.job import prepare, run_name
from iguln.jobs.originals import ensure_original, original_dir
from iguln.models.storage import load_generator
from iguln.store.records import new_record, write_record

log = logging.getLogger("iguln")


def run(cfg: DictConfig) -> None:
    job = prepare(cfg, "pretrain")
    record = new_record(
        "pretrain", OmegaConf.to_container(cfg, resolve=True), cfg.seed, job.split.record(job.source.classes)
    )
    existed = (original_dir(job) / "manifest.json").is_file()
    if existed:
        log.info("the store already holds this original generator: %s (delete it to make it again)", original_dir(job))
    name, group = run_name(f"pretrain-{cfg.model.name}")
    logger = make_logger(cfg.logger, job.run_dir, cfg, name=name, group=group)
    try:
        path = ensure_original(job, logger, pretrain_if_missing=True)
    finally:
        logger.finish()
    _, manifest = load_generator(path)
    record["models"]["original"] = {
        "path": str(path),
        "sha256": manifest["sha256"],
        "training": manifest.get("training"),
        "pretrained": manifest.get("pretrained"),
    }
    record.update(status="complete", reused=existed, timings_s=job.timings)
    log.info("record: %s", write_record(job.run_dir, record))


main = hydra_app("pretrain", run)
