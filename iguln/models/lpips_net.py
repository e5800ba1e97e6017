"""LPIPS networks (the lpips package, v0.1) with their torchvision backbone: for the LPIPS metric (AlexNet) and the
vqgan tokenizer's perceptual term (VGG-16).

The backbone weights come from a file (read with weights_only=True), torch.hub's cache, or torchvision's
download, which is not tried with HF_HUB_OFFLINE set (iguln/offline.py). LPIPS's own linear layers ship with the
package.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import torch

from iguln.core.io import sha256_file
from iguln.core.offline import cached_or_downloadable
from iguln.models.weights import read_weights


def _backbones() -> dict:
    from torchvision.models import AlexNet_Weights, VGG16_Weights, alexnet, vgg16

    return {"alex": (alexnet, AlexNet_Weights.IMAGENET1K_V1), "vgg": (vgg16, VGG16_Weights.IMAGENET1K_V1)}


def _quiet_lpips(net: str, random_backbone: bool) -> torch.nn.Module:
    import lpips

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's notes on lpips' use of its deprecated `pretrained` argument
        return lpips.LPIPS(net=net, pnet_rand=random_backbone, verbose=False)


def lpips_net(net: str, weights: str | None, key: str, fix: str) -> tuple[torch.nn.Module, str]:
    """(LPIPS module in eval mode without gradients, the backbone weights' identity: sha256 or the download).
    net: "alex" or "vgg"; weights: a torchvision state-dict file or None; key names the config key of `weights` in
    messages and `fix` says how else to give them. Raises MissingArtefactError when they cannot be had offline."""
    build, release = _backbones()[net]
    if weights is None:
        cached = cached_or_downloadable(release.url, f"LPIPS: torchvision's {net} weights", fix)
        weights = None if cached is None else str(cached)
    if weights is None:
        module, identity = _quiet_lpips(net, random_backbone=False), f"torchvision download ({Path(release.url).name})"
    else:
        reference = build(weights=None)
        reference.load_state_dict(read_weights(weights, key))
        module, identity = _quiet_lpips(net, random_backbone=True), sha256_file(weights)
        for name, part in module.net.named_children():  # slices of the torchvision features, by their index
            if name.startswith("slice"):
                for index, layer in part.named_children():
                    layer.load_state_dict(reference.features[int(index)].state_dict())
    return module.eval().requires_grad_(False), identity
