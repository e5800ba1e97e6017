"""iguln train: unlearn the forget classes from the original generator (or, with loss=retrain, train the Retrain
reference), then score original and result on the forget and retain test sets."""

from __future__ import annotations

import logging
import time

from omegaconf import DictConfig, OmegaConf

from iguln.commands.app import hydra_app, write_failure_record
from iguln.core import distributed
from iguln.core.io import atomic_torch_save
from iguln.core.loggers import make_logger
from iguln.jobs.job import load_backbone, prepare, run_name
from iguln.jobs.originals import ensure_original
from iguln.jobs.scoring import score_references, score_with_paired_metrics
from iguln.jobs.unlearning import (
    efficiency,
    method_record,
    retrained_reference,
    save_unlearned,
    throughput,
    unlearn_original,
)
from iguln.models.families import configure_generation
from iguln.models.storage import load_generator
from iguln.report.samples import save_samples
from iguln.report.table import markdown_table
from iguln.store.partial import discard_checkpoint
from iguln.store.records import failure_record, new_record, write_record
from iguln.unlearn.losses import RETRAIN

log = logging.getLogger("iguln")
EMBEDDINGS = "embeddings.pt"  # backbone embeddings of outputs, for the report's T-SNE


def run(cfg: DictConfig) -> None:
    started = time.perf_counter()
    job = prepare(cfg, "train")
    config = OmegaConf.to_container(cfg, resolve=True)
    record = new_record("train", config, cfg.seed, job.split.record(job.source.classes))
    record["method"] = method_record(job)
    record["distributed"] = distributed.describe()
    name, group = run_name(f"train-{cfg.model.name}-{cfg.loss.name}")
    logger = make_logger(cfg.logger, job.run_dir, cfg, name=name, group=group)
    main = distributed.is_main()  # under torchrun, process 0 alone writes
    try:
        with distributed.main_first():  # the others wait while it pretrains the original or trains the judge
            path = ensure_original(job, logger, pretrain_if_missing=cfg.pretrain_if_missing)
            backbone = load_backbone(job)
        original, manifest = load_generator(path, str(job.device))
        configure_generation(original, cfg.model)
        record["generation"] = original.generation_values
        record["models"]["original"] = {
            "path": str(path),
            "sha256": manifest["sha256"],
            "pixels": original.pixel_space(),
        }
        if manifest.get("pretrained"):  # imported, not trained: where its weights came from
            record["models"]["original"]["pretrained"] = manifest["pretrained"]
        stored, checkpoint = {"original": manifest["sha256"]}, None
        if cfg.loss.name == RETRAIN:
            result, stored["unlearned"] = retrained_reference(job, original, logger, record)
        else:
            result, record["unlearning"], checkpoint = unlearn_original(
                job, original, manifest["sha256"], logger, backbone
            )
            stored["unlearned"] = None
            if cfg.save_model and main:
                record["models"]["unlearned"] = save_unlearned(job, result, path, manifest["sha256"], config)
        models = {"original": original, "unlearned": result}
        embeddings: dict = {}
        record["metrics"], record["features_reused"], record["ratios"] = score_with_paired_metrics(
            job, backbone, {k: (m, stored[k]) for k, m in models.items()}, embeddings
        )
        if cfg.eval.references:
            record["references"], reused = score_references(job, backbone)
            record["features_reused"] = sorted({*record["features_reused"], *reused})
        if not main:
            return
        if embeddings:
            atomic_torch_save(job.run_dir / EMBEDDINGS, embeddings)
            record["embeddings"] = str(job.run_dir / EMBEDDINGS)
        samples = save_samples(job.run_dir / "samples.png", job.eval_sets(), job.mask, models, job.device)
        record["samples"] = str(samples)
        job.timings["total"] = round(time.perf_counter() - started, 3)
        record.update(status="complete", timings_s=job.timings, throughput=throughput(job, record))
        record["efficiency"] = efficiency(job, record, original, result)
        path = write_record(job.run_dir, record)
        if checkpoint is not None:
            discard_checkpoint(checkpoint)
        log.info("results:\n%s\nrecord: %s", markdown_table(record), path)
        logger.summary(
            {
                f"{m}/{s}/{k}": e["value"]
                for m, sets in record["metrics"].items()
                for s, entries in sets.items()
                for k, e in entries.items()
            }
        )
    except BaseException as err:
        job.timings["total"] = round(time.perf_counter() - started, 3)
        if main:
            write_failure_record(job.run_dir, failure_record(record, err, job.timings))
        raise
    finally:
        logger.finish()


main = hydra_app("train", run)
