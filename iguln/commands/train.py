"""iguln train: unlearn the forget classes from the original generator, then score original and unlearned."""

from __future__ import annotations

import copy
import logging
import time

from omegaconf import DictConfig, OmegaConf

from iguln.commands.app import hydra_app
from iguln.commands.common import Job, load_backbone, prepare, run_name
from iguln.commands.original import ensure_original
from iguln.errors import ConfigError, MissingArtefactError
from iguln.loggers import make_logger
from iguln.metrics.evaluate import extract_features, score_generator
from iguln.models.checkpoint import load_generator
from iguln.models.registry import configure_generation
from iguln.record import new_record, write_record
from iguln.report.samples import save_samples
from iguln.report.table import markdown_table
from iguln.unlearn.losses import build_loss
from iguln.unlearn.recipe import read_recipe
from iguln.unlearn.unlearning import unlearn

log = logging.getLogger("iguln")


def score_both(job: Job, backbone, models: dict) -> dict:
    """Metrics of each named generator on the forget and retain test sets (real features extracted once)."""
    cfg = job.cfg
    sets = job.eval_sets()
    start = time.perf_counter()
    real = {s: extract_features(backbone, d, cfg.eval.batch_size, job.device, job.precision) for s, d in sets.items()}
    job.timings["eval_real"] = round(time.perf_counter() - start, 3)
    metrics = {}
    for name, generator in models.items():
        metrics[name], job.timings[f"eval_{name}"] = score_generator(
            generator,
            sets,
            real,
            job.mask,
            backbone,
            cfg.eval.batch_size,
            cfg.eval.is_splits,
            job.device,
            job.precision,
            cfg.seed + 4,
        )
    return metrics


def run(cfg: DictConfig) -> None:
    started = time.perf_counter()
    job = prepare(cfg, "train")
    loss = build_loss(cfg.loss)
    recipe = read_recipe(cfg.trainer, "trainer")
    config = OmegaConf.to_container(cfg, resolve=True)
    record = new_record("train", config, cfg.seed, job.split.record(job.source.classes))
    name, group = run_name(f"train-{cfg.model.name}-{cfg.loss.name}")
    logger = make_logger(cfg.logger, job.run_dir, cfg, name=name, group=group)
    try:
        path = ensure_original(job, logger, pretrain_if_missing=cfg.pretrain_if_missing)
        backbone = load_backbone(job)
        original, manifest = load_generator(path, str(job.device))
        configure_generation(original, cfg.model)
        record["generation"] = original.generation_values
        record["models"]["original"] = {"path": str(path), "sha256": manifest["sha256"]}
        student = copy.deepcopy(original)  # the original itself is the frozen teacher E0
        log.info(
            "unlearning %s with %s (alpha=%s): %d forget + %d retain images, %d steps",
            cfg.model.name,
            cfg.loss.name,
            cfg.loss.alpha,
            len(job.split.unlearn["forget"]),
            len(job.split.unlearn["retain"]),
            recipe.steps,
        )
        history = unlearn(
            student,
            original,
            loss,
            job.source.subset("train", job.split.unlearn["forget"]),
            job.source.subset("train", job.split.unlearn["retain"]),
            job.mask,
            recipe,
            job.device,
            cfg.seed,
            job.precision,
            cfg.trainer.num_workers,
            log=lambda s, v: logger.log(s, v, "unlearn"),
            log_every=cfg.trainer.log_every,
        )
        job.timings["unlearn"] = history["wall_s"]
        record["unlearning"] = {k: v for k, v in history.items() if k != "history"}
        if cfg.save_model:
            saved = student.cpu().save(
                job.run_dir / "unlearned",
                role="unlearned",
                original=str(path),
                original_sha256=manifest["sha256"],
                config=config,
            )
            student.to(job.device)
            record["models"]["unlearned"] = {"path": str(job.run_dir / "unlearned"), "sha256": saved["sha256"]}
        models = {"original": original, "unlearned": student}
        record["metrics"] = score_both(job, backbone, models)
        samples = save_samples(job.run_dir / "samples.png", job.eval_sets(), job.mask, models, job.device)
        record["samples"] = str(samples)
        job.timings["total"] = round(time.perf_counter() - started, 3)
        record.update(status="complete", timings_s=job.timings)
        path = write_record(job.run_dir, record)
        log.info("results:\n%s\nrecord: %s", markdown_table(record), path)
        logger.summary(
            {
                f"{m}/{s}/{k}": e["value"]
                for m, sets in record["metrics"].items()
                for s, entries in sets.items()
                for k, e in entries.items()
            }
        )
    except (ConfigError, MissingArtefactError):
        raise
    except Exception as err:
        job.timings["total"] = round(time.perf_counter() - started, 3)
        record.update(status="failed", error=f"{type(err).__name__}: {err}", timings_s=job.timings)
        write_record(job.run_dir, record)
        raise
    finally:
        logger.finish()


main = hydra_app("train", run)
