"""Shared test set-up: offline hub and wandb, composed configs, and a store shared by the end-to-end tests."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from iguln.commands.app import CONF_DIR  # noqa: E402


def compose_config(config_name: str = "train", overrides: list[str] | None = None) -> DictConfig:
    """The config `iguln <config_name> OVERRIDES...` would run with (Hydra's own keys left out)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides or [])


@pytest.fixture
def compose_cfg():
    return compose_config
