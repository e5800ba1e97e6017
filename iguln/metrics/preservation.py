"""LPIPS between the original's and the unlearned model's outputs on the same retain inputs: how much unlearning
changed what the model should keep (lower is better; 0 means the same images).

LPIPS (the lpips package, AlexNet, v0.1) needs torchvision's AlexNet weights: eval.lpips_weights=PATH, or torch.hub's
cached copy, or their download (not with HF_HUB_OFFLINE set). When they cannot be loaded the metric is recorded as
missing with the reason. The weights file is read with weights_only=True.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset

from iguln.errors import MissingArtefactError
from iguln.io import sha256_file
from iguln.models.generator import Generator
from iguln.models.weights import read_weights
from iguln.offline import cached_or_downloadable
from iguln.seeding import make_generator
from iguln.unlearn.engine import autocast

UNIT = "mean LPIPS (AlexNet) between the original's and this model's outputs on the same inputs; lower keeps more"
NAME = "lpips-alex-v0.1"
MIN_SIDE = 64


def _lpips_with(alexnet_state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """lpips.LPIPS(net="alex") with its AlexNet features taken from a torchvision AlexNet state dict."""
    import lpips
    from torchvision.models import alexnet

    reference = alexnet(weights=None)
    reference.load_state_dict(alexnet_state)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's notes on lpips' use of its deprecated `pretrained` argument
        module = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
    for name in ("slice1", "slice2", "slice3", "slice4", "slice5"):
        for index, layer in getattr(module.net, name).named_children():
            layer.load_state_dict(reference.features[int(index)].state_dict())
    return module


def load_lpips(cfg: DictConfig) -> tuple[torch.nn.Module | None, str]:
    """(LPIPS module, its weights' identity) or (None, why it is missing). cfg: the eval config."""
    if cfg.lpips in ("off", False):  # YAML files read `off` as false
        return None, "eval.lpips=off"
    try:
        from torchvision.models import AlexNet_Weights

        path = cfg.lpips_weights
        if path is None:
            url = AlexNet_Weights.IMAGENET1K_V1.url
            fix = "Give torchvision's AlexNet weights with eval.lpips_weights=PATH, or set eval.lpips=off."
            cached = cached_or_downloadable(url, "LPIPS: torchvision's AlexNet weights", fix)
            path = None if cached is None else str(cached)
        if path is None:
            import lpips

            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = lpips.LPIPS(net="alex", verbose=False)
            return module.eval().requires_grad_(False), "torchvision download (alexnet-owt-7be5be79)"
        module = _lpips_with(read_weights(path, "eval.lpips_weights"))
        return module.eval().requires_grad_(False), sha256_file(path)
    except MissingArtefactError as err:
        return None, str(err)
    except Exception as err:  # noqa: BLE001 - any other load failure: the metric is missing, with the reason
        return None, f"LPIPS could not be loaded ({type(err).__name__}: {err})"


@torch.no_grad()
def lpips_to_original(
    module: torch.nn.Module | None,
    weights: str,
    original: Generator,
    model: Generator,
    dataset: Dataset,
    mask: torch.Tensor,
    batch_size: int,
    device: torch.device,
    precision: str,
    seed: int,
) -> dict:
    """The record entry: mean LPIPS between original's and model's outputs for the images of `dataset` under
    `mask`, each generated with the scoring seed (the same outputs the other metrics scored)."""
    entry = {"value": None, "backbone": NAME, "backbone_weights": weights, "reference": "original", "unit": UNIT}
    if module is None:
        return {**entry, "backbone_weights": None, "missing": weights}
    start = time.perf_counter()
    module = module.to(device)
    rngs = make_generator(seed, device), make_generator(seed, device)
    total, count = 0.0, 0
    for images, _labels in DataLoader(dataset, batch_size=batch_size):
        images, batch_mask = images.to(device), mask.to(device)
        with autocast(device, precision):
            a = original.generate(images, batch_mask, rngs[0]).float()
            b = model.generate(images, batch_mask, rngs[1]).float()
        if a.shape[1] == 1:
            a, b = a.expand(-1, 3, -1, -1), b.expand(-1, 3, -1, -1)
        if min(a.shape[-2:]) < MIN_SIDE:  # AlexNet's pooling needs more than 32 px: compare upsampled images
            a, b = (F.interpolate(t, size=(MIN_SIDE, MIN_SIDE), mode="bilinear", align_corners=False) for t in (a, b))
        total += module(a.clamp(-1, 1), b.clamp(-1, 1)).sum().item()
        count += len(images)
    return {**entry, "value": total / count, "n_generated": count, "seconds": round(time.perf_counter() - start, 3)}
