"""Generator folders: config.json (how to rebuild), weights.safetensors, manifest.json (sha256, versions, source)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from safetensors.torch import load_model, save_model

from iguln.core.errors import MissingArtefactError
from iguln.core.io import atomic_dir, atomic_write_json, sha256_file
from iguln.core.versions import package_versions

WEIGHTS, CONFIG, MANIFEST = "weights.safetensors", "config.json", "manifest.json"


def save_generator(generator, path: str | Path, **manifest: Any) -> dict:
    """Write `generator` to a new folder `path` atomically; returns the manifest. Never overwrites a folder."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; a generator folder is never overwritten")
    with atomic_dir(path) as tmp:
        save_model(generator, str(tmp / WEIGHTS))
        atomic_write_json(tmp / CONFIG, generator.spec())
        full = {
            "family": generator.family,
            "sha256": sha256_file(tmp / WEIGHTS),
            "parameters": sum(p.numel() for p in generator.parameters()),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": package_versions(),
            **manifest,
        }
        atomic_write_json(tmp / MANIFEST, full)
    return full


def load_generator(path: str | Path, device: str = "cpu"):
    """(generator in eval mode, manifest) from a folder written by save_generator; checks the weights' sha256 first."""
    from iguln.models.families import FAMILIES

    path = Path(path)
    missing = [name for name in (CONFIG, WEIGHTS, MANIFEST) if not (path / name).is_file()]
    if missing:
        raise MissingArtefactError(
            f"{path} is not a generator folder: {', '.join(missing)} missing "
            f"(expected {CONFIG}, {WEIGHTS}, {MANIFEST})."
        )
    manifest = json.loads((path / MANIFEST).read_text())
    digest = sha256_file(path / WEIGHTS)
    if digest != manifest.get("sha256"):
        raise MissingArtefactError(
            f"{path / WEIGHTS} has sha256 {digest[:12]}..., but its manifest says "
            f"{str(manifest.get('sha256'))[:12]}...: the file was changed or is incomplete. "
            "Delete the folder and make it again."
        )
    spec = json.loads((path / CONFIG).read_text())
    if spec.get("family") not in FAMILIES:
        raise MissingArtefactError(f"{path / CONFIG}: unknown family {spec.get('family')!r}; known: {sorted(FAMILIES)}")
    generator = FAMILIES[spec["family"]](spec["arch"], **spec.get("options", {}))
    load_model(generator, str(path / WEIGHTS), strict=True, device=device)
    return generator.eval(), manifest
