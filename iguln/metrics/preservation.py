"""Preservation: how much unlearning changed what the model should keep. The unlearned model's retain outputs are
compared with the original's on the same inputs (lower distance, higher PSNR and SSIM: more kept).

`OriginalPass` watches the scoring pass (evaluate.extract_features' `observe`): for each batch it generates the
original's outputs for the same inputs, with the scoring seed, once, and hands both to every paired metric's
accumulator (`update(reference, outputs)`, then `entry()`): LPIPS (lpips_net.py), PSNR and SSIM in the hole
(pixels.py). So the original's outputs are the images the other metrics scored, made once for all of them.

LPIPS (the lpips package, AlexNet, v0.1) needs torchvision's AlexNet weights: eval.lpips_weights=PATH, or
torch.hub's cached copy, or their download (not with HF_HUB_OFFLINE set). When they cannot be loaded the metric is
recorded as missing with the reason. PSNR and SSIM need nothing: they are always there.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from iguln.core import distributed
from iguln.core.errors import MissingArtefactError
from iguln.core.seeding import make_generator
from iguln.metrics.catalogue import METRICS
from iguln.models.generator import Generator
from iguln.models.lpips_net import lpips_net
from iguln.training.engine import autocast

NAME = "lpips-alex-v0.1"
MIN_SIDE = 64  # AlexNet's pooling needs more than 32 px: smaller images are compared upsampled to this
FIX = "Give torchvision's AlexNet weights with eval.lpips_weights=PATH, or set eval.lpips=off."


def load_lpips(cfg: DictConfig) -> tuple[torch.nn.Module | None, str]:
    """(LPIPS module, its weights' identity) or (None, why it is missing). cfg: the eval config."""
    if cfg.lpips in ("off", False):  # YAML files read `off` as false
        return None, "eval.lpips=off"
    try:
        return lpips_net("alex", cfg.lpips_weights, "eval.lpips_weights", FIX)
    except MissingArtefactError as err:
        return None, str(err)
    except Exception as err:  # noqa: BLE001 - any other load failure: the metric is missing, with the reason
        return None, f"LPIPS could not be loaded ({type(err).__name__}: {err})"


class Lpips:
    """Accumulates the LPIPS of outputs [B, C, H, W] to the original's (whole images, as the paper's LPIPS)."""

    def __init__(self, cfg: DictConfig, mask: torch.Tensor, device: torch.device) -> None:
        self.module, self.weights = load_lpips(cfg)
        self.total, self.count, self.seconds = 0.0, 0, 0.0
        if self.module is not None:
            self.module.to(device)

    @property
    def available(self) -> bool:
        return self.module is not None

    def update(self, reference: torch.Tensor, outputs: torch.Tensor) -> None:
        start = time.perf_counter()
        a, b = reference.float(), outputs.float()
        if a.shape[1] == 1:
            a, b = a.expand(-1, 3, -1, -1), b.expand(-1, 3, -1, -1)
        if min(a.shape[-2:]) < MIN_SIDE:
            a, b = (F.interpolate(t, size=(MIN_SIDE, MIN_SIDE), mode="bilinear", align_corners=False) for t in (a, b))
        self.total += self.module(a.clamp(-1, 1), b.clamp(-1, 1)).sum().item()
        self.count += len(a)
        self.seconds += time.perf_counter() - start

    def entry(self) -> dict:
        """The record entry (under torchrun, over every process's images: call it in every process)."""
        entry = {"value": None, "backbone": NAME, "backbone_weights": self.weights, "reference": "original",
                 "unit": METRICS.get("lpips").unit}  # fmt: skip
        if self.module is None:
            return {**entry, "backbone_weights": None, "missing": self.weights}
        parts = distributed.all_gather_objects((self.total, self.count, self.seconds))
        total, count, seconds = sum(p[0] for p in parts), sum(p[1] for p in parts), max(p[2] for p in parts)
        if not count:
            return {**entry, "missing": "no outputs were scored"}
        return {**entry, "value": total / count, "n_generated": count, "seconds": round(seconds, 3)}


class OriginalPass:
    """The observer of one scoring pass: regenerates the original's outputs for each batch of inputs (with the
    seed of the pass it watches) and feeds (original's, scored model's) to each accumulator."""

    def __init__(self, original: Generator, mask: torch.Tensor, device, precision: str, seed: int, accumulators):
        self.original, self.mask, self.device, self.precision = original, mask.to(device), device, precision
        self.rng = make_generator(distributed.rank_seed(seed), device)  # as the scoring pass it watches
        self.accumulators = [a for a in accumulators if a.available]

    @torch.no_grad()
    def __call__(self, inputs: torch.Tensor, outputs: torch.Tensor) -> None:
        with autocast(self.device, self.precision):
            reference = self.original.generate(inputs, self.mask, self.rng).float()
        for accumulator in self.accumulators:
            accumulator.update(reference, outputs.float())
