"""MAGE's released layout -> iguln's VQ-GAN family: a state dict built here in the reference layout (same names
and shapes, random values) loads through the key map and computes what the reference computes."""

import argparse
import json

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from iguln.core.errors import MissingArtefactError
from iguln.models.vqgan import VQGAN
from iguln.models.vqgan.family import _arch
from tests.conftest import compose_config

CHANNELS, LAYERS, LATENT, CODES, GROUPS = [32, 64], 2, 16, 64, 32


def mage_like_arch() -> dict:
    """A small architecture of MAGE's shape: 2 resnets per level, no attention, 1,000 class tokens."""
    return {**_arch(16, CHANNELS, LAYERS, LATENT, CODES, GROUPS, 32, 2, 2, 32, 1, 2, 1000, 1100), "num_channels": 3}


def build_model() -> VQGAN:
    options = OmegaConf.to_container(compose_config("train", ["model=vqgan"]).model)
    return VQGAN(mage_like_arch(), **{k: options[k] for k in VQGAN.options})


def rnd(*shape):
    return torch.randn(*shape) * 0.1


def resnet(prefix: str, c_in: int, c_out: int) -> dict:
    sd = {
        f"{prefix}.norm1.weight": 1 + rnd(c_in),
        f"{prefix}.norm1.bias": rnd(c_in),
        f"{prefix}.conv1.weight": rnd(c_out, c_in, 3, 3),
        f"{prefix}.norm2.weight": 1 + rnd(c_out),
        f"{prefix}.norm2.bias": rnd(c_out),
        f"{prefix}.conv2.weight": rnd(c_out, c_out, 3, 3),
    }
    if c_in != c_out:
        sd[f"{prefix}.nin_shortcut.weight"] = rnd(c_out, c_out, 1, 1)
    return sd


def reference_tokenizer(channels=CHANNELS, layers=LAYERS, latent=LATENT, codes=CODES, image_channels=3) -> dict:
    """The JAX-converted VQ-GAN in MAGE's taming layout (names and shapes), random values."""
    CHANNELS, LAYERS, LATENT, CODES = channels, layers, latent, codes  # noqa: N806 - the same names as above
    sd = {"encoder.conv_in.weight": rnd(CHANNELS[0], image_channels, 3, 3)}
    block_in = CHANNELS[0]
    for level, width in enumerate(CHANNELS):
        for j in range(LAYERS):
            sd |= resnet(f"encoder.down.{level}.block.{j}", block_in, width)
            block_in = width
    for part in ("encoder", "decoder"):
        for b in ("block_1", "block_2"):
            sd |= resnet(f"{part}.mid.{b}", CHANNELS[-1], CHANNELS[-1])
    sd |= {
        "encoder.norm_out.weight": 1 + rnd(CHANNELS[-1]),
        "encoder.norm_out.bias": rnd(CHANNELS[-1]),
        "encoder.conv_out.weight": rnd(LATENT, CHANNELS[-1], 1, 1),
        "encoder.conv_out.bias": rnd(LATENT),
        "quantize.embedding.weight": torch.randn(CODES, LATENT),
        "decoder.conv_in.weight": rnd(CHANNELS[-1], LATENT, 3, 3),
        "decoder.conv_in.bias": rnd(CHANNELS[-1]),
    }
    block_in = CHANNELS[-1]
    for level in reversed(range(len(CHANNELS))):
        for j in range(LAYERS):
            sd |= resnet(f"decoder.up.{level}.block.{j}", block_in, CHANNELS[level])
            block_in = CHANNELS[level]
        if level != 0:
            sd |= {
                f"decoder.up.{level}.upsample.conv.weight": rnd(block_in, block_in, 3, 3),
                f"decoder.up.{level}.upsample.conv.bias": rnd(block_in),
            }
    sd |= {
        "decoder.norm_out.weight": 1 + rnd(CHANNELS[0]),
        "decoder.norm_out.bias": rnd(CHANNELS[0]),
        "decoder.conv_out.weight": rnd(image_channels, CHANNELS[0], 3, 3),
        "decoder.conv_out.bias": rnd(image_channels),
    }
    return sd


def reference_checkpoint(transformer_state: dict, tokenizer: dict | None = None) -> dict:
    """A MAGE checkpoint: the ViT under its own names (plus the parameters its forward never uses) and the
    tokenizer under "vqgan."."""
    sd = {k: torch.randn_like(v) for k, v in transformer_state.items()}
    d, dd = 32, 32
    sd |= {
        "patch_embed.proj.weight": rnd(d, 3, 16, 16),
        "patch_embed.proj.bias": rnd(d),
        "cls_token": rnd(1, 1, d),
        "pos_embed": rnd(1, 5, d),
        "mask_token": rnd(1, 1, dd),
        "decoder_pos_embed": rnd(1, 5, dd),
        "decoder_pred.weight": rnd(768, dd),
        "decoder_pred.bias": rnd(768),
        "token_emb.position_ids": torch.arange(5).view(1, -1),
    }
    return sd | {f"vqgan.{k}": v for k, v in (tokenizer or reference_tokenizer()).items()}


# -- the reference computation, written from the layout's description ------------------------------------------


def ref_resnet(x, sd, p):
    h = F.conv2d(
        F.silu(F.group_norm(x, GROUPS, sd[f"{p}.norm1.weight"], sd[f"{p}.norm1.bias"], 1e-6)),
        sd[f"{p}.conv1.weight"],
        padding=1,
    )
    h = F.conv2d(
        F.silu(F.group_norm(h, GROUPS, sd[f"{p}.norm2.weight"], sd[f"{p}.norm2.bias"], 1e-6)),
        sd[f"{p}.conv2.weight"],
        padding=1,
    )
    return F.conv2d(h, sd[f"{p}.nin_shortcut.weight"]) + h if f"{p}.nin_shortcut.weight" in sd else x + h


def ref_encode(x, sd):
    h = F.conv2d(x, sd["encoder.conv_in.weight"], padding=1)
    for level in range(len(CHANNELS)):
        for j in range(LAYERS):
            h = ref_resnet(h, sd, f"encoder.down.{level}.block.{j}")
        if level != len(CHANNELS) - 1:
            h = F.avg_pool2d(h, 2)
    h = ref_resnet(ref_resnet(h, sd, "encoder.mid.block_1"), sd, "encoder.mid.block_2")
    h = F.silu(F.group_norm(h, GROUPS, sd["encoder.norm_out.weight"], sd["encoder.norm_out.bias"], 1e-6))
    return F.conv2d(h, sd["encoder.conv_out.weight"], sd["encoder.conv_out.bias"])


def ref_decode(z, sd):
    h = F.conv2d(z, sd["decoder.conv_in.weight"], sd["decoder.conv_in.bias"], padding=1)
    h = ref_resnet(ref_resnet(h, sd, "decoder.mid.block_1"), sd, "decoder.mid.block_2")
    for level in reversed(range(len(CHANNELS))):
        for j in range(LAYERS):
            h = ref_resnet(h, sd, f"decoder.up.{level}.block.{j}")
        if level != 0:
            h = F.conv2d(
                F.interpolate(h, scale_factor=2.0, mode="nearest"),
                sd[f"decoder.up.{level}.upsample.conv.weight"],
                sd[f"decoder.up.{level}.upsample.conv.bias"],
                padding=1,
            )
    h = F.silu(F.group_norm(h, GROUPS, sd["decoder.norm_out.weight"], sd["decoder.norm_out.bias"], 1e-6))
    return F.conv2d(h, sd["decoder.conv_out.weight"], sd["decoder.conv_out.bias"], padding=1)


def save_checkpoint(tmp_path, state, name="mage.pth"):
    path = tmp_path / name
    torch.save({"model": state, "epoch": 1600, "args": argparse.Namespace(model="mage_vit_base_patch16")}, path)
    return path


def model_cfg(path, tokenizer=None):
    return OmegaConf.create({"pretrained": str(path), "pretrained_tokenizer": str(tokenizer) if tokenizer else None})


@pytest.fixture
def reference(tmp_path):
    torch.manual_seed(0)
    state = reference_checkpoint(build_model().transformer.state_dict())
    return state, save_checkpoint(tmp_path, state)


def test_mage_checkpoint_loads_and_computes_what_the_reference_computes(reference):
    state, path = reference
    model = build_model().eval()
    loaded = model.load_pretrained(model_cfg(path))
    assert loaded["transformer"] == str(path)
    for key, value in model.transformer.state_dict().items():
        assert torch.equal(value, state[key]), key
    tokenizer = {k.removeprefix("vqgan."): v for k, v in state.items() if k.startswith("vqgan.")}
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(model.tokenizer.latents(x), ref_encode(x, tokenizer), atol=1e-4)
        z = torch.randn(2, LATENT, 8, 8)
        assert torch.allclose(model.tokenizer.decode_latents(z), ref_decode(z, tokenizer), atol=1e-4)
    assert torch.equal(model.tokenizer.codebook, tokenizer["quantize.embedding.weight"])


def test_a_separate_tokenizer_checkpoint(reference, tmp_path):
    state, _ = reference
    transformer_only = {k: v for k, v in state.items() if not k.startswith("vqgan.")}
    tokenizer = {k.removeprefix("vqgan."): v for k, v in state.items() if k.startswith("vqgan.")}
    main = save_checkpoint(tmp_path, transformer_only, "vit.pth")
    with pytest.raises(MissingArtefactError, match="model.pretrained_tokenizer=PATH"):
        build_model().load_pretrained(model_cfg(main))
    torch.save({"state_dict": tokenizer}, tmp_path / "vqgan.ckpt")
    model = build_model()
    model.load_pretrained(model_cfg(main, tmp_path / "vqgan.ckpt"))
    assert torch.equal(model.tokenizer.codebook, tokenizer["quantize.embedding.weight"])


def test_missing_and_unknown_keys_are_listed(reference, tmp_path):
    state, _ = reference
    broken = dict(state)
    del broken["blocks.0.attn.qkv.weight"]
    broken["blocks.0.attn.extra"] = torch.zeros(1)
    with pytest.raises(MissingArtefactError, match=r"missing keys \(1\): blocks.0.attn.qkv.weight") as err:
        build_model().load_pretrained(model_cfg(save_checkpoint(tmp_path, broken, "b.pth")))
    assert "unknown keys (1): blocks.0.attn.extra" in str(err.value)
    broken = dict(state)
    del broken["vqgan.encoder.down.1.block.0.nin_shortcut.weight"]
    with pytest.raises(MissingArtefactError, match="missing keys.*nin_shortcut"):
        build_model().load_pretrained(model_cfg(save_checkpoint(tmp_path, broken, "c.pth")))


def test_wrong_shapes_are_listed(reference, tmp_path):
    state, _ = reference
    broken = dict(state)
    broken["norm.weight"] = torch.zeros(7)
    with pytest.raises(MissingArtefactError, match=r"norm.weight \(7,\) \(expected \(32,\)\)"):
        build_model().load_pretrained(model_cfg(save_checkpoint(tmp_path, broken, "d.pth")))


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"model": {"x": torch.zeros(1)}, "hook": object()}, tmp_path / "evil.pth")
    with pytest.raises(MissingArtefactError, match="could not be read as weights"):
        build_model().load_pretrained(model_cfg(tmp_path / "evil.pth"))


def test_the_command_line_imports_released_weights_into_the_store(tmp_path):
    """`iguln pretrain` / `iguln train` with model.pretrained: the original comes from the file, not training."""
    from iguln.cli import main
    from iguln.models.vqgan.family import vqgan_micro

    arch = vqgan_micro()
    micro = VQGAN(
        {**arch, "num_channels": 1},
        **{k: OmegaConf.to_container(compose_config("train", ["model=vqgan"]).model)[k] for k in VQGAN.options},
    )
    t = arch["tokenizer"]
    tokenizer = reference_tokenizer(
        t["block_out_channels"], t["layers_per_block"], t["latent_channels"], t["codebook_size"], image_channels=1
    )
    path = save_checkpoint(tmp_path, reference_checkpoint(micro.transformer.state_dict(), tokenizer))
    outputs = tmp_path / "outputs"
    common = ["experiment=smoke", f"paths.outputs={outputs}", f"model.pretrained={path}"]
    main(["pretrain", *common, f"hydra.run.dir={tmp_path / 'p'}"])
    entry = next((outputs / "store" / "original").iterdir())
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["source"] == "released weights" and manifest["pretrained"]["transformer"]["path"] == str(path)
    assert "training" not in manifest
    main(["train", *common, f"hydra.run.dir={tmp_path / 't'}"])
    record = json.loads((tmp_path / "t" / "results.json").read_text())
    assert record["status"] == "complete" and record["models"]["original"]["path"] == str(entry)
