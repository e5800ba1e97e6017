"""The diffusion family (Palette, as in the paper): a conditional UNet that denoises the masked region given the
masked image. Encoder for unlearning: conv_in + the down blocks + the middle block, whose features are every skip
tensor the up path reads and the middle block's output; the noise-level MLP and the up path stay frozen.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from iguln.core.errors import ConfigError, number_in, positive_int
from iguln.data.masks import hybrid_masks
from iguln.models.diffusion.reference import palette_unet_state
from iguln.models.diffusion.sampler import condition, ddim_fill
from iguln.models.diffusion.schedule import linear_gammas, training_gammas
from iguln.models.diffusion.unet import build_unet, encoder_features, predict_noise
from iguln.models.generator import Generator
from iguln.models.weights import read_weights


def _arch(image_size, inner, mults, res_blocks, attn_res, head_channels, groups, dropout) -> dict:
    return {
        "image_size": image_size,
        "inner_channel": inner,
        "channel_mults": list(mults),
        "res_blocks": res_blocks,
        "attn_res": list(attn_res),
        "num_head_channels": head_channels,
        "norm_num_groups": groups,
        "dropout": dropout,
    }


def diffusion_micro() -> dict:
    """A few thousand parameters: tests only."""
    return _arch(32, 8, (1, 2), 1, (2,), 8, 4, 0.0)


def diffusion_tiny() -> dict:
    """32 px, widths 16/32/64, attention at 8 px (and in the middle block): 0.79 M parameters for a 2-core CPU."""
    return _arch(32, 16, (1, 2, 4), 1, (4,), 32, 8, 0.0)


def diffusion_palette() -> dict:
    """Palette's inpainting UNet at 256 px: 64 channels, multipliers 1,2,4,8, two ResBlocks per level, 32-channel
    heads; attn_res [16] as in its configs (with four levels only the middle block has attention)."""
    return _arch(256, 64, (1, 2, 4, 8), 2, (16,), 32, 32, 0.2)


class Diffusion(Generator):
    family = "diffusion"
    paper = True
    options = ("schedule",)
    generation = ("sample_steps",)
    presets = {"micro": diffusion_micro(), "tiny": diffusion_tiny(), "palette": diffusion_palette()}

    @classmethod
    def check_config(cls, cfg) -> None:
        positive_int("model.sample_steps", cfg.sample_steps)
        if positive_int("model.schedule.steps", cfg.schedule.steps) < 2:
            raise ConfigError("model.schedule.steps", cfg.schedule.steps, "an integer >= 2")
        for key in ("beta_start", "beta_end"):
            number_in(f"model.schedule.{key}", cfg.schedule[key], 0.0, 1.0, open_ends=True)
        if cfg.schedule.beta_start > cfg.schedule.beta_end:
            raise ConfigError("model.schedule.beta_start", cfg.schedule.beta_start, "at most model.schedule.beta_end")

    def __init__(self, arch: dict, schedule: dict):
        super().__init__(arch, schedule=schedule)
        self.unet = build_unet(arch)
        self.register_buffer("gammas", linear_gammas(schedule["steps"], schedule["beta_start"], schedule["beta_end"]))
        self.generation_values = {"sample_steps": 25}

    @property
    def encoder(self) -> nn.Module:
        return nn.ModuleList([self.unet.conv_in, self.unet.down_blocks, self.unet.mid_block])

    def _noisy_input(self, x: torch.Tensor, mask: torch.Tensor, probe: dict, pure_noise: bool = False) -> torch.Tensor:
        """UNet input [B, 2C, H, W]: the condition, and x noised to the probe's level inside the mask (or, with
        pure_noise, the probe's noise alone there)."""
        gamma = probe["gamma"].view(-1, 1, 1, 1)
        noisy = probe["noise"] if pure_noise else gamma.sqrt() * x + (1 - gamma).sqrt() * probe["noise"]
        return torch.cat([condition(x, mask, probe["hole"]), x * (1 - mask) + mask * noisy], 1)

    # -- the interface ----------------------------------------------------------------------------------------

    def encode_probe(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        """One draw of what encode() needs besides the image: a noise level per image (Palette's training
        distribution), the noise that corrupts the hole, and the noise of the condition's hole."""
        shape = x.shape
        return {
            "gamma": training_gammas(self.gammas.cpu(), shape[0], generator).to(x.device, x.dtype),
            "noise": torch.randn(shape, generator=generator).to(x.device, x.dtype),
            "hole": torch.randn(shape, generator=generator).to(x.device, x.dtype),
        }

    def encode(self, x: torch.Tensor, mask: torch.Tensor, probe: dict | None = None) -> list[torch.Tensor]:
        """Every feature map the up path reads (the skips, as Palette's `hs`) and the middle block's, for x
        [B, C, H, W] noised at the probe's levels (a fresh probe from the global RNG when none is given)."""
        probe = probe if probe is not None else self.encode_probe(x)
        return encoder_features(self.unet, self._noisy_input(x, mask, probe), probe["gamma"])[0]

    def forget_target(self, x: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor, probe: dict | None = None):
        """The teacher's features for a forget image: the context kept, pure N(0, I) noise (the probe's) in the
        masked region of the noisy image, as in the paper's diffusion code; the noise image n is not used."""
        probe = probe if probe is not None else self.encode_probe(x)
        sample = self._noisy_input(x, mask, probe, pure_noise=True)
        return encoder_features(self.unet, sample, probe["gamma"])[0]

    def generate(self, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """DDIM fill in model.sample_steps steps; unmasked pixels are x's own."""
        out = ddim_fill(
            lambda s, g: predict_noise(self.unet, s, g),
            x,
            mask,
            self.gammas,
            self.generation_values["sample_steps"],
            generator,
        )
        return torch.where(mask.bool().expand_as(x), out, x)

    def output(
        self, x: torch.Tensor, mask: torch.Tensor, probe: dict | None = None, full: bool = False
    ) -> torch.Tensor:
        """The noise estimate inside the mask for x noised at the probe's levels: [B, C, H, W]; full: everywhere
        (what the reference's RETAIN LABEL compares)."""
        probe = probe if probe is not None else self.encode_probe(x)
        mask = mask.expand(x.shape[0], 1, *x.shape[2:]).to(x.dtype)
        eps = predict_noise(self.unet, self._noisy_input(x, mask, probe), probe["gamma"])
        return eps if full else mask * eps

    def training_masks(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Pretraining masks: Palette-style hybrid masks, [batch, 1, H, W]."""
        return hybrid_masks(batch, self.arch["image_size"], generator)

    def native_loss(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Palette's objective: MSE between the noise and its estimate inside the mask. mask=None: hybrid masks.
        target [B, C, H, W]: the clean image the hole is trained towards (default x itself); x gives the context."""
        if mask is None:
            mask = hybrid_masks(x.shape[0], x.shape[-1], generator).to(x.device)
        mask = mask.expand(x.shape[0], 1, *x.shape[2:]).to(x.dtype)
        probe = self.encode_probe(x, generator)
        y = x if target is None else x * (1 - mask) + mask * target
        eps = predict_noise(self.unet, self._noisy_input(y, mask, probe), probe["gamma"])
        return F.mse_loss(mask * eps.float(), mask * probe["noise"].float())

    def noisy_label_loss(
        self,
        x: torch.Tensor,
        noise: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        form: str = "iguln",
        population: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """NOISY LABEL's forget term. form iguln: the native loss with x's masked region trained towards the noise
        image [B, C, H, W] in [-1, 1]. form reference (Palette's code): the hole of the noisy image holds pure noise
        eps, whatever the level, and the network is trained to predict that eps."""
        if form != "reference":
            return self.native_loss(x, mask, generator, target=noise)
        mask = mask.expand(x.shape[0], 1, *x.shape[2:]).to(x.dtype)
        probe = self.encode_probe(x, generator)
        eps = predict_noise(self.unet, self._noisy_input(x, mask, probe, pure_noise=True), probe["gamma"])
        return F.mse_loss(mask * eps.float(), mask * probe["noise"].float())

    def load_pretrained(self, cfg) -> dict:
        """Palette's released network (e.g. 16_Network.pth) through the key map in reference.py; returns
        {part: file}."""
        reference = read_weights(cfg.pretrained, "model.pretrained")
        state = palette_unet_state(reference, self.arch, "model.pretrained", self.unet.state_dict())
        self.unet.load_state_dict(state)
        return {"unet": str(cfg.pretrained)}
