"""What every command does first: check the whole config, load the data, make the split; and its metric backbone."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from iguln.config.checks import check_config, resolve_device
from iguln.core.accel import configure_backend
from iguln.core.errors import ConfigError
from iguln.core.seeding import seed_everything
from iguln.data.masks import task_mask
from iguln.data.source import ImageSource
from iguln.data.sources import load_source
from iguln.data.split import SETS, Split, make_split
from iguln.metrics.backbones import Backbone, domain_backbone
from iguln.metrics.choice import load_metric_backbone
from iguln.metrics.judge import load_or_train_judge
from iguln.models.storage import CONFIG
from iguln.training.recipe import read_recipe

log = logging.getLogger("iguln")


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


def checkpoint_image_size(cfg: DictConfig, required: bool = False) -> int | None:
    """The image size of the generator folder `checkpoint=PATH` names (None when none is named), after checking it is
    one and was trained on as many channels as the data set has; ConfigError otherwise."""
    if cfg.checkpoint is None and not required:
        return None
    spec_file = Path(str(cfg.checkpoint)) / CONFIG
    if cfg.checkpoint is None or not spec_file.is_file():
        raise ConfigError(
            "checkpoint",
            cfg.checkpoint,
            "a generator folder (config.json, weights.safetensors, manifest.json), e.g. <train run dir>/unlearned",
        )
    arch = json.loads(spec_file.read_text())["arch"]
    if arch["num_channels"] != cfg.data.channels:
        raise ConfigError(
            "data", cfg.data.name, f"a data set with {arch['num_channels']} channel(s), as the checkpoint's training"
        )
    return arch["image_size"]


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
            job.source,
            cfg.judge.width,
            recipe,
            job.cfg.paths.store,
            job.device,
            cfg.judge.get("seed", 0),
            job.precision,
        )
        log.info("domain judge %s: test accuracy %.4f", path, manifest["test_accuracy"])
        return domain_backbone(net, manifest)

    backbone = load_metric_backbone(cfg, job.device, judge)
    job.timings["backbone"] = round(time.perf_counter() - start, 3)
    return backbone
