"""The generator interface every model family implements: the seam the losses, metrics and commands turn on.

Images are float [B, C, H, W] in [-1, 1]; masks are [B or 1, 1, H, W] float with 1 = pixel to fill.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn


class Generator(nn.Module):
    """An image-to-image generator that fills the masked region of an image."""

    family: ClassVar[str]
    options: ClassVar[tuple[str, ...]] = ()  # model config keys (besides arch) the family is built from
    presets: ClassVar[dict[str, dict[str, Any]]] = {}  # preset name -> architecture

    def __init__(self, arch: dict[str, Any], **options: Any):
        super().__init__()
        self.arch, self.option_values = dict(arch), dict(options)

    @property
    def encoder(self) -> nn.Module:
        """The module(s) the paper's method fine-tunes; everything else stays frozen in encoder-only methods."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """Encoder features of masked images x [B, C, H, W] (what the L2 losses compare)."""
        raise NotImplementedError

    def generate(self, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Fill the masked region of x: [B, C, H, W] in [-1, 1]; unmasked pixels are returned unchanged."""
        raise NotImplementedError

    def native_loss(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The family's own training objective (scalar). mask=None: the family's own pretraining masks."""
        raise NotImplementedError

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The encoder's trainable parameters (fixed buffers-as-parameters, like sin-cos positions, excluded)."""
        return [p for p in self.encoder.parameters() if p.requires_grad]

    def spec(self) -> dict[str, Any]:
        """Everything needed to rebuild this generator before loading its weights (written to config.json)."""
        return {"family": self.family, "arch": self.arch, "options": self.option_values}

    def save(self, path, **manifest: Any):
        from iguln.models.checkpoint import save_generator

        return save_generator(self, path, **manifest)

    @staticmethod
    def load(path) -> Generator:
        from iguln.models.checkpoint import load_generator

        return load_generator(path)[0]
