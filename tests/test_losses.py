"""Every unlearning loss on every family: what one step trains, and that its forget term acts on forget images."""

import copy

import pytest
import torch

from iguln.core.errors import ConfigError
from iguln.data.masks import center_square
from iguln.models.families import FAMILIES, build_generator, family_capabilities, resolve_model_config
from iguln.unlearn.losses import LOSSES, build_loss, check_loss
from iguln.unlearn.objective import as_masks
from iguln.unlearn.unlearning import freeze_all_but
from tests.conftest import compose_config, unlearn_a_copy

MASK = center_square(32, 0.5)
OBJECTIVES = [name for name, entry in LOSSES.items() if entry.objective is not None]


def make_loss(name: str, alpha: float = 0.5):
    return LOSSES.get(name).objective(alpha=alpha)


def batch(seed: int) -> torch.Tensor:
    return torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture(scope="module", params=FAMILIES.names())
def original(request):
    cfg = compose_config("train", [f"model={request.param}", "model.preset=micro"]).model
    torch.manual_seed(0)
    return build_generator(resolve_model_config(cfg, 1)).eval()


def encoder_names(generator) -> set[str]:
    ids = {id(p) for p in generator.encoder.parameters()}
    return {name for name, p in generator.named_parameters() if id(p) in ids}


@pytest.mark.parametrize("name", OBJECTIVES)
def test_one_step_changes_only_what_the_loss_trains(original, name):
    loss = make_loss(name)
    frozen_before = {n for n, p in original.named_parameters() if not p.requires_grad}
    student, _, changed = unlearn_a_copy(original, steps=1, loss=loss)
    assert changed, "one step changed nothing"
    encoder = encoder_names(student)
    if loss.scope == "encoder":
        assert changed <= encoder
    else:
        assert changed - encoder, "a whole-model loss left everything outside the encoder as it was"
        assert not changed & frozen_before, "a part that is never trained (e.g. vqgan's tokenizer) changed"


@pytest.mark.parametrize("name", OBJECTIVES)
def test_the_forget_term_has_a_gradient_on_forget_images(original, name):
    loss = make_loss(name)
    student, teacher = copy.deepcopy(original), original
    params = freeze_all_but(student, loss.scope)
    perturb = torch.Generator().manual_seed(9)
    with torch.no_grad():  # move the student off the teacher, as after a few steps of unlearning
        for p in params:
            p.add_(0.01 * torch.randn(p.shape, generator=perturb))

    def forget_term(forget):
        return loss.terms(student, teacher, forget, batch(2), as_masks(MASK), torch.Generator().manual_seed(0))[
            "forget"
        ]

    term = forget_term(batch(1))
    term.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
    assert float(term.detach()) != pytest.approx(float(forget_term(batch(3)).detach()), rel=1e-6), (
        "the forget term does not depend on the forget images"
    )


def test_max_loss_subtracts_its_forget_term(original):
    loss = make_loss("max_loss", alpha=2.0)
    total, terms = loss(original, original, batch(1), batch(2), MASK, torch.Generator().manual_seed(0))
    assert float(total.detach()) == pytest.approx(terms["retain"] - 2.0 * terms["forget"], rel=1e-5)


def check(cfg, family: str = "vqgan"):
    return check_loss(cfg, family, family_capabilities(family))


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_config_composes_and_checks(name):
    cfg = compose_config("train", [f"loss={name}"]).loss
    entry = check(cfg)
    if entry.objective is not None:
        assert build_loss(cfg).alpha == 0.25


def test_bad_loss_values_are_named():
    with pytest.raises(ConfigError, match="loss.alpha"):
        check(compose_config("train", ["loss=retain_label", "loss.alpha=-1"]).loss)
    with pytest.raises(ConfigError, match="loss.name.*retrain"):
        check(compose_config("train", ["loss.name=nope"]).loss)


def test_every_paper_family_supports_every_paper_row():
    for family in (name for name, cls in FAMILIES.items() if cls.paper):
        for name, entry in LOSSES.items():
            assert entry.needs <= family_capabilities(family), (family, name)
    assert family_capabilities("diffusion") >= {"encode_probe", "forget_target", "output", "noisy_label_loss"}
    assert "encode_probe" not in family_capabilities("mae") and "forget_target" not in family_capabilities("vqgan")


def test_a_loss_needing_a_capability_the_family_lacks_names_both():
    cfg = compose_config("train", ["loss=retain_label"]).loss
    with pytest.raises(
        ConfigError, match=r"loss='retain_label' is not valid\. Allowed: .*l2_noise.*model=plain lacks output"
    ):
        check_loss(cfg, "plain", frozenset())
