"""loss.forget_norm=initial: the forget term divided by its value at the run's start."""

import copy

import pytest
import torch

from iguln.core.errors import ConfigError
from iguln.core.seeding import make_generator
from iguln.data.masks import center_square
from iguln.training.recipe import Recipe
from iguln.unlearn.l2_noise import L2Noise
from iguln.unlearn.losses import build_loss
from iguln.unlearn.noise import once_generator
from iguln.unlearn.unlearning import unlearn
from tests.conftest import compose_config, micro

MASK = center_square(32, 0.5)


def images(seed: int, n: int = 8) -> torch.Tensor:
    return torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture
def model():
    return micro("vqgan")


def calibrated(model, noise_seed: int) -> L2Noise:
    loss = L2Noise(alpha=0.5, noise="uniform", noise_draw="once", features="decoder_input", forget_norm="initial")
    forget = images(1)
    loss.fix_noise(forget, once_generator(noise_seed))
    loss.calibrate(model, forget, MASK, make_generator(10), batch=3)  # batches of 3, 3 and 2 images
    return loss


def test_the_start_value_is_the_forget_term_of_the_student_as_the_teacher(model):
    loss = calibrated(model, 0)
    student, forget = copy.deepcopy(model), images(1)
    total, raw = loss(student, model, forget, images(2), MASK, make_generator(0))
    assert loss.forget_scale == pytest.approx(raw["forget"], rel=1e-5)
    assert raw["retain"] == pytest.approx(0.0, abs=1e-10)
    # the loss weighs the forget term divided by its start value: alpha * 1 at the start
    assert float(total.detach()) == pytest.approx(0.5, rel=1e-5)


def test_each_noise_image_has_its_own_start_value_and_the_same_weight_at_the_start(model):
    first, second = calibrated(model, 0), calibrated(model, 1)
    assert first.forget_scale != pytest.approx(second.forget_scale, rel=1e-3)
    for loss in (first, second):
        total, _ = loss(copy.deepcopy(model), model, images(1), images(2), MASK, make_generator(0))
        assert float(total.detach()) == pytest.approx(0.5, rel=1e-5)


def test_the_forget_norm_key_is_checked():
    assert build_loss(compose_config("train").loss).forget_norm == "none"
    assert build_loss(compose_config("train", ["loss.forget_norm=initial"]).loss).forget_norm == "initial"
    with pytest.raises(ConfigError, match=r"loss.forget_norm='start'.*none.*initial"):
        build_loss(compose_config("train", ["loss.forget_norm=start"]).loss)
    with pytest.raises(ConfigError, match=r"loss.forget_norm='initial'.*max_loss has no start value"):
        build_loss(compose_config("train", ["loss=max_loss", "+loss.forget_norm=initial"]).loss)
    with pytest.raises(ConfigError, match=r"loss=random_encoder has no start value to divide by; l2_noise has\."):
        build_loss(compose_config("train", ["loss=random_encoder", "+loss.forget_norm=initial"]).loss)


@pytest.mark.parametrize("family", ["vqgan", "mae", "diffusion"])
@pytest.mark.parametrize("noise_draw", ["once", "step"])
def test_a_run_records_its_start_value_and_repeats_it(family, noise_draw):
    original = micro(family)
    data = torch.utils.data.TensorDataset(images(3), torch.zeros(8))
    recipe = Recipe(2, batch_size=4, lr=1e-3, betas=(0.9, 0.95), weight_decay=0.0, warmup_steps=0, grad_clip=None)

    def scale(norm: str):
        loss = L2Noise(1.0, "uniform", noise_draw=noise_draw, forget_norm=norm)
        history = unlearn(copy.deepcopy(original), original, loss, data, data, MASK, recipe, torch.device("cpu"), 0)
        return history.get("forget_scale")

    first = scale("initial")
    assert first is not None and first > 0
    assert scale("initial") == first  # a fixed sample and a seeded draw: the same start value again
    assert scale("none") is None


def test_the_fixed_sample_spans_the_forget_set():
    from iguln.unlearn.unlearning import forget_sample

    ordered = torch.utils.data.TensorDataset(torch.arange(1000.0).view(1000, 1, 1, 1), torch.zeros(1000))
    sample = forget_sample(ordered).flatten()
    assert len(sample) == 256 and sample[0] == 0 and sample[-1] == 999  # the first class and the last
    assert torch.equal(sample, sample.sort().values) and len(sample.unique()) == 256
    small = forget_sample(torch.utils.data.TensorDataset(torch.arange(10.0).view(10, 1, 1, 1), torch.zeros(10)))
    assert torch.equal(small.flatten(), torch.arange(10.0))
