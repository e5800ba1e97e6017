"""Unlearning an original in a job: its checkpoint key, the run, and what the record says about it."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

from omegaconf import OmegaConf

from iguln.core import distributed
from iguln.core.accel import accelerate, peak_memory
from iguln.core.io import config_hash
from iguln.jobs.job import Job
from iguln.jobs.originals import ensure_retrained
from iguln.jobs.validation import validation_score
from iguln.models.families import configure_generation
from iguln.models.storage import load_generator, save_generator
from iguln.store.partial import checkpoint_file, discard_checkpoint
from iguln.training.recipe import read_recipe
from iguln.unlearn.change import weight_change
from iguln.unlearn.losses import build_loss, loss_entry
from iguln.unlearn.protocol import read_protocol
from iguln.unlearn.selection import read_selection
from iguln.unlearn.targets import read_reuse
from iguln.unlearn.unlearning import unlearn

log = logging.getLogger("iguln")


def method_record(job: Job) -> dict:
    """Which row of the paper's tables this run is: the loss, its weight, what it trains, the retain source."""
    cfg = job.cfg.loss
    scope = loss_entry(cfg.name).scope
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


def efficiency(job: Job, record: dict, original, result) -> dict:
    """The efficiency aspect: how long making the result took (unlearning, or for Retrain its training stages),
    images per second, peak memory, and how much of the original it changed (unlearn/change.py)."""
    ids = {id(p) for p in result.encoder_parameters()}
    encoder = {name for name, p in result.named_parameters() if id(p) in ids}
    out: dict = {"method": record["method"]["loss"]}
    if "unlearning" in record:
        out["wall_s"] = record["unlearning"].get("wall_s")
        out.update({k: record["unlearning"][k] for k in ("steps", "steps_per_s", "images_per_s")
                    if k in record["unlearning"]})  # fmt: skip
    elif "retraining" in record:
        stages = (record["retraining"].get("training") or {}).values()
        out["wall_s"] = round(sum(s.get("wall_s", 0) for s in stages), 3) or None
    out.update(peak_memory(job.device))
    out["weights"] = weight_change(original, result, encoder)
    return out


def unlearning_checkpoint(job: Job, original_sha256: str, recipe, selection=None) -> tuple[Path, dict, int]:
    """(file, key, every) of this job's unlearning checkpoint: the key is everything the unlearned weights depend on."""
    cfg = job.cfg
    key = {
        "original": original_sha256,
        "loss": OmegaConf.to_container(cfg.loss, resolve=True),
        "recipe": recipe.key(),
        "protocol": read_protocol(cfg.trainer).record(),
        "split": config_hash(job.split.record(job.source.classes), 16),
        "task": OmegaConf.to_container(cfg.task, resolve=True),
        "precision": job.precision,
        "seed": cfg.seed,
    }
    if selection is not None:  # the checks' scores depend on the metric backbone and the scoring batches
        backbone = cfg.eval.backbone
        backbone = OmegaConf.to_container(backbone, resolve=True) if OmegaConf.is_config(backbone) else backbone
        key["select"] = {**selection.record(), "backbone": backbone, "eval_batch_size": cfg.eval.batch_size}
    if distributed.active():  # each process's random state is in it
        key["processes"] = distributed.world_size()
    return checkpoint_file(cfg.paths.store, f"unlearn-{cfg.model.name}", key), key, cfg.trainer.checkpoint_every


def unlearn_original(job: Job, original, original_sha256: str, logger, backbone=None) -> tuple[object, dict, Path]:
    """A copy of the original, unlearned with the job's loss: (student, history without the per-step lists, the
    checkpoint file to discard once the result is safe). With trainer.select, `backbone` (the metric backbone)
    scores the student on the validation images and the run keeps the best check's weights."""
    cfg = job.cfg
    recipe = read_recipe(cfg.trainer, "trainer")
    protocol = read_protocol(cfg.trainer)
    selection = read_selection(cfg.trainer.get("select"), cfg.split.get("val_per_class"))
    checkpoint = unlearning_checkpoint(job, original_sha256, recipe, selection)
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
    select = None
    if selection is not None:
        if backbone is None:
            raise ValueError("trainer.select needs the metric backbone to score the validation images")
        select = (selection, validation_score(job, backbone, original, original_sha256, student))
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
        protocol=protocol,
        reuse=read_reuse(cfg.trainer),
        select=select,
    )
    job.timings["unlearn"] = history["wall_s"]
    if history["steps_per_s"]:
        per_step = recipe.batch_size * (1 if protocol.batches == "mixed" else 2)  # mixed: one batch of both sets
        history["images_per_s"] = round(history["steps_per_s"] * per_step, 2)
    history["recipe"], history["protocol"] = recipe.record(), protocol.record()
    return student, {k: v for k, v in history.items() if k != "history"}, checkpoint[0]


def retrained_reference(job: Job, original, logger, record: dict) -> tuple[object, str]:
    """loss=retrain: the store's Retrain reference (trained now when missing) as the job's result, and its sha256;
    the record gets its path and what it was trained on."""
    with distributed.main_first():
        path = ensure_retrained(job, logger)
    result, manifest = load_generator(path, str(job.device))
    configure_generation(result, job.cfg.model)
    accelerate(result, job.device, job.cfg.trainer)
    accelerate(original, job.device, job.cfg.trainer)
    record["models"]["unlearned"] = {"path": str(path), "sha256": manifest["sha256"]}
    record["retraining"] = {"classes": manifest["key"]["classes"], "training": manifest.get("training")}
    return result, manifest["sha256"]


def save_unlearned(job: Job, student, original_path: Path, original_sha256: str, config: dict) -> dict:
    """Write the unlearned generator into <run dir>/unlearned; the record's entry for it."""
    folder = job.run_dir / "unlearned"
    saved = save_generator(
        student.cpu(), folder, role="unlearned", original=str(original_path), original_sha256=original_sha256,
        config=config,
    )  # fmt: skip
    student.to(job.device)
    return {"path": str(folder), "sha256": saved["sha256"]}
