"""The tokenizer's optional perceptual (LPIPS) term: used when its backbone weights load, reported as off otherwise."""

from __future__ import annotations

import torch

from iguln.models.lpips_net import lpips_net

FIX = "Put torchvision's VGG-16 weights in torch.hub's cache, or set model.tokenizer.perceptual=off."


def load_perceptual(mode: str) -> tuple[torch.nn.Module | None, str]:
    """(LPIPS-VGG module or None, status). mode: "off", "on" (fail when it cannot load) or "auto"."""
    if mode == "off":
        return None, "off (model.tokenizer.perceptual=off)"
    try:
        module, _identity = lpips_net("vgg", None, "model.tokenizer.perceptual", FIX)
    except Exception as err:  # noqa: BLE001 - any load failure: the term is off (auto) or the job stops (on)
        if mode == "on":
            raise
        return None, f"off: LPIPS-VGG weights could not be loaded ({type(err).__name__}: {err})"
    return module, "on (LPIPS, VGG-16)"


def perceptual_distance(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean LPIPS between images [B, C, H, W] in [-1, 1] (one channel repeated to three)."""
    if x.shape[1] == 1:
        x, y = x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1)
    return module(x, y).mean()
