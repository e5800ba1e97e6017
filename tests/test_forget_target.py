"""loss.target: the family's own forget target (diffusion's context with pure noise in the hole) or E0(n), the
noise image's features, for every family."""

import pytest
import torch

from iguln.core.errors import ConfigError
from iguln.data.masks import center_square
from iguln.unlearn.l2_noise import L2Noise
from iguln.unlearn.losses import build_loss
from tests.conftest import compose_config
from tests.test_diffusion import images, make_diffusion

MASK = center_square(32, 0.5)


@pytest.mark.parametrize("target", ["family", "noise_image"])
def test_the_forget_target_is_the_familys_or_the_noise_images_features(target):
    teacher, x = make_diffusion(), images()
    noise = images(seed=7)
    probe = teacher.encode_probe(x, torch.Generator().manual_seed(0))
    loss = L2Noise(alpha=1.0, target=target)
    with torch.no_grad():
        got = loss.forget_target(teacher, x, noise, MASK, probe)
        family = teacher.forget_target(x, noise, MASK, probe)
        noise_image = teacher.encode(noise, MASK, probe)
    expected, other = (family, noise_image) if target == "family" else (noise_image, family)
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))
    assert not all(torch.allclose(a, b) for a, b in zip(got, other, strict=True))


def test_the_target_key_is_checked():
    assert build_loss(compose_config("train").loss).target == "family"
    assert build_loss(compose_config("train", ["loss.target=noise_image"]).loss).target == "noise_image"
    with pytest.raises(ConfigError, match=r"loss.target='noise'.*family, noise_image"):
        build_loss(compose_config("train", ["loss.target=noise"]).loss)
