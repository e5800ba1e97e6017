"""loss.features=decoder_input: vqgan's encoder features compared as its frozen decoder reads them."""

import copy

import pytest
import torch

from iguln.core.errors import ConfigError
from iguln.data.masks import center_square
from iguln.models.vqgan.family import VQGAN, vqgan_micro
from iguln.unlearn.l2_noise import L2Noise
from iguln.unlearn.losses import build_loss
from iguln.unlearn.objective import Step, feature_mse
from tests.conftest import compose_config

MASK = center_square(32, 0.5)
OPTIONS = {
    "mask_ratio": {"min": 0.5, "mu": 0.55, "std": 0.25},
    "block_masks": 0.5,
    "label_smoothing": 0.1,
    "tokenizer": {},
}


def batch(seed: int) -> torch.Tensor:
    return torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture
def model():
    torch.manual_seed(0)
    return VQGAN({**vqgan_micro(), "num_channels": 1}, **OPTIONS).eval()


def test_hidden_positions_take_the_class_token_and_decoding_is_unchanged(model):
    x = batch(1)
    features = model.encode(x, MASK)
    view = model.decoder_view(features, MASK)
    hidden = model.token_mask(MASK, len(x))
    assert hidden.any() and (~hidden).any()
    body = view[:, 1:]
    assert torch.equal(body[hidden], features[:, :1].expand_as(body)[hidden])
    assert torch.equal(body[~hidden], features[:, 1:][~hidden])
    assert torch.equal(view[:, 0], features[:, 0])
    with torch.no_grad():
        assert torch.allclose(model.transformer.decode(view, hidden), model.transformer.decode(features, hidden))


def test_the_forget_term_in_the_decoders_view_ignores_what_the_decoder_never_reads(model):
    student, teacher = copy.deepcopy(model), model
    with torch.no_grad():
        for p in student.encoder.parameters():
            p.add_(0.01 * torch.randn_like(p))
    forget, retain = batch(1), batch(2)
    loss = L2Noise(alpha=1.0, noise="uniform", features="decoder_input")
    _, terms = loss(student, teacher, forget, retain, MASK, torch.Generator().manual_seed(0))
    noise = loss.noise_image(forget, torch.Generator().manual_seed(0), Step())
    hidden = student.token_mask(MASK, len(forget))
    with torch.no_grad():
        s, t = student.encode(forget, MASK), teacher.encode(noise, MASK)
        expected = feature_mse(student.decoder_view(s, MASK), teacher.decoder_view(t, MASK))
        # what the decoder never reads (the encoder's outputs at hidden positions) does not move the term
        s_other = s.clone()
        s_other[:, 1:][hidden] += 5.0
        assert float(feature_mse(student.decoder_view(s_other, MASK), teacher.decoder_view(t, MASK))) == pytest.approx(
            float(expected)
        )
        assert float(feature_mse(s_other, t)) != pytest.approx(float(feature_mse(s, t)))
    assert terms["forget"] == pytest.approx(float(expected), rel=1e-5)


def test_the_features_key_is_checked():
    assert build_loss(compose_config("train").loss).features == "encoder"
    assert build_loss(compose_config("train", ["loss.features=decoder_input"]).loss).features == "decoder_input"
    with pytest.raises(
        ConfigError,
        match=r"loss.features='decoder'.*decoder_input, encoder|loss.features='decoder'.*encoder, decoder_input",
    ):
        build_loss(compose_config("train", ["loss.features=decoder"]).loss)
