"""Palette's diffusion unlearning (the reference code) against iguln's diffusion family, on the facts in
tests/fixtures/parity/palette.safetensors (written by tools/parity/palette.py): the same weights (fixture.filled, in
Palette's layout, imported through iguln's key map), the same batch, noise levels and noise.

Tolerances: outputs 1e-4 relative (1e-5 absolute), losses 1e-5 relative, the step 1e-3 relative (float32 on a CPU;
the two networks sum the same terms in other orders; measured: at most 4e-6 absolute on the features, 2e-7
relative on the losses).
"""

from pathlib import Path

import pytest
import torch

from iguln.core import seeding
from iguln.models.diffusion import Diffusion
from iguln.models.diffusion.reference import palette_unet_state
from iguln.models.diffusion.unet import encoder_features, predict_noise
from iguln.training.engine import fit
from iguln.training.recipe import Recipe
from iguln.unlearn.losses import LOSSES
from iguln.unlearn.objective import Masks, Step
from iguln.unlearn.unlearning import freeze_all_but
from tools.parity.fixture import filled, images, normals, perturbed, read, sample_positions

FIXTURE = Path(__file__).parent / "fixtures" / "parity" / "palette.safetensors"
TENSORS, FACTS = read(FIXTURE)
UNET = FACTS["unet"]
ARCH = {
    "image_size": UNET["image_size"],
    "inner_channel": UNET["inner_channel"],
    "channel_mults": UNET["channel_mults"],
    "res_blocks": UNET["res_blocks"],
    "attn_res": UNET["attn_res"],
    "num_head_channels": UNET["num_head_channels"],
    "norm_num_groups": 32,  # Palette's GroupNorm32
    "dropout": UNET["dropout"],
    "num_channels": 3,
}
SCHEDULE = FACTS["schedule"]
NORMALS = 5000
# Palette's top-level parts -> iguln's (diffusers) modules
PARTS = {
    "cond_embed": ("time_embedding",),
    "input_blocks": ("conv_in", "down_blocks"),
    "middle_block": ("mid_block",),
    "output_blocks": ("up_blocks",),
    "out": ("conv_norm_out", "conv_out"),
}


def close(a: float, b: float, rel: float = 1e-5) -> bool:
    return a == pytest.approx(b, rel=rel, abs=1e-9)


def generator(student: bool) -> Diffusion:
    """iguln's diffusion generator with the fixture's weights (the student's: perturbed), through the key map."""
    model = Diffusion(ARCH, {"steps": SCHEDULE["n_timestep"], "beta_start": 1e-6, "beta_end": 0.01})
    state = {}
    for name, shape in FACTS["parameters"].items():
        value = filled(f"denoise_fn.{name}", tuple(shape))
        state[f"denoise_fn.{name}"] = perturbed(f"denoise_fn.{name}", value) if student else value
    model.unet.load_state_dict(palette_unet_state(state, ARCH, "fixture", model.unet.state_dict()))
    return model.eval()


def batch():
    labels = TENSORS["labels"]
    forget, retain = torch.nonzero(labels < 0).flatten(), torch.nonzero(labels > 0).flatten()
    x = images(len(labels), 3, ARCH["image_size"]) * 2 - 1
    probe = {"gamma": TENSORS["gamma"], "noise": TENSORS["noise"], "hole": TENSORS["hole"]}
    return x, TENSORS["mask"], probe, forget, retain


def rows(probe: dict, index: torch.Tensor) -> dict:
    return {k: v[index] for k, v in probe.items()}


def given_probes(model: Diffusion, x: torch.Tensor, probe: dict) -> None:
    """The model's encode_probe returns the fixture's draw for whichever images of the batch it gets."""

    def encode_probe(images, generator=None):
        index = torch.tensor([next(i for i in range(len(x)) if torch.equal(x[i], image)) for image in images])
        return rows(probe, index)

    model.encode_probe = encode_probe


def test_the_teacher_predicts_palettes_noise_and_features():
    teacher = generator(student=False)
    x, mask, probe, _, _ = batch()
    sample = teacher._noisy_input(x, mask, probe)
    with torch.no_grad():
        eps = predict_noise(teacher.unet, sample, probe["gamma"])
        features = encoder_features(teacher.unet, sample, probe["gamma"])[0]
    assert [list(f.shape) for f in features] == FACTS["feature_shapes"]
    expected = TENSORS["teacher/eps"]
    got = eps.reshape(-1)[sample_positions(eps.numel())]
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5), float((got - expected).abs().max())
    for i, f in enumerate(features):
        got = f.reshape(-1)[sample_positions(f.numel())]
        assert torch.allclose(got, TENSORS[f"teacher/features/{i}"], rtol=1e-4, atol=1e-5), (
            i,
            float((got - TENSORS[f"teacher/features/{i}"]).abs().max()),
        )


def loss_of(row: str, student: Diffusion, teacher: Diffusion):
    x, mask, probe, forget, retain = batch()
    for model in (student, teacher):
        given_probes(model, x, probe)
    form = "reference" if row in ("noisy_label", "retain_label", "random_encoder") else "iguln"
    objective = LOSSES.get(row).objective(alpha=FACTS["alpha"], noise="gaussian", form=form)
    weight = Diffusion.reference_weights.get(row, 1.0)
    step = Step((weight * len(forget) / len(x), weight * len(retain) / len(x)), forget % len(retain), x)
    masks = Masks(mask[forget], mask[retain])
    return objective(student, teacher, x[forget], x[retain], masks, torch.Generator().manual_seed(0), step)


@pytest.mark.parametrize("row", ["l2_noise", "max_loss", "noisy_label", "random_encoder", "retain_label"])
def test_each_row_s_loss_is_the_reference_s(row, monkeypatch):
    if row == "random_encoder":  # the reference's k-th random feature map, at the forget images' rows
        calls = iter(range(NORMALS, NORMALS + 100))
        shapes = iter(FACTS["feature_shapes"])
        forget = batch()[3]
        monkeypatch.setattr(
            seeding, "standard_normal", lambda shape, g: normals(tuple(next(shapes)), next(calls))[forget]
        )
    student, teacher = generator(student=True), generator(student=False)
    with torch.no_grad():
        total, _ = loss_of(row, student, teacher)
    assert close(float(total), FACTS["losses"][row]), (float(total), FACTS["losses"][row])


def test_one_adam_step_of_ours_moves_what_palette_moves():
    student, teacher = generator(student=True), generator(student=False)
    before = {k: v.clone() for k, v in student.unet.state_dict().items()}
    params = freeze_all_but(student, "all")  # trainer.params=all: every parameter of the network, as Palette's
    recipe = Recipe(1, 4, FACTS["lr"], (0.9, 0.999), 0.0, 0, None, schedule="constant")
    grads = {}

    def step():
        loss, terms = loss_of("l2_noise", student, teacher)
        return loss, terms

    def keep_gradients(group):
        for name, p in student.unet.named_parameters():
            if p.grad is not None:
                grads[name] = p.grad.clone()

    fit(params, step, recipe, torch.device("cpu"), "fp32", average=keep_gradients)
    after = student.unet.state_dict()
    for part, modules in PARTS.items():
        gradient = sum(float((g**2).sum()) for n, g in grads.items() if n.split(".")[0] in modules)
        moved = sum(float(((after[k] - before[k]) ** 2).sum()) for k in before if k.split(".")[0] in modules)
        assert close(gradient, FACTS["gradient_norms"][part], 1e-3), (part, gradient, FACTS["gradient_norms"][part])
        assert close(moved, FACTS["step_norms"][part], 1e-3), (part, moved, FACTS["step_norms"][part])
    with torch.no_grad():
        after_step, _ = loss_of("l2_noise", student, teacher)
    assert close(float(after_step), FACTS["loss_after_step"]), (float(after_step), FACTS["loss_after_step"])


def test_the_imported_generator_survives_the_store(tmp_path):
    from iguln.models.storage import load_generator, save_generator

    model = generator(student=False)
    save_generator(model, tmp_path / "original", role="original")
    loaded, _ = load_generator(tmp_path / "original")
    x, mask, probe, _, _ = batch()
    with torch.no_grad():
        eps = predict_noise(loaded.unet, loaded._noisy_input(x, mask, probe), probe["gamma"])
    got = eps.reshape(-1)[sample_positions(eps.numel())]
    assert torch.allclose(got, TENSORS["teacher/eps"], rtol=1e-4, atol=1e-5)
