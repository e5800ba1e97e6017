import copy

import pytest
import torch

from iguln.core.errors import ConfigError
from iguln.data.masks import center_square
from iguln.models.mae import MAE, mae_micro
from iguln.unlearn.l2_noise import L2Noise
from iguln.unlearn.losses import build_loss
from iguln.unlearn.noise import NOISES, make_noise
from iguln.unlearn.unlearning import freeze_all_but
from tests.conftest import compose_config

MASK = center_square(32, 0.5)


def batch(seed):
    return torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture
def pair():
    torch.manual_seed(0)
    teacher = MAE({**mae_micro(), "num_channels": 1}).eval()
    return copy.deepcopy(teacher), teacher


def test_retain_term_is_zero_for_an_unchanged_encoder(pair):
    student, teacher = pair
    _, terms = L2Noise(alpha=0.25, noise="gaussian")(student, teacher, batch(1), batch(2), MASK)
    assert terms["retain"] == 0.0
    assert terms["forget"] > 0


def test_forget_samples_give_a_gradient_and_only_the_encoder_gets_it(pair):
    student, teacher = pair
    freeze_all_but(student, "encoder")
    loss = L2Noise(alpha=1.0, noise="gaussian")
    total, terms = loss(student, teacher, batch(1), batch(2), MASK, torch.Generator().manual_seed(0))
    total.backward()
    grads = [p.grad for p in student.encoder_parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in student.net.decoder.parameters())
    assert all(p.grad is None for p in teacher.parameters())


def test_alpha_weights_the_forget_term(pair):
    student, teacher = pair
    with torch.no_grad():
        for p in student.encoder_parameters():
            p.add_(0.01)
    g = torch.Generator
    l1, t1 = L2Noise(0.0, "constant")(student, teacher, batch(1), batch(2), MASK, g().manual_seed(0))
    l2, t2 = L2Noise(2.0, "constant")(student, teacher, batch(1), batch(2), MASK, g().manual_seed(0))
    assert float(l1.detach()) == pytest.approx(t1["retain"])
    assert float(l2.detach()) == pytest.approx(t2["retain"] + 2.0 * t2["forget"], rel=1e-5)


@pytest.mark.parametrize("kind", NOISES)
def test_noise_images_are_in_range(kind):
    x = batch(3)
    n = make_noise(x, kind, torch.Generator().manual_seed(0))
    assert n.shape == x.shape and n.min() >= -1 and n.max() <= 1
    assert not torch.equal(n, x)


def test_loss_config_is_checked():
    with pytest.raises(ConfigError, match=r"loss.alpha=-0.1.*>= 0"):
        build_loss(compose_config("train", ["loss.alpha=-0.1"]).loss)
    with pytest.raises(ConfigError, match="loss.noise='pink'.*constant, gaussian, gaussian_scalar, uniform"):
        build_loss(compose_config("train", ["loss.noise=pink"]).loss)
    with pytest.raises(ConfigError, match="loss.name='nope'.*l2_noise"):
        build_loss(compose_config("train", ["loss.name=nope"]).loss)
    assert build_loss(compose_config("train").loss).alpha == 0.25


def test_a_noise_image_drawn_once_is_the_same_for_every_forget_batch():
    from iguln.unlearn.objective import Step

    loss = build_loss(compose_config("train", ["loss.noise=uniform", "loss.noise_draw=once"]).loss)
    assert loss.noise_draw == "once"
    sample = torch.rand(16, 1, 8, 8) * 2 - 1
    loss.fix_noise(sample, torch.Generator().manual_seed(0))
    a = loss.noise_image(torch.zeros(4, 1, 8, 8), torch.Generator().manual_seed(1), Step())
    b = loss.noise_image(torch.ones(3, 1, 8, 8), torch.Generator().manual_seed(2), Step())
    assert a.shape == (4, 1, 8, 8) and torch.equal(a[0], b[0]) and torch.equal(a[0], a[3])
    again = build_loss(compose_config("train", ["loss.noise=uniform", "loss.noise_draw=once"]).loss)
    again.fix_noise(sample, torch.Generator().manual_seed(0))
    assert torch.equal(again.fixed_noise, loss.fixed_noise)  # a resumed run draws it alike
    fresh = build_loss(compose_config("train", ["loss.noise=uniform"]).loss)
    c = fresh.noise_image(torch.zeros(4, 1, 8, 8), torch.Generator().manual_seed(1), Step())
    assert not torch.equal(c[0], c[1])
    with pytest.raises(ConfigError, match="loss.noise_draw='twice' is not valid. Allowed: step, once"):
        build_loss(compose_config("train", ["loss.noise_draw=twice"]).loss)
