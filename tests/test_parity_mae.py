"""facebookresearch/mae's MaskedAutoencoderViT (where the hub's facebook/vit-mae-* weights come from) against iguln's
MAE family, on the facts in tests/fixtures/parity/mae.safetensors (written by tools/parity/mae.py): the same
weights (fixture.filled in MAE's layout, converted to transformers' names as the hub's checkpoints were, saved
with save_pretrained and imported through `model.pretrained`), the same [0, 1] images, the same centre mask.

The checkpoint holds MAE's sin-cos position tables, as the hub's do; iguln's own, used for a checkpoint without
them, must equal them. The pixel scale comes from the checkpoint: ImageNet's mean and std, as MAE trains.
Tolerance: 1e-4 relative (1e-5 absolute), float32 on a CPU.
"""

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from transformers import ViTMAEConfig, ViTMAEForPreTraining

from iguln.data.masks import center_square
from iguln.models.families import resolve_model_config
from iguln.models.mae import MAE, mae_micro
from tests.conftest import compose_config
from tools.parity.fixture import filled, images, read, sample_positions

FIXTURE = Path(__file__).parent / "fixtures" / "parity" / "mae.safetensors"
TENSORS, FACTS = read(FIXTURE)
SPEC = FACTS["mae"]
PARTS = {"norm1": "layernorm_before", "norm2": "layernorm_after", "attn.proj": "attention.o_proj",
         "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}  # fmt: skip


def transformers_state(reference: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """MAE's names -> ViTMAEForPreTraining's (the fused qkv split into q, k, v), without the fixed position tables."""
    out = {
        "vit.embeddings.cls_token": reference["cls_token"],
        "vit.embeddings.patch_embeddings.projection.weight": reference["patch_embed.proj.weight"],
        "vit.embeddings.patch_embeddings.projection.bias": reference["patch_embed.proj.bias"],
        "vit.layernorm.weight": reference["norm.weight"],
        "vit.layernorm.bias": reference["norm.bias"],
        "decoder.mask_token": reference["mask_token"],
    }
    for name in ("decoder_embed", "decoder_norm", "decoder_pred"):
        for kind in ("weight", "bias"):
            out[f"decoder.{name}.{kind}"] = reference[f"{name}.{kind}"]
    for source, target, depth in (("blocks", "vit.layers", SPEC["depth"]),
                                  ("decoder_blocks", "decoder.decoder_layers", SPEC["decoder_depth"])):  # fmt: skip
        for i in range(depth):
            for kind in ("weight", "bias"):
                q, k, v = reference[f"{source}.{i}.attn.qkv.{kind}"].chunk(3)
                for part, tensor in (("q_proj", q), ("k_proj", k), ("v_proj", v)):
                    out[f"{target}.{i}.attention.{part}.{kind}"] = tensor
                for mine, theirs in PARTS.items():
                    out[f"{target}.{i}.{theirs}.{kind}"] = reference[f"{source}.{i}.{mine}.{kind}"]
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A save_pretrained folder of the fixture's weights (no preprocessor_config.json: ImageNet's scale then)."""
    reference = {name: filled(name, tuple(shape)) for name, shape in FACTS["parameters"].items()}
    config = ViTMAEConfig(
        image_size=SPEC["img_size"], patch_size=SPEC["patch_size"], num_channels=SPEC["in_chans"],
        hidden_size=SPEC["embed_dim"], num_hidden_layers=SPEC["depth"], num_attention_heads=SPEC["num_heads"],
        intermediate_size=int(SPEC["embed_dim"] * SPEC["mlp_ratio"]), decoder_hidden_size=SPEC["decoder_embed_dim"],
        decoder_num_hidden_layers=SPEC["decoder_depth"], decoder_num_attention_heads=SPEC["decoder_num_heads"],
        decoder_intermediate_size=int(SPEC["decoder_embed_dim"] * SPEC["mlp_ratio"]), layer_norm_eps=FACTS["eps"],
        hidden_act="gelu", qkv_bias=True, norm_pix_loss=False,
    )  # fmt: skip
    net = ViTMAEForPreTraining(config)
    tables = {
        "vit.embeddings.position_embeddings": TENSORS["pos_embed"],
        "decoder.decoder_pos_embed": TENSORS["decoder_pos_embed"],
    }
    net.load_state_dict(transformers_state(reference) | tables, strict=True)  # MAE's tables, as the hub's files hold
    folder = tmp_path_factory.mktemp("mae") / "checkpoint"
    net.save_pretrained(folder)
    return folder


def imported(folder: Path) -> MAE:
    cfg = compose_config("train", ["model=mae", f"model.pretrained={folder}"]).model
    cfg = resolve_model_config(cfg, 3)
    options = OmegaConf.to_container(cfg, resolve=True)
    model = MAE(options["arch"], **{k: options[k] for k in MAE.options})
    model.load_pretrained(cfg)
    return model.eval()


def patchified(pixels: torch.Tensor, patch: int) -> torch.Tensor:
    """[B, C, H, W] -> MAE's patch layout [B, L, p * p * C] ('nchpwq->nhwpqc')."""
    b, c, h, w = pixels.shape
    x = pixels.reshape(b, c, h // patch, patch, w // patch, patch)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(b, (h // patch) * (w // patch), patch * patch * c)


def test_the_released_mae_sees_what_it_was_trained_on(checkpoint):
    model = imported(checkpoint)
    assert model.pixel_space() == {"mean": FACTS["imagenet"][0], "std": FACTS["imagenet"][1]}
    x = images(len(TENSORS["mask"]), 3, SPEC["img_size"]) * 2 - 1
    mask = center_square(SPEC["img_size"], 0.5)
    assert torch.equal(model.patch_mask(mask, len(x)).float(), TENSORS["mask"])
    with torch.no_grad():
        latent = model.encode(x, mask)
        pixels = model._predict_net(model._to_net(x), model.patch_mask(mask, len(x)))
        loss = model.native_loss(x, mask)
    assert torch.allclose(latent, TENSORS["latent"], rtol=1e-4, atol=1e-5), float(
        (latent - TENSORS["latent"]).abs().max()
    )
    pred = patchified(pixels, SPEC["patch_size"])
    assert list(pred.shape) == FACTS["pred_shape"]
    got = pred.reshape(-1)[sample_positions(pred.numel())]
    assert torch.allclose(got, TENSORS["pred"], rtol=1e-4, atol=1e-5), float((got - TENSORS["pred"]).abs().max())
    assert float(loss) == pytest.approx(FACTS["loss"], rel=1e-5)


def test_iguln_s_position_tables_are_mae_s():
    grid = SPEC["img_size"] // SPEC["patch_size"]
    sizes = {"image_size": SPEC["img_size"], "patch_size": SPEC["patch_size"], "hidden_size": SPEC["embed_dim"],
             "decoder_hidden_size": SPEC["decoder_embed_dim"], "num_channels": 3}  # fmt: skip
    model = MAE({**mae_micro(), **sizes})
    assert model.grid == grid
    assert torch.allclose(model.net.vit.embeddings.position_embeddings, TENSORS["pos_embed"], atol=1e-6)
    assert torch.allclose(model.net.decoder.decoder_pos_embed, TENSORS["decoder_pos_embed"], atol=1e-6)


def test_the_imported_generator_survives_the_store_with_its_pixel_scale(checkpoint, tmp_path):
    from iguln.models.storage import load_generator, save_generator

    model = imported(checkpoint)
    save_generator(model, tmp_path / "original", role="original")
    loaded, _ = load_generator(tmp_path / "original")
    assert loaded.pixel_space() == model.pixel_space()
    x, mask = images(len(TENSORS["mask"]), 3, SPEC["img_size"]) * 2 - 1, center_square(SPEC["img_size"], 0.5)
    with torch.no_grad():
        assert torch.allclose(loaded.encode(x, mask), TENSORS["latent"], rtol=1e-4, atol=1e-5)
