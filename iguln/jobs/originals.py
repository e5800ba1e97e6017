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
from iguln.core.seeding import model_seed
from iguln.data.sources import data_identity
from iguln.jobs.job import Job
from iguln.jobs.pretraining import pretrain_generator
from iguln.models.families import build_generator, family_of, weights_key
from iguln.models.storage import save_generator
from iguln.store.layout import entry_dir

log = logging.getLogger("iguln")


def released_identity(job: Job) -> dict | None:
    """What identifies the released weights the model config names (None when the original is trained here)."""
    return family_of(job.cfg.model.name).released_identity(job.cfg.model)


def original_classes(job: Job) -> list[int]:
    """What an original generator trained here learns from: every class of the data set, as a released model would."""
    return list(range(len(job.source.classes)))


def retrain_classes(job: Job) -> list[int]:
    """What the Retrain reference learns from: the original's classes except the forget classes."""
    return [c for c in original_classes(job) if c not in job.split.classes["forget"]]


def trained_key(job: Job, classes: list[int]) -> dict:
    """What a generator trained here depends on: the model config (architecture, training options, recipes; not
    generation settings), the data, the classes and the seed; on a CPU also the number of threads and the vector
    instructions of the kernels, since the pretrained weights differ with each (made_on)."""
    return {
        "model": weights_key(job.cfg.model),
        "data": data_identity(job.cfg.data, job.source),
        "classes": sorted(classes),
        "seed": model_seed(job.cfg),
        **made_on(job.device),
    }


def made_on(device: torch.device) -> dict:
    """{"cpu_threads": N, "cpu_capability": "AVX2"} on a CPU: torch splits its reductions by thread, and its kernels
    round differently with each instruction set (IGULN_CPU_ISA pins it: iguln/core/cpu_isa.py); nothing on an
    accelerator (its results hang on the device and its kernels, which the key does not try to name)."""
    if device.type != "cpu":
        return {}
    return {"cpu_threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}


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
        classes = original_classes(job)
        return pretrain_generator(job, classes, path, "original", trained_key(job, classes), logger)
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
        save_generator(
            generator,
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


def ensure_retrained(job: Job, logger=None) -> Path:
    """The store's Retrain reference for this job (a fresh generator trained on retrain_classes with the original's
    recipes and seed), trained now when missing."""
    path = retrain_dir(job)
    if (path / "manifest.json").is_file():
        return path
    classes = retrain_classes(job)
    return pretrain_generator(job, classes, path, "retrain", trained_key(job, classes), logger)
