"""The VQ-GAN tokenizer: diffusers' VQModel as encoder, codebook and decoder, trained by iguln or imported.

Images [B, C, H, W] in [-1, 1] <-> token indices [B, L], L = (H / f) * (W / f), f = 2 ** (levels - 1), row-major.
The network itself sees its weights' pixel range (`pixel_range`): [-1, 1] for a tokenizer trained here, [0, 1] for
MaskGIT's VQ-GAN that MAGE uses (its code feeds ToTensor() images and writes clip(x * 255)); the conversion is
here, at the tokenizer's boundary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import VQModel
from torch import nn


class Tokenizer(nn.Module):
    """Encoder -> nearest codebook entry -> decoder; trained with reconstruction, codebook and commitment losses."""

    def __init__(
        self,
        image_size: int,
        num_channels: int,
        block_out_channels: list[int],
        layers_per_block: int,
        latent_channels: int,
        codebook_size: int,
        norm_num_groups: int,
        mid_attention: bool,
        pixel_range: tuple[float, float] = (-1.0, 1.0),
    ):
        super().__init__()
        self.low, self.high = float(pixel_range[0]), float(pixel_range[1])
        levels = len(block_out_channels)
        self.vq = VQModel(
            in_channels=num_channels,
            out_channels=num_channels,
            down_block_types=("DownEncoderBlock2D",) * levels,
            up_block_types=("UpDecoderBlock2D",) * levels,
            block_out_channels=tuple(block_out_channels),
            layers_per_block=layers_per_block,
            latent_channels=latent_channels,
            sample_size=image_size,
            num_vq_embeddings=codebook_size,
            norm_num_groups=norm_num_groups,
            vq_embed_dim=latent_channels,
            mid_block_add_attention=mid_attention,
        )
        self.factor = 2 ** (levels - 1)
        self.grid = image_size // self.factor
        self.codebook_size = codebook_size
        self.passes = None  # a FrozenPasses shared with another copy while both are frozen (share_frozen)

    @property
    def codebook(self) -> torch.Tensor:
        """[K, latent_channels]."""
        return self.vq.quantize.embedding.weight

    def to_net(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] -> the network's pixel range."""
        return x if (self.low, self.high) == (-1.0, 1.0) else self.low + (x + 1) * (self.high - self.low) / 2

    def from_net(self, y: torch.Tensor) -> torch.Tensor:
        """The network's pixel range -> [-1, 1] (not clamped)."""
        return y if (self.low, self.high) == (-1.0, 1.0) else (y - self.low) * 2 / (self.high - self.low) - 1

    def latents(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous encoder output z of images x in [-1, 1]: [B, latent_channels, grid, grid]."""
        return self.vq.encode(self.to_net(x)).latents

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codebook entry for every latent vector: [B, grid * grid] int64."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]).float()
        distances = torch.cdist(flat, self.codebook.float())
        return distances.argmin(1).view(z.shape[0], -1)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Codebook vectors of token indices [B, L] as a latent map [B, latent_channels, grid, grid]."""
        vectors = F.embedding(indices, self.codebook)
        return vectors.view(indices.shape[0], self.grid, self.grid, -1).permute(0, 3, 1, 2)

    @torch.no_grad()
    def encode_indices(self, x: torch.Tensor) -> torch.Tensor:
        """Token indices of images x: [B, L] int64 (computed once per batch tensor while `passes` is shared)."""
        if self.passes is not None:
            return self.passes.get(x, lambda images: self.nearest(self.latents(images)))
        return self.nearest(self.latents(x))

    def decode_latents(self, z_q: torch.Tensor) -> torch.Tensor:
        """Images [B, C, H, W] on [-1, 1]'s scale (not clamped) from quantised latents [B, latent_channels, grid,
        grid]."""
        return self.from_net(self.vq.decode(z_q, force_not_quantize=True).sample)

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Images [B, C, H, W] in [-1, 1] from token indices [B, L]."""
        return self.decode_latents(self.lookup(indices)).clamp(-1, 1)

    def reconstruct(self, x: torch.Tensor, beta: float = 0.25) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Reconstruction through the codebook with a straight-through gradient, and the VQ losses.

        Returns (x_rec [B, C, H, W], {"codebook": ||sg[z] - e||^2, "commitment": beta * ||z - sg[e]||^2,
        "indices": [B, L]}).
        """
        z = self.latents(x)
        indices = self.nearest(z.detach())
        z_q = self.lookup(indices)
        terms = {
            "codebook": F.mse_loss(z_q, z.detach()),
            "commitment": beta * F.mse_loss(z, z_q.detach()),
            "indices": indices,
        }
        return self.decode_latents(z + (z_q - z).detach()), terms
