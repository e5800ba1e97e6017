"""ResNet50 trained on Places-365 (CSAILVision's `resnet50_places365.pth.tar`): the paper's Inception Score
network on Places-365. Gives "logits" (365 scene classes) and "pool" (its 2,048 pooled features).

The file is read with weights_only=True; a "state_dict" wrapper and DataParallel's "module." prefixes are removed.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.models import resnet50

from iguln.core.errors import MissingArtefactError
from iguln.core.io import sha256_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIZE = 224
CLASSES = 365


def read_places_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The ResNet50 state dict in torchvision's names, from a Places-365 checkpoint."""
    fix = "Give CSAILVision's resnet50_places365.pth.tar with eval.places_weights=PATH, or use eval.backbone=domain."
    if not Path(path).is_file():
        raise MissingArtefactError(f"eval.places_weights={path}: no such file. {fix}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - an unreadable or unsafe file becomes one message
        raise MissingArtefactError(
            f"eval.places_weights={path} could not be read ({type(err).__name__}: {err}). "
            f"Only tensors are loaded. {fix}"
        ) from err
    state = data.get("state_dict", data) if isinstance(data, dict) else data
    if not isinstance(state, dict):
        raise MissingArtefactError(f"eval.places_weights={path}: no state dict inside. {fix}")
    return {k.removeprefix("module."): v for k, v in state.items()}


def places_backbone(path: str | None, device: torch.device):
    """ResNet50-Places365 on images [B, C, H, W] in [-1, 1]: {"pool": [B, 2048], "logits": [B, 365]}."""
    from iguln.metrics.backbones import Backbone, normalizer

    if path is None:
        raise MissingArtefactError(
            "eval.places_weights is not set: IS on Places-365 needs CSAILVision's resnet50_places365.pth.tar "
            "(eval.places_weights=PATH); or use eval.backbone=domain."
        )
    net = resnet50(weights=None, num_classes=CLASSES)
    state = read_places_weights(path)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or shapes:
        raise MissingArtefactError(
            f"eval.places_weights={path} does not fit ResNet50 with {CLASSES} classes: missing {missing[:8]}, "
            f"unexpected {unexpected[:8]}, other shapes {shapes[:8]}."
        )
    net.load_state_dict(state)
    net = net.to(device).eval().requires_grad_(False)
    head, net.fc = net.fc, torch.nn.Identity()
    prepare = normalizer(SIZE, IMAGENET_MEAN, IMAGENET_STD, "bilinear", device)

    def extract(x: torch.Tensor) -> dict[str, torch.Tensor]:
        pool = net(prepare(x))
        return {"pool": pool, "logits": head(pool)}

    return Backbone("resnet50-places365", sha256_file(path), extract, ("pool", "logits"))
