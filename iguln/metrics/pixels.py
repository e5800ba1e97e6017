"""PSNR and SSIM of a model's outputs against the original's on the same inputs, in the hole alone (outside it both
keep the input): how much of the original's fill unlearning kept. Offline, no weights needed (torchmetrics' SSIM).

PSNR is pooled over every hole pixel of every image, 10 log10(range^2 / MSE) with range 2 for [-1, 1]: a set of
identical fills has no finite PSNR and is recorded as value null with `identical: true`. SSIM is the mean of
torchmetrics' SSIM map (Gaussian window 11, sigma 1.5) over the hole's pixels.
"""

from __future__ import annotations

import math

import torch
from omegaconf import DictConfig

from iguln.core import distributed

RANGE = 2.0  # pixels in [-1, 1]


def hole_weights(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The mask [H, W] or [1, 1, H, W] (1: the hole) broadcast to like's [B, C, H, W]."""
    return mask.to(like.device, like.dtype).view(1, 1, *mask.shape[-2:]).expand_as(like)


class PsnrInHole:
    """Accumulates the squared error of outputs [B, C, H, W] to the original's inside the hole."""

    available = True

    def __init__(self, cfg: DictConfig | None, mask: torch.Tensor, device: torch.device) -> None:
        self.mask, self.squared, self.pixels, self.count = mask, 0.0, 0.0, 0

    def update(self, reference: torch.Tensor, outputs: torch.Tensor) -> None:
        weights = hole_weights(self.mask, outputs)
        self.squared += (((outputs.clamp(-1, 1) - reference.clamp(-1, 1)) ** 2) * weights).sum().item()
        self.pixels += weights.sum().item()
        self.count += len(outputs)

    def entry(self) -> dict:
        parts = distributed.all_gather_objects((self.squared, self.pixels, self.count))
        squared, pixels, count = (sum(p[i] for p in parts) for i in range(3))
        entry = {"value": None, "backbone": "none (pixels)", "reference": "original", "unit": "dB",
                 "n_generated": count}  # fmt: skip
        if not pixels:
            return {**entry, "missing": "no outputs were scored"}
        mse = squared / pixels
        if mse == 0:
            return {**entry, "mse": 0.0, "identical": True}
        return {**entry, "value": 10 * math.log10(RANGE**2 / mse), "mse": mse}


class SsimInHole:
    """Accumulates torchmetrics' SSIM map of outputs [B, C, H, W] against the original's, over the hole."""

    available = True

    def __init__(self, cfg: DictConfig | None, mask: torch.Tensor, device: torch.device) -> None:
        self.mask, self.total, self.pixels, self.count = mask, 0.0, 0.0, 0

    def update(self, reference: torch.Tensor, outputs: torch.Tensor) -> None:
        from torchmetrics.functional.image import structural_similarity_index_measure

        _, full = structural_similarity_index_measure(
            outputs.clamp(-1, 1), reference.clamp(-1, 1), data_range=RANGE, return_full_image=True, reduction="none"
        )
        weights = hole_weights(self.mask, full)
        self.total += (full * weights).sum().item()
        self.pixels += weights.sum().item()
        self.count += len(outputs)

    def entry(self) -> dict:
        parts = distributed.all_gather_objects((self.total, self.pixels, self.count))
        total, pixels, count = (sum(p[i] for p in parts) for i in range(3))
        entry = {"value": None, "backbone": "none (pixels)", "reference": "original", "unit": "SSIM in the hole",
                 "n_generated": count}  # fmt: skip
        if not pixels:
            return {**entry, "missing": "no outputs were scored"}
        return {**entry, "value": total / pixels}
