"""iguln robust: how an unlearned generator holds up, beside the store's original and Retrain: every metric over
a sweep of masks (robust=masks), or a relearning attack on the forget class (robust=relearn)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from iguln.commands.app import hydra_app
from iguln.jobs.job import checkpoint_image_size, load_backbone, prepare
from iguln.jobs.originals import ensure_original, ensure_retrained, retrain_dir
from iguln.models.families import configure_generation
from iguln.models.storage import load_generator
from iguln.report.robustness import robustness_outputs
from iguln.robustness.masks import check_masks, sweep
from iguln.robustness.relearn import attack, check_attack
from iguln.store.records import new_record, write_record

log = logging.getLogger("iguln")
RETRAIN_CHOICES = ("auto", True, False)


def models_to_test(job, cfg: DictConfig) -> tuple[dict, dict]:
    """({name: (generator, sha256)}, record entries) for original, unlearned and (per `retrain`) Retrain."""
    found, entries = {}, {}
    paths = {"original": ensure_original(job, pretrain_if_missing=cfg.pretrain_if_missing),
             "unlearned": Path(cfg.checkpoint)}  # fmt: skip
    if cfg.retrain is True or (cfg.retrain == "auto" and (retrain_dir(job) / "manifest.json").is_file()):
        paths["retrain"] = ensure_retrained(job)
    for name, path in paths.items():
        generator, manifest = load_generator(path, str(job.device))
        configure_generation(generator, cfg.model)
        found[name] = (generator, manifest["sha256"])
        entries[name] = {"path": str(path), "sha256": manifest["sha256"]}
    return found, entries


def run(cfg: DictConfig) -> None:
    from iguln.core.errors import ConfigError

    started = time.perf_counter()
    if cfg.retrain not in RETRAIN_CHOICES:
        raise ConfigError("retrain", cfg.retrain, ("auto", "true", "false"))
    size = checkpoint_image_size(cfg, required=True)
    job = prepare(cfg, "robust", size)
    if cfg.robust.name == "masks":
        check_masks(cfg.robust, size)
    else:
        check_attack(job)
    record = new_record("robust", OmegaConf.to_container(cfg, resolve=True), cfg.seed,
                        job.split.record(job.source.classes))  # fmt: skip
    backbone = load_backbone(job)
    models, record["models"] = models_to_test(job, cfg)
    if cfg.robust.name == "masks":
        record["robustness"] = {"kind": "masks", "points": sweep(job, backbone, models, size)}
    else:
        record["robustness"] = {"kind": "relearn", "curves": attack(job, backbone, models)}
    text, figure = robustness_outputs(record, job.run_dir, f"robust_{cfg.robust.name}")
    record["figure"] = str(figure) if figure else None
    job.timings["total"] = round(time.perf_counter() - started, 3)
    record.update(status="complete", timings_s=job.timings)
    path = write_record(job.run_dir, record)
    log.info("robustness (%s):\n%s\nfigure: %s\nrecord: %s", cfg.robust.name, text, figure, path)


main = hydra_app("robust", run)
