"""CLIP image embeddings through open_clip (the paper's ViT-H-14 `laion2b_s32b_b79k`): "pool" and "embed".

eval.clip_model names it as `open_clip:<arch>@<pretrained tag or weights file>`, e.g.
`open_clip:ViT-H-14@laion2b_s32b_b79k` (open_clip's download from the Hugging Face hub) or
`open_clip:ViT-H-14@/data/open_clip_pytorch_model.bin`, or as `open_clip:local-dir:<dir>` for a dir holding
`open_clip_config.json` and its weights. open_clip reads weights files with weights_only=True.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch

from iguln.core.errors import MissingArtefactError
from iguln.core.io import sha256_file
from iguln.core.offline import downloads_off

PREFIX = "open_clip:"
LOCAL_DIR = "local-dir:"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")


def is_open_clip(spec: str) -> bool:
    return str(spec).startswith(PREFIX)


def clip_available(spec: str) -> bool:
    """Whether eval.clip_model can be loaded without a download, or downloads are on."""
    body = spec[len(PREFIX) :] if is_open_clip(spec) else spec
    local = body[len(LOCAL_DIR) :] if body.startswith(LOCAL_DIR) else body.partition("@")[2] or body
    return Path(local).exists() or not downloads_off()


def _weights_in(directory: Path) -> Path:
    files = sorted(p for p in directory.iterdir() if p.suffix in WEIGHT_SUFFIXES)
    if not (directory / "open_clip_config.json").is_file() or not files:
        raise MissingArtefactError(
            f"eval.clip_model={PREFIX}{LOCAL_DIR}{directory}: the dir needs open_clip_config.json and a weights file "
            f"({', '.join(WEIGHT_SUFFIXES)}); found {sorted(p.name for p in directory.iterdir())}."
        )
    return sorted(files, key=lambda p: p.suffix != ".safetensors")[0]


def _create(spec: str):
    """(model, record name, weights identity) for an open_clip spec."""
    import open_clip

    body = spec[len(PREFIX) :]
    if body.startswith(LOCAL_DIR):
        directory = Path(body[len(LOCAL_DIR) :])
        if not directory.is_dir():
            raise MissingArtefactError(f"eval.clip_model={spec}: {directory} is not a dir.")
        weights = _weights_in(directory)
        return open_clip.create_model(f"{LOCAL_DIR}{directory}"), spec, sha256_file(weights)
    arch, _, pretrained = body.partition("@")
    if not arch or not pretrained:
        raise MissingArtefactError(
            f"eval.clip_model={spec}: expected open_clip:<arch>@<pretrained tag or weights file> "
            "(e.g. open_clip:ViT-H-14@laion2b_s32b_b79k) or open_clip:local-dir:<dir>."
        )
    if Path(pretrained).is_file():
        return open_clip.create_model(arch, pretrained=pretrained), spec, sha256_file(pretrained)
    if pretrained.endswith(WEIGHT_SUFFIXES):
        raise MissingArtefactError(f"eval.clip_model={spec}: {pretrained} is not a file.")
    if downloads_off():
        raise MissingArtefactError(
            f"eval.clip_model={spec}: open_clip would download {arch} {pretrained} and HF_HUB_OFFLINE is set. Give "
            f"a local file with eval.clip_model=open_clip:{arch}@/path/to/open_clip_pytorch_model.bin."
        )
    return open_clip.create_model(arch, pretrained=pretrained), spec, f"open_clip pretrained tag {pretrained}"


def open_clip_backbone(spec: str, device: torch.device):
    """The image tower of an open_clip model; embeddings of images [B, C, H, W] in [-1, 1] -> [B, D]."""
    from iguln.metrics.backbones import CLIP_MEAN, CLIP_STD, Backbone, normalizer

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            model, name, weights = _create(spec)
    except MissingArtefactError:
        raise
    except Exception as err:  # noqa: BLE001 - any load failure becomes one message
        raise MissingArtefactError(
            f"eval.clip_model={spec}: open_clip could not load it ({type(err).__name__}: {err}). Give a local weights "
            "file (open_clip:<arch>@/path/to/weights) or dir (open_clip:local-dir:/path), or use eval.backbone=domain."
        ) from err
    import open_clip

    model = model.to(device).eval().requires_grad_(False)
    preprocess = open_clip.get_model_preprocess_cfg(model)
    size, mean, std = preprocess.get("size", 224), preprocess.get("mean", CLIP_MEAN), preprocess.get("std", CLIP_STD)
    prepare = normalizer(size, mean, std, "bicubic", device)

    def extract(x: torch.Tensor) -> dict[str, torch.Tensor]:
        embedding = model.encode_image(prepare(x))
        return {"pool": embedding, "embed": embedding}

    return Backbone(f"clip:{name}", weights, extract, ("pool", "embed"))
