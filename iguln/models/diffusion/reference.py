"""Palette's released network -> iguln's diffusers UNet, through an explicit key map.

Reference layout (jpmorganchase/i2i_Palette-Image-to-Image-Diffusion-Models, branch i2i,
`models/guided_diffusion_modules/unet.py`): a checkpoint `<epoch>_Network.pth` is a plain state dict of the whole
network, the UNet under `denoise_fn.` (the noise-schedule buffers beside it are not weights and are dropped).
`cond_embed.{0,2}` is the noise-level MLP; `input_blocks.0.0` the first convolution; then per level `res_blocks`
entries `input_blocks.k` = (ResBlock[, AttentionBlock]) and, below the last level, a downsampling ResBlock;
`middle_block` = (ResBlock, AttentionBlock, ResBlock); per level from the deepest `res_blocks + 1` entries
`output_blocks.k` = (ResBlock[, AttentionBlock][, upsampling ResBlock on the last entry of levels > 0]); `out.{0,2}`
the output norm and convolution. Attention's fused `qkv` (a 1-D convolution, [3C, C, 1]) is ordered head by head
(q, k, v of one head, then the next: guided-diffusion's "legacy" order) and is split into to_q, to_k, to_v.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from iguln.models.diffusion.unet import build_unet
from iguln.models.weights import check_keys, check_shapes

RESNET = {
    "in_layers.0": "norm1",
    "in_layers.2": "conv1",
    "emb_layers.1": "time_emb_proj",
    "out_layers.0": "norm2",
    "out_layers.3": "conv2",
    "skip_connection": "conv_shortcut",
}
PLAIN = {"cond_embed.0": "time_embedding.linear_1", "cond_embed.2": "time_embedding.linear_2"}
PLAIN |= {"input_blocks.0.0": "conv_in", "out.0": "conv_norm_out", "out.2": "conv_out"}


def module_map(arch: dict) -> dict[str, tuple[str, str]]:
    """Palette module prefix -> (diffusers module prefix, kind: "plain", "resnet" or "attention") for `arch`."""
    levels, blocks = len(arch["channel_mults"]), arch["res_blocks"]
    attention = [2**level in arch["attn_res"] for level in range(levels)]
    modules = {k: (v, "plain") for k, v in PLAIN.items()}
    k = 1
    for level in range(levels):
        for j in range(blocks):
            modules[f"input_blocks.{k}.0"] = (f"down_blocks.{level}.resnets.{j}", "resnet")
            if attention[level]:
                modules[f"input_blocks.{k}.1"] = (f"down_blocks.{level}.attentions.{j}", "attention")
            k += 1
        if level < levels - 1:
            modules[f"input_blocks.{k}.0"] = (f"down_blocks.{level}.downsamplers.0", "resnet")
            k += 1
    modules["middle_block.0"] = ("mid_block.resnets.0", "resnet")
    modules["middle_block.1"] = ("mid_block.attentions.0", "attention")
    modules["middle_block.2"] = ("mid_block.resnets.1", "resnet")
    k = 0
    for i, level in enumerate(reversed(range(levels))):
        for j in range(blocks + 1):
            modules[f"output_blocks.{k}.0"] = (f"up_blocks.{i}.resnets.{j}", "resnet")
            index = 1
            if attention[level]:
                modules[f"output_blocks.{k}.1"] = (f"up_blocks.{i}.attentions.{j}", "attention")
                index = 2
            if j == blocks and level > 0:
                modules[f"output_blocks.{k}.{index}"] = (f"up_blocks.{i}.upsamplers.0", "resnet")
            k += 1
    return modules


def _split_qkv(qkv: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[3C, C(, 1)] or [3C] ordered head by head -> q, k, v ([C, C] or [C]) with heads contiguous."""
    rows = qkv.shape[0] // 3
    grouped = qkv.reshape(heads, 3, rows // heads, *qkv.shape[1:])
    q, k, v = (grouped[:, i].reshape(rows, *qkv.shape[1:]) for i in range(3))
    if q.dim() == 3:
        q, k, v = q[..., 0], k[..., 0], v[..., 0]
    return q, k, v


def _convert(name: str, tensor: torch.Tensor, modules: dict, head_channels: int) -> dict[str, torch.Tensor]:
    """One Palette tensor -> its diffusers tensor(s); {} for a name outside the map."""
    prefix, _, leaf = name.rpartition(".")
    for palette, (target, kind) in modules.items():
        if kind == "plain" and prefix == palette:
            return {f"{target}.{leaf}": tensor}
        if kind == "resnet" and prefix.startswith(palette + "."):
            inner = prefix[len(palette) + 1 :]
            return {f"{target}.{RESNET[inner]}.{leaf}": tensor} if inner in RESNET else {}
        if kind == "attention" and prefix.startswith(palette + "."):
            inner = prefix[len(palette) + 1 :]
            if inner == "norm":
                return {f"{target}.group_norm.{leaf}": tensor}
            if inner == "qkv":
                q, k, v = _split_qkv(tensor, tensor.shape[0] // 3 // head_channels)
                return {f"{target}.to_q.{leaf}": q, f"{target}.to_k.{leaf}": k, f"{target}.to_v.{leaf}": v}
            if inner == "proj_out":
                return {f"{target}.to_out.0.{leaf}": tensor[..., 0] if tensor.dim() == 3 else tensor}
            return {}
    return {}


def palette_names(arch: dict, unet_names: Iterable[str] | None = None) -> set[str]:
    """Every tensor name a Palette UNet of `arch` has (without the `denoise_fn.` prefix); `unet_names` are the
    names of iguln's UNet for `arch` (built here when not given)."""
    inverse = {target: (palette, kind) for palette, (target, kind) in module_map(arch).items()}
    names = set()
    if unet_names is None:
        unet_names = build_unet({**arch, "num_channels": arch.get("num_channels", 3)}).state_dict()
    for name in unet_names:
        for target, (palette, kind) in inverse.items():
            if not name.startswith(target + "."):
                continue
            inner, _, leaf = name[len(target) + 1 :].rpartition(".")
            if kind == "plain" and not inner:
                names.add(f"{palette}.{leaf}")
            elif kind == "resnet":
                names |= {f"{palette}.{k}.{leaf}" for k, v in RESNET.items() if v == inner}
            elif kind == "attention":
                attention = {"group_norm": "norm", "to_q": "qkv", "to_k": "qkv", "to_v": "qkv", "to_out.0": "proj_out"}
                names.add(f"{palette}.{attention[inner]}.{leaf}")
    return names


def palette_unet_state(
    state: dict[str, torch.Tensor], arch: dict, key: str, target: dict[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """A Palette checkpoint's state dict (`denoise_fn.` / `module.` prefixes allowed; schedule buffers and a
    teacher copy ignored) -> the state dict of `build_unet(arch)`, whose own state dict `target` is (built here
    when not given). Missing or unknown keys, or tensors of the wrong shape, raise a MissingArtefactError."""
    target = target if target is not None else build_unet(arch).state_dict()
    unet_state = {}
    for name, tensor in state.items():
        name = name.removeprefix("module.")
        if name.startswith("teacher_denoise_fn."):
            continue
        if name.startswith("denoise_fn."):
            unet_state[name.removeprefix("denoise_fn.")] = tensor
        elif "." in name:  # a bare UNet state dict
            unet_state[name] = tensor
    check_keys(set(unet_state), palette_names(arch, target), set(), f"{key}: the Palette network")
    modules, converted = module_map(arch), {}
    for name, tensor in unet_state.items():
        converted |= _convert(name, tensor, modules, arch["num_head_channels"])
    check_keys(set(converted), set(target), set(), f"{key}: the converted Palette network")
    check_shapes(converted, target, f"{key}: the Palette network")
    return converted
