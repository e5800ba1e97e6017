"""iguln train: unlearn the forget classes from the original generator (or, with loss=retrain, train the Retrain
reference), then score original and result on the forget and retain test sets."""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from iguln.commands.app import hydra_app
from iguln.core import distributed
from iguln.core.accel import accelerate, peak_memory
from iguln.core.io import atomic_torch_save, config_hash
from iguln.core.loggers import make_logger
from iguln.jobs.job import Job, load_backbone, prepare, run_name
from iguln.jobs.originals import ensure_original, ensure_retrained
from iguln.jobs.scoring import score_models, scoring_seed
from iguln.metrics.preservation import LpipsToOriginal
from iguln.models.families import configure_generation
from iguln.models.storage import load_generator
from iguln.report.samples import save_samples
from iguln.report.table import markdown_table
from iguln.store.records import failure_record, new_record, write_record
from iguln.training.checkpoints import checkpoint_file, discard_checkpoint
from iguln.training.recipe import read_recipe
from iguln.unlearn.losses import RETRAIN, build_loss
from iguln.unlearn.unlearning import unlearn

log = logging.getLogger("iguln")
EMBEDDINGS = "embeddings.pt"  # backbone embeddings of outputs, for the report's T-SNE


def method_record(job: Job) -> dict:
    """Which row of the paper's tables this run is: the loss, its weight, what it trains, the retain source."""
    cfg = job.cfg.loss
    scope = "all (from scratch)" if cfg.name == RETRAIN else build_loss(cfg).scope
    return {"loss": cfg.name, "alpha": cfg.get("alpha"), "scope": scope, "retain_source": job.split.retain_source}


def throughput(job: Job, record: dict) -> dict:
    """Unlearning steps and images per second, evaluation images per second of each model (generation and
    features; with LPIPS, the unlearned model's includes generating the original's retain outputs again), and
    peak memory."""
    images = sum(len(d) for d in job.eval_sets().values())
    out = {k: record["unlearning"][k] for k in ("steps_per_s", "images_per_s") if k in record.get("unlearning", {})}
    for name in record["metrics"]:
        seconds = job.timings.get(f"eval_{name}")
        if seconds and f"{name}/retain" not in record["features_reused"]:
            out[f"eval_{name}_images_per_s"] = round(images / seconds, 2)
    return {**out, **peak_memory(job.device)}


def unlearning_checkpoint(job: Job, original_sha256: str, recipe) -> tuple[Path, dict, int]:
    """(file, key, every) of this job's unlearning checkpoint: the key is everything the unlearned weights depend on."""
    cfg = job.cfg
    key = {
        "original": original_sha256,
        "loss": OmegaConf.to_container(cfg.loss, resolve=True),
        "recipe": recipe.record(),
        "split": config_hash(job.split.record(job.source.classes), 16),
        "task": OmegaConf.to_container(cfg.task, resolve=True),
        "precision": job.precision,
        "seed": cfg.seed,
    }
    if distributed.active():  # each process's random state is in it
        key["processes"] = distributed.world_size()
    return checkpoint_file(cfg.paths.store, f"unlearn-{cfg.model.name}", key), key, cfg.trainer.checkpoint_every


def unlearn_original(job: Job, original, original_sha256: str, logger) -> tuple[object, dict, Path]:
    """A copy of the original, unlearned with the job's loss: (student, history without the per-step lists, the
    checkpoint file to discard once the result is safe)."""
    cfg = job.cfg
    recipe = read_recipe(cfg.trainer, "trainer")
    checkpoint = unlearning_checkpoint(job, original_sha256, recipe)
    if not cfg.resume and distributed.is_main():
        discard_checkpoint(checkpoint[0])
    distributed.barrier()  # no process reads a checkpoint that is being discarded
    student = copy.deepcopy(original)  # the original itself is the frozen teacher E0
    accelerate(student, job.device, cfg.trainer)
    accelerate(original, job.device, cfg.trainer)
    log.info(
        "unlearning %s with %s (alpha=%s): %d forget + %d %s images, %d steps",
        cfg.model.name,
        cfg.loss.name,
        cfg.loss.alpha,
        len(job.split.unlearn["forget"]),
        len(job.split.unlearn_retain),
        "proxy retain" if job.split.retain_source == "proxy" else "retain",
        recipe.steps,
    )
    history = unlearn(
        student,
        original,
        build_loss(cfg.loss),
        job.source.subset("train", job.split.unlearn["forget"]),
        job.source.subset("train", job.split.unlearn_retain),
        job.mask,
        recipe,
        job.device,
        cfg.seed,
        job.precision,
        cfg.trainer.num_workers,
        log=lambda s, v: logger.log(s, v, "unlearn"),
        log_every=cfg.trainer.log_every,
        checkpoint=checkpoint,
    )
    job.timings["unlearn"] = history["wall_s"]
    if history["steps_per_s"]:
        history["images_per_s"] = round(history["steps_per_s"] * 2 * recipe.batch_size, 2)  # forget + retain
    return student, {k: v for k, v in history.items() if k != "history"}, checkpoint[0]


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
        record["models"]["original"] = {"path": str(path), "sha256": manifest["sha256"]}
        if manifest.get("pretrained"):  # imported, not trained: where its weights came from
            record["models"]["original"]["pretrained"] = manifest["pretrained"]
        stored, checkpoint = {"original": manifest["sha256"]}, None
        if cfg.loss.name == RETRAIN:
            with distributed.main_first():
                retrained_path = ensure_retrained(job, logger)
            result, retrained = load_generator(retrained_path, str(job.device))
            configure_generation(result, cfg.model)
            accelerate(result, job.device, cfg.trainer)
            accelerate(original, job.device, cfg.trainer)
            stored["unlearned"] = retrained["sha256"]
            record["models"]["unlearned"] = {"path": str(retrained_path), "sha256": retrained["sha256"]}
            record["retraining"] = {"classes": retrained["key"]["classes"], "training": retrained.get("training")}
        else:
            result, record["unlearning"], checkpoint = unlearn_original(job, original, manifest["sha256"], logger)
            stored["unlearned"] = None
            if cfg.save_model and main:
                saved = result.cpu().save(
                    job.run_dir / "unlearned",
                    role="unlearned",
                    original=str(path),
                    original_sha256=manifest["sha256"],
                    config=config,
                )
                result.to(job.device)
                record["models"]["unlearned"] = {"path": str(job.run_dir / "unlearned"), "sha256": saved["sha256"]}
        models = {"original": original, "unlearned": result}
        embeddings: dict = {}
        lpips = LpipsToOriginal(cfg.eval, original, job.mask, job.device, job.precision, scoring_seed(cfg))
        record["metrics"], record["features_reused"] = score_models(
            job,
            backbone,
            {k: (m, stored[k]) for k, m in models.items()},
            embeddings,
            {"unlearned/retain": lpips} if lpips.available else None,
        )
        record["metrics"]["unlearned"]["retain"]["lpips"] = lpips.entry()
        if not main:
            return
        if embeddings:
            atomic_torch_save(job.run_dir / EMBEDDINGS, embeddings)
            record["embeddings"] = str(job.run_dir / EMBEDDINGS)
        samples = save_samples(job.run_dir / "samples.png", job.eval_sets(), job.mask, models, job.device)
        record["samples"] = str(samples)
        job.timings["total"] = round(time.perf_counter() - started, 3)
        record.update(status="complete", timings_s=job.timings, throughput=throughput(job, record))
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
            write_record(job.run_dir, failure_record(record, err, job.timings))
        raise
    finally:
        logger.finish()


main = hydra_app("train", run)
