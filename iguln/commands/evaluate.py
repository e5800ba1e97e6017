"""iguln eval: score one generator (a model folder, or the store's original) on the forget and retain sets."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from iguln.commands.app import hydra_app
from iguln.core import distributed
from iguln.jobs.job import checkpoint_image_size, load_backbone, prepare
from iguln.jobs.originals import ensure_original
from iguln.jobs.scoring import score_models, score_references
from iguln.models.families import configure_generation
from iguln.models.storage import load_generator
from iguln.report.table import markdown_table
from iguln.store.records import new_record, write_record

log = logging.getLogger("iguln")


def run(cfg: DictConfig) -> None:
    started = time.perf_counter()
    image_size = checkpoint_image_size(cfg)
    job = prepare(cfg, "eval", image_size)
    with distributed.main_first():  # under torchrun the others wait while process 0 trains the judge
        path = Path(cfg.checkpoint) if cfg.checkpoint is not None else ensure_original(job)
        backbone = load_backbone(job)
    generator, manifest = load_generator(path, str(job.device))
    configure_generation(generator, cfg.model)
    role = manifest.get("role", "model")
    record = new_record(
        "eval", OmegaConf.to_container(cfg, resolve=True), cfg.seed, job.split.record(job.source.classes)
    )
    record["models"][role] = {"path": str(path), "sha256": manifest["sha256"], "pixels": generator.pixel_space()}
    record["generation"] = generator.generation_values
    record["distributed"] = distributed.describe()
    stored = manifest["sha256"] if role in ("original", "retrain") else None
    record["metrics"], record["features_reused"] = score_models(job, backbone, {role: (generator, stored)})
    if cfg.eval.references:
        record["references"], reused = score_references(job, backbone)
        record["features_reused"] = sorted({*record["features_reused"], *reused})
    if not distributed.is_main():  # process 0 writes the record
        return
    job.timings["total"] = round(time.perf_counter() - started, 3)
    record.update(status="complete", timings_s=job.timings)
    out = write_record(job.run_dir, record)
    log.info("results:\n%s\nrecord: %s", markdown_table(record), out)


main = hydra_app("eval", run)
