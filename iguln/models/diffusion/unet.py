"""Palette's UNet as a diffusers `UNet2DModel`, and a forward pass that also returns the encoder's feature maps.

Palette (guided-diffusion layout): ResBlocks with scale-shift conditioning, up- and downsampling inside ResBlocks,
attention at the downsampling factors in `attn_res` (and always in the middle block), heads of
`num_head_channels`, conditioned on the noise level gamma through [cos, sin] features and a 2-layer MLP.
Input: the condition (masked image, noise in the hole) and the noisy image, concatenated: [B, 2C, H, W].
"""

from __future__ import annotations

import torch
from diffusers import UNet2DModel


def build_unet(arch: dict) -> UNet2DModel:
    """A UNet2DModel laid out as Palette's UNet for the architecture dict `arch`."""
    mults, inner = arch["channel_mults"], arch["inner_channel"]
    attention = [2**level in arch["attn_res"] for level in range(len(mults))]
    return UNet2DModel(
        sample_size=arch["image_size"],
        in_channels=2 * arch["num_channels"],
        out_channels=arch["num_channels"],
        block_out_channels=[inner * m for m in mults],
        layers_per_block=arch["res_blocks"],
        down_block_types=["AttnDownBlock2D" if a else "ResnetDownsampleBlock2D" for a in attention],
        up_block_types=["AttnUpBlock2D" if a else "ResnetUpsampleBlock2D" for a in reversed(attention)],
        downsample_type="resnet",
        upsample_type="resnet",
        resnet_time_scale_shift="scale_shift",
        attention_head_dim=arch["num_head_channels"],
        norm_num_groups=arch["norm_num_groups"],
        attn_norm_num_groups=arch["norm_num_groups"],
        norm_eps=1e-5,
        dropout=arch["dropout"],
        time_embedding_type="positional",
        flip_sin_to_cos=True,
        freq_shift=0,
        mid_block_scale_factor=1,
        add_attention=True,
    )


def _embedding(unet: UNet2DModel, gamma: torch.Tensor, batch: int) -> torch.Tensor:
    """Noise-level embedding [B, 4 * inner] of gamma (a float per image, never a rounded timestep)."""
    gamma = gamma.float().reshape(-1).expand(batch) if gamma.numel() == 1 else gamma.float().reshape(batch)
    return unet.time_embedding(unet.time_proj(gamma).to(unet.dtype))


def encoder_features(
    unet: UNet2DModel, sample: torch.Tensor, gamma: torch.Tensor
) -> tuple[list[torch.Tensor], tuple[torch.Tensor, ...], torch.Tensor]:
    """The down path and the middle block: (feature maps, the skip tensors, the noise-level embedding).

    The feature maps are every tensor the up path reads: conv_in's output, each ResBlock's (and attention's) output
    and each downsampler's output, in order (the skips, Palette's `hs`), then the middle block's output (last). A
    down block's output alone would leave the skips unconstrained, and they carry the hole's content straight to
    the up path. sample [B, 2C, H, W], gamma [B] or a scalar tensor.
    """
    emb = _embedding(unet, gamma, sample.shape[0])
    h = unet.conv_in(sample)
    skips = (h,)
    for block in unet.down_blocks:
        h, res = block(hidden_states=h, temb=emb)
        skips += res
    return [*skips, unet.mid_block(h, emb)], skips, emb


def predict_noise(unet: UNet2DModel, sample: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """eps_hat [B, C, H, W] for sample [B, 2C, H, W] at noise level gamma (as UNet2DModel.forward, gamma as is)."""
    features, skips, emb = encoder_features(unet, sample, gamma)
    h = features[-1]
    for block in unet.up_blocks:
        res, skips = skips[-len(block.resnets) :], skips[: -len(block.resnets)]
        h = block(h, res, emb)
    return unet.conv_out(unet.conv_act(unet.conv_norm_out(h)))
