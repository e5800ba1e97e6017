"""Experiment loggers: none, csv (<run dir>/metrics.csv) and wandb (mode from WANDB_MODE, offline when unset)."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from iguln.core import distributed
from iguln.core.registry import Registry


class NoLogger:
    def log(self, step: int, values: dict[str, float], prefix: str = "") -> None:
        pass

    def summary(self, values: dict) -> None:
        pass

    def finish(self) -> None:
        pass


class CsvLogger(NoLogger):
    """One row per logged step: phase, step, then the values."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / "metrics.csv"
        self.file = open(self.path, "a", newline="")  # noqa: SIM115 - closed in finish()
        self.writer = csv.writer(self.file)
        self.writer.writerow(["phase", "step", "key", "value"])

    def log(self, step: int, values: dict[str, float], prefix: str = "") -> None:
        for key, value in values.items():
            self.writer.writerow([prefix, step, key, value])
        self.file.flush()

    def finish(self) -> None:
        self.file.close()


class WandbLogger(NoLogger):
    def __init__(self, cfg: DictConfig, run_dir: Path, config: dict, name: str, group: str | None):
        import wandb

        self.wandb = wandb
        self.run = wandb.init(
            project=cfg.project,
            entity=cfg.entity,
            group=cfg.group or group,
            name=name,
            tags=list(cfg.tags),
            dir=str(run_dir),
            config=config,
            mode=os.environ.get("WANDB_MODE", "offline"),
            reinit="finish_previous",
        )
        self.steps: dict[str, int] = {}

    def log(self, step: int, values: dict[str, float], prefix: str = "") -> None:
        self.run.log({f"{prefix}/{k}" if prefix else k: v for k, v in values.items()})

    def summary(self, values: dict) -> None:
        for key, value in values.items():
            self.run.summary[key] = value

    def finish(self) -> None:
        self.run.finish()


LOGGERS: Registry[Callable[..., NoLogger]] = Registry("logger", "logger.name", group="logger")
LOGGERS.register("none", lambda cfg, run_dir, config, name, group: NoLogger())
LOGGERS.register("csv", lambda cfg, run_dir, config, name, group: CsvLogger(run_dir))
LOGGERS.register(
    "wandb",
    lambda cfg, run_dir, config, name, group: WandbLogger(
        cfg, run_dir, OmegaConf.to_container(config, resolve=True), name, group
    ),
)


def check_logger(cfg: DictConfig) -> None:
    LOGGERS.get(cfg.name)


def make_logger(cfg: DictConfig, run_dir: Path, config: DictConfig, name: str, group: str | None = None):
    """The run's logger; under torchrun only process 0 logs."""
    make = LOGGERS.get(cfg.name)
    if not distributed.is_main():
        return NoLogger()
    return make(cfg, run_dir, config, name, group)
