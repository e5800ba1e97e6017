"""What every command does first: check the whole config, load the data, make the split, find the original."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from iguln.core import distributed
from iguln.core.accel import check_accel, configure_backend
from iguln.core.errors import ConfigError, positive_int
from iguln.core.loggers import check_logger
from iguln.core.seeding import seed_everything
from iguln.data.masks import task_mask
from iguln.data.source import ImageSource
from iguln.data.sources import check_data_config, load_source
from iguln.data.split import SETS, Split, make_split
from iguln.metrics.backbones import Backbone, check_backbone_name, domain_backbone
from iguln.metrics.choice import load_metric_backbone
from iguln.metrics.judge import load_or_train_judge
from iguln.models.families import family_of, resolve_model_config
from iguln.training.recipe import read_recipe
from iguln.unlearn.losses import check_loss

log = logging.getLogger("iguln")
PRECISIONS = ("bf16", "fp32")


@dataclass
class Job:
    cfg: DictConfig
    command: str
    run_dir: Path
    device: torch.device
    source: ImageSource
    split: Split
    mask: torch.Tensor  # [1, 1, H, W], 1 = fill
    timings: dict = field(default_factory=dict)

    @property
    def precision(self) -> str:
        return self.cfg.trainer.precision

    def eval_sets(self) -> dict:
        """The forget and retain test images the split chose: {"forget": Dataset, "retain": Dataset}."""
        return {s: self.source.subset("test", self.split.evaluate[s]) for s in SETS}


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
        check_loss(cfg.loss)
    check_backbone_name(cfg.eval)
    check_logger(cfg.logger)
    check_accel(cfg.trainer)
    if cfg.trainer.precision not in PRECISIONS:
        raise ConfigError("trainer.precision", cfg.trainer.precision, PRECISIONS)
    if not isinstance(cfg.seed, int) or isinstance(cfg.seed, bool) or cfg.seed < 0:
        raise ConfigError("seed", cfg.seed, "an integer >= 0")
    resolve_device(cfg.trainer.device)
    check_distributed(cfg)


def prepare(cfg: DictConfig, command: str, image_size: int | None = None) -> Job:
    """Check the config, then load the data set and make the split (which checks classes and counts)."""
    check_config(cfg, command)
    device = resolve_device(cfg.trainer.device)
    configure_backend(device, cfg.trainer.tf32)
    seed_everything(cfg.seed)
    size = image_size or cfg.model.arch.image_size
    start = time.perf_counter()
    source = load_source(cfg.data, size, cfg.paths.downloads)
    split = make_split(cfg.split, source.classes, source.targets("train"), source.targets("test"))
    timings = {"load_data": round(time.perf_counter() - start, 3)}
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    return Job(cfg, command, run_dir, device, source, split, task_mask(cfg.task, size), timings)


def run_name(prefix: str) -> tuple[str, str | None]:
    """A logger run name and group: in a sweep, the job number names the run and the sweep dir is the group."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        return f"{prefix}-job{hydra_cfg.job.num}", hydra_cfg.sweep.dir
    return prefix, None


def load_backbone(job: Job) -> Backbone:
    """The metric backbones named by eval.backbone (see metrics/choice.py); the domain judge is trained and stored
    on first use, and only when a metric needs it."""
    cfg = job.cfg.eval
    start = time.perf_counter()

    def judge() -> Backbone:
        recipe = read_recipe(cfg.judge, "eval.judge")
        net, manifest, path = load_or_train_judge(
            job.source, cfg.judge.width, recipe, job.cfg.paths.store, job.device, job.cfg.seed, job.precision
        )
        log.info("domain judge %s: test accuracy %.4f", path, manifest["test_accuracy"])
        return domain_backbone(net, manifest)

    backbone = load_metric_backbone(cfg, job.device, judge)
    job.timings["backbone"] = round(time.perf_counter() - start, 3)
    return backbone
