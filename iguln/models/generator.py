"""The generator interface every model family implements: the seam the losses, metrics and commands turn on.

Images are float [B, C, H, W] in [-1, 1]; masks are [B or 1, 1, H, W] float with 1 = pixel to fill. Hooks that
only some losses need (a random encoder input, a one-pass output, noisy targets) are optional capabilities, in
capabilities.py; a family registers itself in families.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

StageLoss = Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor | dict[str, torch.Tensor], dict[str, float]]]


@dataclass
class Stage:
    """One stage of pretraining an original generator (a family may have several, e.g. tokenizer then transformer).

    `params` are the optimizer groups (a dict when a stage trains two adversaries); `loss(x, generator)` returns
    (loss or {group: loss}, logged terms) for a batch x [B, C, H, W]; `begin` runs before the first step (e.g. to
    unfreeze), `end(images)` after the last, with held-out images, and returns a report (e.g. reconstruction
    quality) that goes into the generator's manifest; `info` says how the stage was set up. `state` and
    `load_state` save and restore what the stage keeps outside the generator (counters, a discriminator), so that
    a checkpointed stage resumes exactly.
    """

    name: str
    recipe: str  # the config key of its recipe, e.g. "model.pretrain"
    params: dict[str, list[nn.Parameter]]
    loss: StageLoss
    begin: Callable[[], None] = lambda: None
    end: Callable[[torch.Tensor], dict] = lambda images: {}
    info: dict = field(default_factory=dict)
    state: Callable[[], dict] = dict
    load_state: Callable[[dict], None] = lambda state: None


class Generator(nn.Module):
    """An image-to-image generator that fills the masked region of an image."""

    family: ClassVar[str]
    options: ClassVar[tuple[str, ...]] = ()  # model config keys (besides arch) the family is built from
    generation: ClassVar[tuple[str, ...]] = ()  # model config keys that only tune generate() (not the weights)
    presets: ClassVar[dict[str, dict[str, Any]]] = {}  # preset name -> architecture
    recipes: ClassVar[tuple[str, ...]] = ("model.pretrain",)  # config keys of its pretraining recipes
    released_form: ClassVar[str] = "a file"  # what model.pretrained names, in words
    paper: ClassVar[bool] = False  # one of the paper's families: `iguln reproduce` runs it unless --models says
    # Options at these values are left out of the store key, so that adding an option keeps existing originals.
    neutral: ClassVar[dict[str, Any]] = {}
    # The reference code's weight of a loss's terms on a mixed batch (trainer.batches=mixed): each term is
    # weight * (its images / the batch) * its mean. 1 unless the family's reference weights it otherwise.
    reference_weights: ClassVar[dict[str, float]] = {}

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        """Check the family's own `model` config keys; raise ConfigError on a bad value. Nothing by default."""

    @classmethod
    def resolve_options(cls, cfg: Any) -> None:
        """Fill in `model` keys left null whose value follows from the rest of the config (in place, before the
        record is written). Nothing by default."""

    def pixel_space(self) -> dict:
        """The pixel scale the network's weights expect (the family converts [-1, 1] images at its boundary)."""
        return {"range": [-1.0, 1.0]}

    def __init__(self, arch: dict[str, Any], **options: Any):
        super().__init__()
        self.arch, self.option_values = dict(arch), dict(options)
        self.generation_values: dict[str, Any] = {}

    def configure_generation(self, **values: Any) -> None:
        """Set the generation-only settings (the model config keys named in `generation`)."""
        self.generation_values.update(values)

    @classmethod
    def released_config(cls, cfg: Any) -> dict | None:
        """What the released weights named in the `model` config fix, read from their own config before any work:
        {"arch": the whole architecture, other model key: value}; None when the preset decides (the default)."""
        return None

    @classmethod
    def released_identity(cls, cfg: Any) -> dict | None:
        """What the store key of an original imported from released weights holds about them (by default each
        file's path, size and modification time); None when the `model` config names none (trained here)."""
        files = [str(cfg[k]) for k in ("pretrained", "pretrained_tokenizer") if cfg.get(k)]
        if not files:
            return None
        return {"files": [[f, os.stat(f).st_size, os.stat(f).st_mtime] for f in files if os.path.isfile(f)]}

    @classmethod
    def released_weights_present(cls, value: str) -> bool:
        """Whether model.pretrained=value is on this machine (released_form says what it should be)."""
        return os.path.isfile(value)

    def load_pretrained(self, cfg: Any) -> dict:
        """Load released weights named in the `model` config (model.pretrained ...); returns what was loaded:
        {part: file path, or {"path": file path, other provenance (e.g. hub_id, revision)}}."""
        from iguln.core.errors import ConfigError

        raise ConfigError(
            "model.pretrained", cfg.get("pretrained"), "null", f"model={self.family} has no importer yet."
        )

    def pretraining_stages(self) -> list[Stage]:
        """How `iguln pretrain` trains this family from scratch: by default one stage of its native loss."""
        params = [p for p in self.parameters() if p.requires_grad]
        return [
            Stage("generator", "model.pretrain", {"generator": params}, lambda x, g: (self.native_loss(x, None, g), {}))
        ]

    @property
    def encoder(self) -> nn.Module:
        """The module(s) the paper's method fine-tunes; everything else stays frozen in encoder-only methods."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor, mask: torch.Tensor, probe: Any = None) -> torch.Tensor | list[torch.Tensor]:
        """Encoder features of masked images x [B, C, H, W] in [-1, 1] (what the L2 losses compare). `probe` is the
        random part of the encoder's input for a family with the encode_probe capability (capabilities.py);
        student and teacher get the same. Others ignore it."""
        raise NotImplementedError

    def generate(self, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Fill the masked region of x: [B, C, H, W] in [-1, 1]; unmasked pixels are returned unchanged."""
        raise NotImplementedError

    def native_loss(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The family's own training objective (scalar) on images x [B, C, H, W] in [-1, 1]; mask [B or 1, 1, H, W],
        or None for the family's own pretraining masks."""
        raise NotImplementedError

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The encoder's trainable parameters (fixed buffers-as-parameters, like sin-cos positions, excluded)."""
        return [p for p in self.encoder.parameters() if p.requires_grad]

    def spec(self) -> dict[str, Any]:
        """Everything needed to rebuild this generator before loading its weights (written to config.json)."""
        return {"family": self.family, "arch": self.arch, "options": self.option_values}
