"""MAGE's released weights -> iguln's VQ-GAN family, through an explicit key map.

Reference layouts (jpmorganchase/i2i_mage, branch i2i): `models_mage.py` (the MAGE ViT; its checkpoint holds
{"model": state_dict}, the tokenizer under "vqgan.") and `taming/` as modified for MaskGIT's JAX-converted
VQ-GAN (no attention, bias-free 3x3 convolutions, average-pool downsampling, a 1x1 encoder output, and a
channel-changing shortcut applied to the residual branch: out = nin(h) + h).

The transformer keeps MAGE's names, so its map is one to one. The tokenizer maps onto diffusers' VQModel exactly
by construction: missing biases are zero, average pooling becomes a stride-2 convolution with a 2x2 kernel of
0.25, `out = nin(h) + h` folds into conv2 (W2' = (I + N) W2) with a zero shortcut, the 1x1 encoder output sits at
the centre of a 3x3 kernel, quant_conv / post_quant_conv are identities, and diffusers' extra decoder resnet per
level (it builds layers_per_block + 1) is an identity (zero conv2).
"""

from __future__ import annotations

import torch

from iguln.core.errors import MissingArtefactError
from iguln.models.vqgan.tokenizer import Tokenizer
from iguln.models.vqgan.transformer import TokenTransformer
from iguln.models.weights import check_keys as _check
from iguln.models.weights import check_shapes as _shape_check

# Parameters of MAGE's model that its forward pass never uses (pixel head, fixed sin-cos tables, ...).
UNUSED_MAGE_KEYS = {
    "patch_embed.proj.weight",
    "patch_embed.proj.bias",
    "cls_token",
    "pos_embed",
    "mask_token",
    "decoder_pos_embed",
    "decoder_pred.weight",
    "decoder_pred.bias",
    "token_emb.position_ids",
}
RESNET = ("norm1.weight", "norm1.bias", "conv1.weight", "norm2.weight", "norm2.bias", "conv2.weight")


def mage_transformer_state(reference: dict[str, torch.Tensor], transformer: TokenTransformer) -> dict:
    """MAGE ViT weights (its own names, tokenizer keys removed) -> iguln's TokenTransformer state dict."""
    target = transformer.state_dict()
    _check(set(reference), set(target), UNUSED_MAGE_KEYS, "the MAGE checkpoint")
    state = {k: reference[k] for k in target}
    _shape_check(state, target, "the MAGE checkpoint")
    return state


def _resnet_keys(prefix: str, changes_channels: bool) -> list[str]:
    return [f"{prefix}.{name}" for name in RESNET] + ([f"{prefix}.nin_shortcut.weight"] if changes_channels else [])


def _resnet(ref: dict, src: str, dst: str, changes_channels: bool, out: dict) -> None:
    """One reference ResnetBlock -> one diffusers ResnetBlock2D (bias-free convs; nin(h) + h folded into conv2)."""
    conv2 = ref[f"{src}.conv2.weight"]
    for name in ("norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "conv1.weight"):
        out[f"{dst}.{name}"] = ref[f"{src}.{name}"]
    out[f"{dst}.conv1.bias"] = torch.zeros(conv2.shape[0])
    out[f"{dst}.conv2.bias"] = torch.zeros(conv2.shape[0])
    if changes_channels:
        mix = torch.eye(conv2.shape[0]) + ref[f"{src}.nin_shortcut.weight"][:, :, 0, 0]
        out[f"{dst}.conv2.weight"] = torch.einsum("om,mikl->oikl", mix, conv2)
        in_channels = ref[f"{src}.conv1.weight"].shape[1]
        out[f"{dst}.conv_shortcut.weight"] = torch.zeros(conv2.shape[0], in_channels, 1, 1)
        out[f"{dst}.conv_shortcut.bias"] = torch.zeros(conv2.shape[0])
    else:
        out[f"{dst}.conv2.weight"] = conv2


def _identity_resnet(channels: int, template: dict, dst: str, out: dict) -> None:
    """A diffusers ResnetBlock2D that returns its input: the residual branch ends in an all-zero conv2."""
    for name, value in template.items():
        if name.startswith(f"{dst}."):
            out[name] = torch.zeros_like(value) if "conv" in name else value.clone()
    out[f"{dst}.norm1.weight"] = torch.ones(channels)
    out[f"{dst}.norm2.weight"] = torch.ones(channels)


def maskgit_tokenizer_state(reference: dict[str, torch.Tensor], tokenizer: Tokenizer) -> dict:
    """MaskGIT's VQ-GAN in MAGE's taming layout -> iguln's Tokenizer (diffusers VQModel) state dict."""
    vq = tokenizer.vq
    channels = list(vq.config.block_out_channels)
    layers, levels = vq.config.layers_per_block, len(channels)
    expected = {
        "encoder.conv_in.weight",
        "encoder.norm_out.weight",
        "encoder.norm_out.bias",
        "encoder.conv_out.weight",
        "encoder.conv_out.bias",
        "decoder.conv_in.weight",
        "decoder.conv_in.bias",
        "decoder.norm_out.weight",
        "decoder.norm_out.bias",
        "decoder.conv_out.weight",
        "decoder.conv_out.bias",
        "quantize.embedding.weight",
    }
    for part in ("encoder", "decoder"):
        expected |= {k for b in ("block_1", "block_2") for k in _resnet_keys(f"{part}.mid.{b}", False)}
    block_in = channels[0]
    for level, width in enumerate(channels):
        for j in range(layers):
            expected |= set(_resnet_keys(f"encoder.down.{level}.block.{j}", (block_in if j == 0 else width) != width))
        block_in = width
    block_in = channels[-1]
    for level in reversed(range(levels)):
        for j in range(layers):
            changes = (block_in if j == 0 else channels[level]) != channels[level]
            expected |= set(_resnet_keys(f"decoder.up.{level}.block.{j}", changes))
        block_in = channels[level]
        if level != 0:
            expected |= {f"decoder.up.{level}.upsample.conv.weight", f"decoder.up.{level}.upsample.conv.bias"}
    _check(set(reference), expected, set(), "the VQ-GAN tokenizer checkpoint")

    target = {k: v for k, v in tokenizer.state_dict().items()}
    out: dict[str, torch.Tensor] = {}
    ref = reference
    out["vq.encoder.conv_in.weight"] = ref["encoder.conv_in.weight"]
    out["vq.encoder.conv_in.bias"] = torch.zeros(channels[0])
    block_in = channels[0]
    for level, width in enumerate(channels):
        for j in range(layers):
            src_in = block_in if j == 0 else width
            _resnet(
                ref,
                f"encoder.down.{level}.block.{j}",
                f"vq.encoder.down_blocks.{level}.resnets.{j}",
                src_in != width,
                out,
            )
        block_in = width
        if level != levels - 1:
            pool = torch.zeros(width, width, 3, 3)
            pool[torch.arange(width), torch.arange(width), :2, :2] = 0.25  # 2x2 average pooling, stride 2
            out[f"vq.encoder.down_blocks.{level}.downsamplers.0.conv.weight"] = pool
            out[f"vq.encoder.down_blocks.{level}.downsamplers.0.conv.bias"] = torch.zeros(width)
    for i, block in enumerate(("block_1", "block_2")):
        _resnet(ref, f"encoder.mid.{block}", f"vq.encoder.mid_block.resnets.{i}", False, out)
        _resnet(ref, f"decoder.mid.{block}", f"vq.decoder.mid_block.resnets.{i}", False, out)
    out["vq.encoder.conv_norm_out.weight"] = ref["encoder.norm_out.weight"]
    out["vq.encoder.conv_norm_out.bias"] = ref["encoder.norm_out.bias"]
    conv_out = ref["encoder.conv_out.weight"]
    centred = torch.zeros(conv_out.shape[0], conv_out.shape[1], 3, 3)
    centred[:, :, 1, 1] = conv_out[:, :, 0, 0]
    out["vq.encoder.conv_out.weight"] = centred
    out["vq.encoder.conv_out.bias"] = ref["encoder.conv_out.bias"]
    latent = conv_out.shape[0]
    for name in ("quant_conv", "post_quant_conv"):
        out[f"vq.{name}.weight"] = torch.eye(latent).view(latent, latent, 1, 1)
        out[f"vq.{name}.bias"] = torch.zeros(latent)
    out["vq.quantize.embedding.weight"] = ref["quantize.embedding.weight"]
    out["vq.decoder.conv_in.weight"] = ref["decoder.conv_in.weight"]
    out["vq.decoder.conv_in.bias"] = ref["decoder.conv_in.bias"]
    block_in = channels[-1]
    for k, level in enumerate(reversed(range(levels))):
        width = channels[level]
        for j in range(layers):
            src_in = block_in if j == 0 else width
            _resnet(ref, f"decoder.up.{level}.block.{j}", f"vq.decoder.up_blocks.{k}.resnets.{j}", src_in != width, out)
        _identity_resnet(width, target, f"vq.decoder.up_blocks.{k}.resnets.{layers}", out)
        block_in = width
        if level != 0:
            out[f"vq.decoder.up_blocks.{k}.upsamplers.0.conv.weight"] = ref[f"decoder.up.{level}.upsample.conv.weight"]
            out[f"vq.decoder.up_blocks.{k}.upsamplers.0.conv.bias"] = ref[f"decoder.up.{level}.upsample.conv.bias"]
    out["vq.decoder.conv_norm_out.weight"] = ref["decoder.norm_out.weight"]
    out["vq.decoder.conv_norm_out.bias"] = ref["decoder.norm_out.bias"]
    out["vq.decoder.conv_out.weight"] = ref["decoder.conv_out.weight"]
    out["vq.decoder.conv_out.bias"] = ref["decoder.conv_out.bias"]
    left = sorted(set(target) - set(out))
    if left:
        raise MissingArtefactError(f"this tokenizer architecture cannot take MaskGIT's VQ-GAN: {', '.join(left[:10])}")
    _shape_check(out, target, "the VQ-GAN tokenizer checkpoint")
    return {k: out[k] for k in target}


def split_mage_checkpoint(state: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """A MAGE checkpoint -> (transformer part, tokenizer part from its "vqgan." keys; empty if it has none)."""
    tokenizer = {k.removeprefix("vqgan."): v for k, v in state.items() if k.startswith("vqgan.")}
    transformer = {k: v for k, v in state.items() if not k.startswith("vqgan.")}
    return transformer, tokenizer
