"""Every check of a composed config that needs no data: names against the registries, numbers, recipes, the loss
against the model family's capabilities. The first bad value is a ConfigError naming the key, the value and what
is allowed, before any work starts."""

from __future__ import annotations

import math

import torch
from omegaconf import DictConfig, OmegaConf

from iguln.core import distributed
from iguln.core.accel import check_accel
from iguln.core.errors import ConfigError, positive_int
from iguln.core.loggers import check_logger
from iguln.data.masks import task_mask
from iguln.data.sources import check_data_config
from iguln.metrics.choice import check_backbone_name
from iguln.models.families import family_capabilities, family_of, resolve_model_config
from iguln.training.recipe import read_recipe
from iguln.unlearn.losses import RETRAIN, check_loss
from iguln.unlearn.protocol import MASK_HOOKS, read_protocol
from iguln.unlearn.selection import read_selection
from iguln.unlearn.targets import read_reuse

PRECISIONS = ("bf16", "fp32")


def check_finite(value: object, key: str = "") -> None:
    """Every number in a config must be finite: NaN or infinity anywhere (loss.alpha=nan, trainer.lr=inf) is a
    ConfigError naming its key."""
    if isinstance(value, dict):
        for name, item in value.items():
            check_finite(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_finite(item, f"{key}[{i}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(key, value, "a finite number")


def resolve_device(name: str) -> torch.device:
    """trainer.device as a device; under torchrun, "cuda" and "auto" mean this process's GPU (LOCAL_RANK)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError("trainer.device", name, "auto, cpu, cuda, cuda:N") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device", name, "auto, cpu", "No CUDA device is visible to torch here.")
    if device.type == "cuda" and distributed.active():
        if device.index is not None:
            raise ConfigError("trainer.device", name, "auto, cuda, cpu", "Under torchrun each process takes its GPU.")
        device = torch.device("cuda", distributed.local_rank())
    return device


def check_distributed(cfg: DictConfig) -> None:
    """Under torchrun each step's batch is shared out: it must split evenly."""
    size = distributed.world_size()
    if size > 1 and cfg.trainer.batch_size % size:
        raise ConfigError(
            "trainer.batch_size",
            cfg.trainer.batch_size,
            f"a multiple of the {size} processes (each takes batch_size / {size} forget and retain images a step)",
        )


def _positive(cfg: DictConfig, key: str, where: str) -> None:
    positive_int(f"{where}.{key}", cfg[key])


def check_config(cfg: DictConfig, command: str) -> None:
    """Every check that needs no data: names, numbers, recipes. Raises ConfigError on the first bad value."""
    check_finite(OmegaConf.to_container(cfg, resolve=True))
    check_data_config(cfg.data)
    if cfg.data.channels not in (1, 3):
        raise ConfigError("data.channels", cfg.data.channels, (1, 3))
    resolve_model_config(cfg.model, cfg.data.channels)
    family = family_of(cfg.model.name)
    for option in family.options + family.generation:
        if option not in cfg.model:
            raise ConfigError(f"model.{option}", None, "a value (the family needs it)")
    family.check_config(cfg.model)
    task_mask(cfg.task, cfg.model.arch.image_size)
    for where in family.recipes:
        read_recipe(OmegaConf.select(cfg, where), where)
    read_recipe(cfg.trainer, "trainer")
    read_reuse(cfg.trainer)
    read_recipe(cfg.eval.judge, "eval.judge")
    _positive(cfg.eval, "batch_size", "eval")
    _positive(cfg.eval, "is_splits", "eval")
    _positive(cfg.trainer, "log_every", "trainer")
    every = cfg.trainer.checkpoint_every
    if not isinstance(every, int) or isinstance(every, bool) or every < 0:
        raise ConfigError("trainer.checkpoint_every", every, "an integer >= 0 (0: no checkpoints)")
    if not isinstance(cfg.resume, bool):
        raise ConfigError("resume", cfg.resume, "true or false")
    if command == "train":
        capabilities = family_capabilities(cfg.model.name)
        check_loss(cfg.loss, cfg.model.name, capabilities)
        if read_selection(cfg.trainer.get("select"), cfg.split.get("val_per_class")) and cfg.loss.name == RETRAIN:
            raise ConfigError("trainer.select", cfg.trainer.select, "null with loss=retrain (nothing is unlearned)")
        masks = read_protocol(cfg.trainer).masks
        hook = MASK_HOOKS.get(masks)
        if hook is not None and hook not in capabilities:
            allowed = ["task", *(m for m, h in MASK_HOOKS.items() if h in capabilities)]
            raise ConfigError(
                "trainer.masks", masks, allowed, f"model={cfg.model.name} lacks {hook} (capabilities.py)."
            )
    check_backbone_name(cfg.eval)
    check_logger(cfg.logger)
    check_accel(cfg.trainer)
    if cfg.trainer.precision not in PRECISIONS:
        raise ConfigError("trainer.precision", cfg.trainer.precision, PRECISIONS)
    for key in ("seed", "model.seed", "eval.judge.seed"):
        value = OmegaConf.select(cfg, key, default=0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(key, value, "an integer >= 0")
    resolve_device(cfg.trainer.device)
    check_distributed(cfg)
