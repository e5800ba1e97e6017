"""Seeded augmentation of image batches, as the reference MAGE unlearning reads its images: RandomResizedCrop
(area scale in [low, high], aspect ratio in [3/4, 4/3], bicubic) and a horizontal flip."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

RATIO = (3 / 4, 4 / 3)
TRIES = 10


@dataclass(frozen=True)
class Augment:
    """trainer.augment: crop_scale (low, high) of the image's area; flip: a horizontal flip half the time."""

    crop_scale: tuple[float, float] = (0.2, 1.0)
    flip: bool = True

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """x [B, C, H, W] in [-1, 1] -> each image cropped, resized back to H x W and maybe flipped."""
        out = torch.stack([self.one(image, generator) for image in x])
        return out.clamp(-1, 1)

    def one(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _, h, w = image.shape
        top, left, ch, cw = crop_box(h, w, self.crop_scale, generator)
        crop = image[:, top : top + ch, left : left + cw].unsqueeze(0).float()
        resized = F.interpolate(crop, size=(h, w), mode="bicubic", align_corners=False, antialias=True)[0]
        if self.flip and float(torch.rand(1, generator=generator)) < 0.5:
            resized = resized.flip(-1)
        return resized.to(image.dtype)


def crop_box(h: int, w: int, scale: tuple[float, float], generator: torch.Generator) -> tuple[int, int, int, int]:
    """(top, left, height, width) of a random crop with area in scale * h * w and aspect ratio in RATIO; the whole
    image (centre crop to RATIO) when TRIES draws do not fit, as torchvision does."""
    area = h * w
    log_ratio = (math.log(RATIO[0]), math.log(RATIO[1]))
    for _ in range(TRIES):
        u = torch.rand(4, generator=generator).tolist()
        target = area * (scale[0] + (scale[1] - scale[0]) * u[0])
        ratio = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * u[1])
        cw, ch = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            return int(u[2] * (h - ch + 1)), int(u[3] * (w - cw + 1)), ch, cw
    side = min(h, w)
    return (h - side) // 2, (w - side) // 2, side, side
