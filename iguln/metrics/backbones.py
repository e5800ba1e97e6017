"""Feature backbones for the metrics. Each names itself and its weights in every result it produces.

A backbone maps images [B, C, H, W] in [-1, 1] to some of: "pool" (FID features), "logits" (IS),
"embed" (the CLIP-style similarity). A metric whose features a backbone lacks is reported as missing.
A composite backbone (`combine`) takes each feature from another backbone, as the paper does (FID and IS from
Inception-V3, similarity from CLIP).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from iguln.core.errors import MissingArtefactError
from iguln.core.io import sha256_file
from iguln.core.offline import cached_or_downloadable, downloads_off

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class Backbone:
    name: str  # e.g. "domain-judge", "inception-v3", "clip:openai/clip-vit-base-patch32"
    weights: str  # sha256 of the weights file, or where they came from
    extract: Callable[[torch.Tensor], dict[str, torch.Tensor]]
    provides: tuple[str, ...]
    info: dict = field(default_factory=dict)  # e.g. the judge's test accuracy, or why auto fell back
    parts: dict[str, Backbone] = field(default_factory=dict)  # feature -> its backbone (composites only)
    classifies_data: bool = False  # its "logits" are over the data set's own classes (the detector rate reads them)

    def describe(self, feature: str | None = None) -> dict:
        """Name, weights and notes of the backbone that gives `feature` (of every part when None)."""
        if feature in self.parts:
            return self.parts[feature].describe()
        if self.parts and feature is None:
            return {key: part.describe() for key, part in self.parts.items()}
        return {"backbone": self.name, "backbone_weights": self.weights, **self.info}


def combine(parts: dict[str, Backbone]) -> Backbone:
    """One backbone whose feature `f` comes from parts[f]; each distinct network runs once per batch."""
    first = next(iter(parts.values()))
    if all(part is first for part in parts.values()):
        return first
    runs = {id(part.extract): part.extract for part in parts.values()}
    provides = tuple(f for f, part in parts.items() if f in part.provides)

    def extract(x: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = {key: run(x) for key, run in runs.items()}
        return {f: outputs[id(parts[f].extract)][f] for f in provides}

    name = "; ".join(f"{f}: {part.name}" for f, part in parts.items())
    classifies = "logits" in parts and parts["logits"].classifies_data
    return Backbone(name, "per feature", extract, provides, parts=dict(parts), classifies_data=classifies)


def rgb(x: torch.Tensor) -> torch.Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def normalizer(size: int | tuple[int, int], mean, std, mode: str, device: torch.device):
    """The input of a network trained on normalised RGB: images [B, C, H, W] in [-1, 1] -> RGB resized to `size`
    (interpolation `mode`), in [0, 1], then (x - mean) / std per channel."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=device).view(1, 3, 1, 1)

    def prepare(x: torch.Tensor) -> torch.Tensor:
        pixels = F.interpolate((rgb(x) + 1) / 2, size=size, mode=mode, align_corners=False)
        return (pixels.clamp(0, 1) - mean) / std

    return prepare


def domain_backbone(judge, manifest: dict) -> Backbone:
    accuracy = round(manifest["test_accuracy"], 4)
    info = {"judge_test_accuracy": accuracy, "judge_key": manifest["key"]}
    return Backbone("domain-judge", manifest["sha256"], judge.features, ("pool", "logits", "embed"), info, {}, True)


def inception_backbone(weights: str | None, device: torch.device) -> Backbone:
    """Inception-V3 of torch-fidelity (the FID network): a local weights file, torch.hub's cached copy of
    torch-fidelity's download, or that download (not with HF_HUB_OFFLINE set).

    A weights file is read with weights_only=True and handed to torch-fidelity as a copy made here, so nothing
    from outside is unpickled.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3, FeatureExtractorInceptionV3

    features = ["2048", "logits_unbiased"]
    if weights is None:
        fix = f"Give a local copy with eval.inception_weights=PATH ({URL_INCEPTION_V3}), or use eval.backbone=domain."
        cached = cached_or_downloadable(URL_INCEPTION_V3, "eval.backbone=inception: Inception-V3 weights", fix)
        weights = None if cached is None else str(cached)
    try:
        if weights is None:
            net = FeatureExtractorInceptionV3("inception-v3-compat", features)
            source = "torch-fidelity download (pt_inception-2015-12-05)"
        else:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / "inception.pt"
                torch.save(state, copy)
                net = FeatureExtractorInceptionV3(
                    "inception-v3-compat", features, feature_extractor_weights_path=str(copy)
                )
            source = sha256_file(weights)
    except Exception as err:  # noqa: BLE001 - any load failure becomes one message
        raise MissingArtefactError(
            f"eval.backbone=inception: Inception-V3 weights could not be loaded ({type(err).__name__}: {err}). "
            "Give a local copy with eval.inception_weights=/path/to/pt_inception-2015-12-05.pth, "
            "or use eval.backbone=domain."
        ) from err
    net = net.to(device).eval()

    def extract(x: torch.Tensor) -> dict[str, torch.Tensor]:
        pixels = ((rgb(x) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        pool, logits = net(pixels)
        return {"pool": pool, "logits": logits, "embed": pool}

    return Backbone("inception-v3", source, extract, ("pool", "logits", "embed"))


def clip_backbone(name_or_path: str, device: torch.device) -> Backbone:
    """A CLIP image tower: open_clip (`open_clip:...`, see openclip.py), or transformers' vision tower with
    projection from a local dir or the hub: "pool" and "embed"."""
    from transformers import CLIPVisionModelWithProjection

    from iguln.metrics.openclip import is_open_clip, open_clip_backbone

    if is_open_clip(name_or_path):
        return open_clip_backbone(name_or_path, device)

    try:
        net = CLIPVisionModelWithProjection.from_pretrained(name_or_path).to(device).eval()
    except Exception as err:  # noqa: BLE001 - any load failure becomes one message
        offline = " (HF_HUB_OFFLINE is set)" if downloads_off() else ""
        raise MissingArtefactError(
            f"eval.backbone=clip: CLIP weights {name_or_path!r} could not be loaded{offline} "
            f"({type(err).__name__}: {err}). Give a local dir saved by transformers with eval.clip_model=PATH, "
            "or use eval.backbone=domain."
        ) from err
    prepare = normalizer(net.config.image_size, CLIP_MEAN, CLIP_STD, "bicubic", device)

    def extract(x: torch.Tensor) -> dict[str, torch.Tensor]:
        embedding = net(pixel_values=prepare(x)).image_embeds
        return {"pool": embedding, "embed": embedding}

    return Backbone(f"clip:{name_or_path}", str(name_or_path), extract, ("pool", "embed"))
