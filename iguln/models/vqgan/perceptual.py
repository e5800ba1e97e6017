"""The tokenizer's optional perceptual (LPIPS) term: used when its backbone weights load, reported as off otherwise."""

from __future__ import annotations

import contextlib
import io
import warnings

import torch


def load_perceptual(mode: str) -> tuple[torch.nn.Module | None, str]:
    """(LPIPS-VGG module or None, status). mode: "off", "on" (fail when it cannot load) or "auto"."""
    if mode == "off":
        return None, "off (model.tokenizer.perceptual=off)"
    try:
        import lpips

        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's notes on its deprecated `pretrained` argument
            module = lpips.LPIPS(net="vgg", verbose=False).eval().requires_grad_(False)
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
