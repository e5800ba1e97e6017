"""MAE (He et al. 2022) through transformers' ViTMAEForPreTraining, masked by the task instead of at random.

Encoder for unlearning: `net.vit` (patch embedding + ViT blocks + norm); the decoder stays frozen. Released weights
(model.pretrained) are read by mae_hub.py.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from transformers import ViTMAEConfig, ViTMAEForPreTraining

from iguln.core.errors import ConfigError
from iguln.data.masks import coarse_mask, random_cells, random_rectangles
from iguln.models import mae_hub
from iguln.models.generator import Generator
from iguln.models.positions import sincos_positions


def _arch(image_size, patch, hidden, layers, heads, dec_hidden, dec_layers, dec_heads) -> dict:
    return {
        "image_size": image_size,
        "patch_size": patch,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": 4 * hidden,
        "decoder_hidden_size": dec_hidden,
        "decoder_num_hidden_layers": dec_layers,
        "decoder_num_attention_heads": dec_heads,
        "decoder_intermediate_size": 4 * dec_hidden,
    }


def mae_micro() -> dict:
    """A few thousand parameters: tests only."""
    return _arch(32, 4, 32, 1, 2, 32, 1, 2)


def mae_tiny() -> dict:
    """32 px, 4 px patches (8x8 grid): trains on a 2-core CPU in minutes."""
    return _arch(32, 4, 128, 4, 4, 96, 2, 4)


def mae_base() -> dict:
    """224 px ViT-B/16 encoder with the 512-wide, 8-block decoder of facebook/vit-mae-base."""
    return _arch(224, 16, 768, 12, 12, 512, 8, 16)


def mae_large() -> dict:
    """224 px ViT-L/16 encoder with the 512-wide, 8-block decoder of facebook/vit-mae-large."""
    return _arch(224, 16, 1024, 24, 16, 512, 8, 16)


class MAE(Generator):
    family = "mae"
    paper = True
    options = ("mask_ratio", "block_masks", "pixel_norm")
    presets = {"micro": mae_micro(), "tiny": mae_tiny(), "base": mae_base(), "large": mae_large()}
    released_form = "a folder written by save_pretrained, or a hub id in the local Hugging Face cache"

    def __init__(self, arch: dict, mask_ratio: float = 0.75, block_masks: float = 0.5, pixel_norm: dict | None = None):
        super().__init__(arch, mask_ratio=mask_ratio, block_masks=block_masks, pixel_norm=pixel_norm)
        config = ViTMAEConfig(**arch, mask_ratio=mask_ratio, norm_pix_loss=False)
        self.net = ViTMAEForPreTraining(config)
        self.patch = arch["patch_size"]
        self.grid = arch["image_size"] // self.patch
        # transformers leaves both fixed position tables at zero when a ViTMAE is built from a config (only
        # from_pretrained fills them); without positions the model cannot tell where a patch is.
        with torch.no_grad():
            # MAE's order (column first), so that released weights without tables still see theirs
            self.net.vit.embeddings.position_embeddings.copy_(sincos_positions(self.grid, arch["hidden_size"], True))
            self.net.decoder.decoder_pos_embed.copy_(sincos_positions(self.grid, arch["decoder_hidden_size"], True))
        # The network's pixel scale as an affine map of [-1, 1]: net = (x - shift) / scale, with (mean, std) of
        # [0, 1] pixels giving shift = 2 mean - 1, scale = 2 std. Not saved with the weights (pixel_norm is in the
        # spec); None: the network sees [-1, 1] images as they are, as iguln trains an MAE.
        shift = scale = None
        if pixel_norm is not None:
            shape = (1, arch["num_channels"], 1, 1)
            shift = (2 * torch.tensor(pixel_norm["mean"], dtype=torch.float32) - 1).view(shape)
            scale = (2 * torch.tensor(pixel_norm["std"], dtype=torch.float32)).view(shape)
        self.register_buffer("pixel_shift", shift, persistent=False)
        self.register_buffer("pixel_scale", scale, persistent=False)

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        """model.pixel_norm: null or {mean: [...], std: [...]}, one value per channel, std > 0."""
        norm, channels = cfg.get("pixel_norm"), cfg.arch.num_channels
        if norm is None:
            return
        allowed = f"null or {{mean: [...], std: [...]}} with {channels} values each ([0, 1] pixels), std > 0"
        try:
            mean, std = [float(v) for v in norm["mean"]], [float(v) for v in norm["std"]]
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError("model.pixel_norm", norm, allowed) from err
        if len(mean) != channels or len(std) != channels or min(std) <= 0:
            raise ConfigError("model.pixel_norm", norm, allowed)

    # -- released weights ---------------------------------------------------------------------------------------

    @classmethod
    def released_config(cls, cfg: Any) -> dict | None:
        """With model.pretrained: the checkpoint's architecture (its image size is the run's resolution) and pixel
        scale, read from its config files before any work."""
        if not cfg.get("pretrained"):
            return None
        checkpoint = mae_hub.locate(str(cfg.pretrained))
        arch = mae_hub.released_arch(mae_hub.read_config(checkpoint), checkpoint.source)
        return {"arch": arch, "pixel_norm": mae_hub.pixel_norm(checkpoint, arch["num_channels"])}

    @classmethod
    def released_identity(cls, cfg: Any) -> dict | None:
        """A hub checkpoint is known by its id and commit; a folder's by its weights files (path, size, mtime)."""
        if not cfg.get("pretrained"):
            return None
        checkpoint = mae_hub.locate(str(cfg.pretrained))
        if checkpoint.hub_id is not None:
            return {"hub": {"id": checkpoint.hub_id, "revision": checkpoint.revision}}
        stats = [(str(f), os.stat(f)) for f in mae_hub.weight_files(checkpoint)[1]]
        return {"files": [[f, s.st_size, s.st_mtime] for f, s in stats]}

    @classmethod
    def released_weights_present(cls, value: str) -> bool:
        return mae_hub.on_this_machine(value)

    def load_pretrained(self, cfg: Any) -> dict:
        """The released ViTMAEForPreTraining named by model.pretrained, read through transformers; returns
        {part: {path, and hub_id and revision for a hub checkpoint}}, one part per weights file."""
        checkpoint = mae_hub.locate(str(cfg.pretrained))
        state, files = mae_hub.load_state(checkpoint, self.net.state_dict())
        self.net.load_state_dict(state, strict=False)  # load_state checked the keys; absent positions stay ours
        origin = {"hub_id": checkpoint.hub_id, "revision": checkpoint.revision} if checkpoint.hub_id else {}
        parts = ["net"] if len(files) == 1 else [f"net/{f.name}" for f in files]
        return {part: {"path": str(f), **origin} for part, f in zip(parts, files, strict=True)}

    @property
    def encoder(self) -> nn.Module:
        return self.net.vit

    def pixel_space(self) -> dict:
        norm = self.option_values.get("pixel_norm")
        return {"range": [-1.0, 1.0]} if norm is None else {"mean": list(norm["mean"]), "std": list(norm["std"])}

    def _to_net(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images [B, C, H, W] -> the network's pixel scale."""
        return x if self.pixel_shift is None else (x - self.pixel_shift) / self.pixel_scale

    def _from_net(self, y: torch.Tensor) -> torch.Tensor:
        """The network's pixel scale [B, C, H, W] -> [-1, 1] (not clamped)."""
        return y if self.pixel_shift is None else y * self.pixel_scale + self.pixel_shift

    # -- masks ------------------------------------------------------------------------------------------------

    def patch_mask(self, mask: torch.Tensor, batch: int) -> torch.Tensor:
        """Pixel mask [B or 1, 1, H, W] -> patch mask [batch, L] bool; a patch is masked if any pixel is."""
        return coarse_mask(mask, self.patch, batch)

    @contextlib.contextmanager
    def _masked(self, patches: torch.Tensor) -> Iterator[torch.Tensor]:
        """Make ViTMAE's 'random' masking remove exactly `patches` [B, L] (True = remove); yields its noise.

        ViTMAE keeps the int(L * (1 - mask_ratio)) patches with the lowest noise, so masked patches get noise
        above every kept one, and the ratio is set so that the count comes out exact.
        """
        counts = patches.sum(1)
        if not bool((counts == counts[0]).all()):
            raise ValueError("every image of a batch must have the same number of masked patches")
        length = patches.shape[1]
        order = torch.arange(length, device=patches.device) / length
        noise = patches.float() * 2 + order
        config, saved = self.net.config, self.net.config.mask_ratio
        config.mask_ratio = (int(counts[0]) - 0.5) / length
        try:
            yield noise
        finally:
            config.mask_ratio = saved

    def _training_patches(self, batch: int, device, generator: torch.Generator | None) -> torch.Tensor:
        """Pretraining masks [batch, L]: a random rectangle of patches, or MAE's random patches at mask_ratio."""
        if torch.rand(1, generator=generator).item() < self.option_values["block_masks"]:
            return random_rectangles(batch, self.grid, generator).to(device)
        length = self.grid**2
        count = length - int(length * (1 - self.option_values["mask_ratio"]))
        return random_cells(batch, length, count, generator).to(device)

    # -- the interface ----------------------------------------------------------------------------------------

    def encode(self, x: torch.Tensor, mask: torch.Tensor, probe=None) -> torch.Tensor:
        """ViT features of the visible patches: [B, 1 + L_visible, hidden] (class token first)."""
        with self._masked(self.patch_mask(mask, x.shape[0])) as noise:
            return self.net.vit(pixel_values=self._to_net(x), noise=noise).last_hidden_state

    def _predict_net(self, pixels: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
        """Pixel predictions for every patch on the network's scale: [B, C, H, W] from pixels [B, C, H, W] on that
        scale (only masked patches were trained to be right)."""
        with self._masked(patches) as noise:
            out = self.net.vit(pixel_values=pixels, noise=noise)
            logits = self.net.decoder(out.last_hidden_state, out.ids_restore).logits
        return self.net.unpatchify(logits)

    def _predict(self, x: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
        """Pixel predictions for every patch: [B, C, H, W] in [-1, 1] scale (not clamped) from x in [-1, 1]."""
        return self._from_net(self._predict_net(self._to_net(x), patches))

    def generate(self, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x [B, C, H, W] in [-1, 1] with the masked pixels filled by the decoder; unmasked pixels unchanged."""
        predicted = self._predict(x, self.patch_mask(mask, x.shape[0])).clamp(-1, 1).to(x.dtype)
        return torch.where(mask.bool().expand_as(x), predicted, x)

    def output(self, x: torch.Tensor, mask: torch.Tensor, probe=None, full: bool = False) -> torch.Tensor:
        """The decoder's pixel predictions inside the mask's patches: [B, C, H, W] (zero elsewhere); full: for every
        patch."""
        patches = self.patch_mask(mask, x.shape[0])
        predicted = self._predict(x, patches)
        return predicted if full else self._pixels(patches, x) * predicted

    def _pixels(self, patches: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Patch mask [B, L] -> pixel mask [B, 1, H, W] of x's dtype."""
        grid = patches.view(-1, 1, self.grid, self.grid).to(x.dtype)
        return grid.repeat_interleave(self.patch, 2).repeat_interleave(self.patch, 3)

    def training_masks(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Pretraining masks as pixel masks [batch, 1, H, W]: a random rectangle of patches, or MAE's random
        patches at model.mask_ratio."""
        patches = self._training_patches(batch, torch.device("cpu"), generator)
        return self._pixels(patches, torch.zeros(1))

    def noisy_label_loss(
        self,
        x: torch.Tensor,
        noise: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        form: str = "iguln",
        population: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """NOISY LABEL's forget term: the native loss with x's masked region trained towards the noise image
        [B, C, H, W] in [-1, 1] (no reference code exists for MAE: both forms are this)."""
        return self.native_loss(x, mask, generator, target=noise)

    def native_loss(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """MAE's loss: mean squared error on the masked patches' pixels (not normalised per patch), on the network's
        pixel scale (as the weights were trained). target [B, C, H, W] in [-1, 1]: the pixels the masked patches are
        trained towards (default x itself)."""
        if mask is None:
            patches = self._training_patches(x.shape[0], x.device, generator)
        else:
            patches = self.patch_mask(mask, x.shape[0])
        if target is not None:
            pixels = self._pixels(patches, x)
            predicted = self._predict_net(self._to_net(x), patches)
            error = (predicted.float() - self._to_net(target).float()) ** 2 * pixels
            return error.sum() / (pixels.sum() * x.shape[1])
        with self._masked(patches) as noise:
            return self.net(pixel_values=self._to_net(x), noise=noise).loss
