"""MAGE's unlearning (the reference code, jpmorganchase/i2i_mage) against iguln's vqgan family, on the facts in
tests/fixtures/parity/mage.safetensors (written by tools/parity/mage.py): the same weights (fixture.filled, in MAGE's
layout, imported through iguln's released-weights path), the same [0, 1] images, MAGE's random mask (tokens
dropped), the same noise.

Tolerances: token ids exactly; features, logits and decoded pixels 1e-4 relative (1e-5 absolute); losses 1e-5
relative; one AdamW step's changes 1e-6 absolute (float32 on a CPU).
"""

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from iguln.core import seeding
from iguln.models.vqgan import VQGAN
from iguln.models.vqgan.token_mask import TokenMask
from iguln.training.engine import fit
from iguln.training.recipe import Recipe
from iguln.unlearn.losses import LOSSES
from iguln.unlearn.objective import Masks, Step
from iguln.unlearn.unlearning import freeze_all_but
from tests.conftest import compose_config
from tools.parity.fixture import filled, images, normals, perturbed, read, sample_positions

FIXTURE = Path(__file__).parent / "fixtures" / "parity" / "mage.safetensors"
TENSORS, FACTS = read(FIXTURE)
DD, VIT = FACTS["tokenizer"]["ddconfig"], FACTS["vit"]
ARCH = {
    "image_size": DD["resolution"],
    "num_channels": 3,
    "tokenizer": {
        "block_out_channels": [DD["ch"] * m for m in DD["ch_mult"]],
        "layers_per_block": DD["num_res_blocks"],
        "latent_channels": DD["z_channels"],
        "codebook_size": FACTS["tokenizer"]["n_embed"],
        "norm_num_groups": 32,
        "mid_attention": False,
    },
    "transformer": {
        "hidden_size": VIT["embed_dim"],
        "depth": VIT["depth"],
        "num_heads": VIT["num_heads"],
        "decoder_hidden_size": VIT["decoder_embed_dim"],
        "decoder_depth": VIT["decoder_depth"],
        "decoder_num_heads": VIT["decoder_num_heads"],
        "mlp_ratio": float(VIT["mlp_ratio"]),
        "class_tokens": 1000,
        "cls_label": FACTS["tokenizer"]["n_embed"] + 1100 - 1024,
        "embed_dropout": 0.1,
    },
}
LABELS = TENSORS["labels"]
FORGET, RETAIN = torch.nonzero(LABELS < 100).flatten(), torch.nonzero(LABELS >= 100).flatten()
X01 = images(len(LABELS), 3, ARCH["image_size"])
X = X01 * 2 - 1  # iguln's images; the family converts them to MAGE's [0, 1]
MASK = TokenMask(TENSORS["masked"], TENSORS["dropped"])


def close(a: float, b: float, rel: float = 1e-5) -> bool:
    return a == pytest.approx(b, rel=rel, abs=1e-9)


def near(got: torch.Tensor, expected: torch.Tensor) -> bool:
    got = got.reshape(-1)[sample_positions(got.numel())]
    return torch.allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> dict[str, Path]:
    """The teacher's and the student's weights in MAGE's layout, written as MAGE saves them ({"model": ...})."""
    folder = tmp_path_factory.mktemp("mage")
    out = {}
    for role in ("teacher", "student"):
        state = {}
        for name, shape in FACTS["parameters"].items():
            value = filled(name, tuple(shape))
            state[name] = perturbed(name, value) if role == "student" and not name.startswith("vqgan.") else value
        out[role] = folder / f"{role}.pth"
        torch.save({"model": state}, out[role])
    return out


def generator(path: Path, pixel_range=(0.0, 1.0)) -> VQGAN:
    """iguln's vqgan generator, MAGE's weights imported from `path` as `model.pretrained` does."""
    options = OmegaConf.to_container(compose_config("train", ["model=vqgan"]).model)
    options |= {"block_masks": 0.0, "token_drop": True, "pixel_range": list(pixel_range)}
    model = VQGAN(ARCH, **{k: options[k] for k in VQGAN.options})
    model.load_pretrained(OmegaConf.create({"pretrained": str(path), "pretrained_tokenizer": None}))
    return model.eval()


def test_the_tokenizer_gives_mage_s_token_ids_only_in_its_pixel_range(checkpoint):
    model = generator(checkpoint["teacher"])
    assert model.pixel_space() == {"range": [0.0, 1.0]}
    assert torch.equal(model.tokenizer.encode_indices(X), TENSORS["token_ids"])
    wrong = generator(checkpoint["teacher"], pixel_range=(-1.0, 1.0))  # [-1, 1] fed to weights that expect [0, 1]
    same = (wrong.tokenizer.encode_indices(X) == TENSORS["token_ids"]).float().mean()
    assert same < 0.5, float(same)
    with torch.no_grad():  # decoded back to [0, 1] as MAGE writes clip(x * 255)
        decoded = model.tokenizer.decode_latents(model.tokenizer.lookup(TENSORS["token_ids"]))
    assert near((decoded + 1) / 2, TENSORS["decoded"])


def test_the_teacher_s_features_and_logits_are_mage_s(checkpoint):
    model = generator(checkpoint["teacher"])
    with torch.no_grad():
        features = model.encode(X, MASK)
        logits = model.output(X, MASK, full=True)
    assert list(features.shape) == FACTS["feature_shape"]  # 1 class token + the 128 tokens not dropped
    assert near(features, TENSORS["teacher/features"])
    assert near(logits, TENSORS["teacher/logits"])


def given_normals(monkeypatch, salt: int, full_shape: tuple) -> None:
    """The reference's draw for the whole batch; iguln draws for the forget images: their rows of it."""
    monkeypatch.setattr(seeding, "standard_normal", lambda shape, g: normals(full_shape, salt)[FORGET])


def loss_of(row: str, student: VQGAN, teacher: VQGAN):
    form = "reference" if row in ("noisy_label", "retain_label", "random_encoder") else "iguln"
    noise = "gaussian_scalar"
    objective = LOSSES.get(row).objective(alpha=FACTS["alpha"], noise=noise, form=form)
    weight = VQGAN.reference_weights.get(row, 1.0)
    step = Step((weight * len(FORGET) / len(X), weight * len(RETAIN) / len(X)), FORGET % len(RETAIN), X)
    return objective(student, teacher, X[FORGET], X[RETAIN], Masks(MASK[FORGET], MASK[RETAIN]), None, step)


@pytest.mark.parametrize("row", ["l2_noise", "max_loss", "noisy_label", "random_encoder", "retain_label"])
def test_each_row_s_loss_is_the_reference_s(row, checkpoint, monkeypatch):
    salts = FACTS["salts"]
    if row == "l2_noise":
        given_normals(monkeypatch, salts["noise"], tuple(X.shape))
    elif row == "noisy_label":
        given_normals(monkeypatch, salts["noisy_label"], (len(X), MASK.masked.shape[1]))
    elif row == "random_encoder":
        given_normals(monkeypatch, salts["random_encoder"], tuple(FACTS["feature_shape"]))
    student, teacher = generator(checkpoint["student"]), generator(checkpoint["teacher"])
    with torch.no_grad():
        total, _ = loss_of(row, student, teacher)
    assert close(float(total), FACTS["losses"][row]), (float(total), FACTS["losses"][row])


def test_the_released_baselines_forget_term_is_the_fixed_one(checkpoint, monkeypatch):
    """As released, RANDOM ENCODER and RETAIN LABEL weight their forget term by (1 + label): zero on the forget
    images. iguln's loss is the fixed one, which differs."""
    for row in ("random_encoder", "retain_label"):
        assert not close(FACTS["losses"][row], FACTS["losses_as_released"][row], 1e-3)


def test_one_adamw_step_of_ours_moves_what_mage_moves(checkpoint, monkeypatch):
    given_normals(monkeypatch, FACTS["salts"]["noise"], tuple(X.shape))
    student, teacher = generator(checkpoint["student"]), generator(checkpoint["teacher"])
    before = {k: v.clone() for k, v in student.transformer.state_dict().items()}
    params = freeze_all_but(student, "all")  # trainer.params=all: every trainable parameter, as main_unlearn.py
    recipe = Recipe(1, len(X), FACTS["lr"], (0.9, 0.95), FACTS["weight_decay"], 0, FACTS["grad_clip"],
                    schedule="constant", no_decay_1d=True)  # fmt: skip
    names = {id(p): n for n, p in student.named_parameters()}
    grads = {}

    def keep_gradients(group):  # runs after the backward pass, before clipping
        grads.update({n.removeprefix("transformer."): p.grad.clone() for n, p in student.named_parameters()
                      if p.grad is not None})  # fmt: skip

    history = fit(params, lambda: loss_of("l2_noise", student, teacher), recipe, torch.device("cpu"), "fp32",
                  average=keep_gradients, names=names)  # fmt: skip
    assert close(history["history"]["grad_norm"][0], FACTS["grad_norm"], 1e-4)
    after = student.transformer.state_dict()
    moved = sorted(k for k in before if not torch.equal(before[k], after[k]))
    assert moved == FACTS["moved"]
    for name in moved:
        grad = grads[name].reshape(-1)[sample_positions(grads[name].numel())]
        assert torch.allclose(grad, TENSORS[f"grad/{name}"], rtol=1e-3, atol=1e-9), name
        # Where a gradient is at float noise (the key biases' are 0 in exact arithmetic: softmax ignores them),
        # AdamW's first step is +-lr by that noise's sign; elsewhere it must agree.
        change = (after[name] - before[name]).reshape(-1)[sample_positions(after[name].numel())]
        decided = TENSORS[f"grad/{name}"].abs() > 1e-7
        assert torch.allclose(change[decided], TENSORS[f"step/{name}"][decided], atol=1e-6), name
    with torch.no_grad():
        after_step, _ = loss_of("l2_noise", student, teacher)
    assert close(float(after_step), FACTS["loss_after_step"]), (float(after_step), FACTS["loss_after_step"])


def test_the_imported_generator_survives_the_store_with_its_pixel_range(checkpoint, tmp_path):
    from iguln.models.storage import load_generator, save_generator

    model = generator(checkpoint["teacher"])
    save_generator(model, tmp_path / "original", role="original")
    loaded, _ = load_generator(tmp_path / "original")
    assert loaded.pixel_space() == {"range": [0.0, 1.0]}
    assert torch.equal(loaded.tokenizer.encode_indices(X), TENSORS["token_ids"])
    with torch.no_grad():
        assert torch.equal(loaded.encode(X, MASK), model.encode(X, MASK))
