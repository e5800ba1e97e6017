"""Shared test set-up: offline hub and wandb, composed configs, and a store shared by the end-to-end tests."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from iguln.config import CONF_DIR  # noqa: E402


def compose_config(config_name: str = "train", overrides: list[str] | None = None) -> DictConfig:
    """The config `iguln <config_name> OVERRIDES...` would run with (Hydra's own keys left out)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides or [])


@pytest.fixture
def compose_cfg():
    return compose_config


def micro(family: str):
    """A freshly built `model.preset=micro` generator of `family` (torch seed 0), 1 channel, in eval mode."""
    import torch

    from iguln.models.families import build_generator, resolve_model_config

    torch.manual_seed(0)
    cfg = compose_config("train", [f"model={family}", "model.preset=micro"]).model
    return build_generator(resolve_model_config(cfg, 1)).eval()


def unlearn_a_copy(original, steps: int = 2, global_seed: int | None = None, loss=None):
    """Unlearning with `loss` (default l2_noise, alpha 1, Gaussian noise; centre mask) of a deep copy of `original`
    on 8 random 32 px images used as both sets. Returns (student, history, names of the tensors that changed)."""
    import copy

    import torch

    from iguln.data.masks import center_square
    from iguln.training.recipe import Recipe
    from iguln.unlearn.l2_noise import L2Noise
    from iguln.unlearn.unlearning import unlearn

    student = copy.deepcopy(original)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    x = torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    data = torch.utils.data.TensorDataset(x, torch.zeros(8))
    recipe = Recipe(steps, batch_size=4, lr=1e-2, betas=(0.9, 0.95), weight_decay=0.0, warmup_steps=0, grad_clip=None)
    if global_seed is not None:
        torch.manual_seed(global_seed)
    mask, device = center_square(32, 0.5), torch.device("cpu")
    loss = loss or L2Noise(1.0, "gaussian")
    history = unlearn(student, original, loss, data, data, mask, recipe, device, seed=0)
    after = student.state_dict()
    return student, history, {k for k in before if not torch.equal(before[k], after[k])}
