"""Hydra apps: one per command, with user errors printed as one line and exit status 2 (no traceback)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from omegaconf import DictConfig

from iguln.errors import ConfigError, MissingArtefactError

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
USER_ERROR_STATUS = 2


def hydra_app(config_name: str, run: Callable[[DictConfig], object]) -> Callable[[], None]:
    """The Hydra entry point for `run` over conf/<config_name>.yaml."""

    @functools.wraps(run)
    def task(cfg: DictConfig) -> None:
        try:
            run(cfg)
        except (ConfigError, MissingArtefactError) as err:
            print(f"iguln {config_name}: error: {err}", file=sys.stderr)
            sys.exit(USER_ERROR_STATUS)

    return hydra.main(config_path=CONF_DIR, config_name=config_name, version_base="1.3")(task)
