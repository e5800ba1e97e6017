import pytest
import torch
from omegaconf import OmegaConf

from iguln.core.errors import ConfigError
from iguln.training.engine import fit, warmup_cosine
from iguln.training.recipe import Recipe, read_recipe
from tests.conftest import compose_config


def test_schedule_warms_up_then_decays_to_zero():
    factors = [warmup_cosine(s, 10, 100) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0) and factors[-1] < 0.01
    assert all(a >= b for a, b in zip(factors[10:-1], factors[11:], strict=True))


def test_fit_minimises_and_records_history():
    w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    recipe = Recipe(steps=200, batch_size=1, lr=0.1, betas=(0.9, 0.95), weight_decay=0.0, warmup_steps=5, grad_clip=1.0)
    history = fit([w], lambda: ((w**2).sum(), {"w0": float(w[0].detach())}), recipe, torch.device("cpu"))
    assert w.abs().max() < 0.1
    assert len(history["history"]["loss"]) == 200 and "w0" in history["final"]
    assert history["steps"] == 200 and history["wall_s"] >= 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.steps=0", "trainer.steps=0"),
        ("trainer.warmup_steps=400", "trainer.warmup_steps=400"),
        ("trainer.lr=-1", "trainer.lr=-1"),
        ("trainer.betas=[0.9]", "trainer.betas"),
        ("trainer.grad_clip=0", "trainer.grad_clip=0"),
    ],
)
def test_recipe_errors_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        read_recipe(compose_config("train", [override]).trainer, "trainer")


def test_every_recipe_in_the_configs_is_valid():
    cfg = compose_config("train")
    for where in ("trainer", "model.pretrain", "eval.judge"):
        assert read_recipe(OmegaConf.select(cfg, where), where).steps > 0
