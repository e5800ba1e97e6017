"""Weights folders: the one way iguln writes a module it loads again (original, Retrain and unlearned generators,
domain judges) and the one way it reads one back.

A folder holds weights.safetensors, manifest.json (the weights' sha256, versions, when and what made it) and, for a
generator, config.json (what to rebuild it from). It is filled in a temporary sibling and renamed, never
overwritten. It is read only after the weights' sha256 matches the manifest's, and only with safetensors.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_model, save_model
from torch import nn

from iguln.core.errors import MissingArtefactError
from iguln.core.io import atomic_dir, atomic_write_json, sha256_file
from iguln.core.versions import package_versions

WEIGHTS, CONFIG, MANIFEST = "weights.safetensors", "config.json", "manifest.json"


def write_folder(path: str | Path, module: nn.Module, manifest: dict, config: dict | None = None) -> dict:
    """Write `module`'s weights, `config` (when given) and the manifest to a new folder `path`; returns the manifest
    as written (with sha256, created, versions). Raises FileExistsError when `path` exists."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; a weights folder is never overwritten")
    with atomic_dir(path) as tmp:
        save_model(module, str(tmp / WEIGHTS))
        if config is not None:
            atomic_write_json(tmp / CONFIG, config)
        full = {
            "sha256": sha256_file(tmp / WEIGHTS),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": package_versions(),
            **manifest,
        }
        atomic_write_json(tmp / MANIFEST, full)
    return full


@dataclass(frozen=True)
class Folder:
    """A weights folder whose weights matched their manifest when it was read."""

    path: Path
    manifest: dict
    config: dict | None

    def load_into(self, module: nn.Module, device: str = "cpu") -> nn.Module:
        """Load the weights into `module` (every tensor, same names and shapes)."""
        load_model(module, str(self.path / WEIGHTS), strict=True, device=device)
        return module


def read_folder(path: str | Path, what: str, with_config: bool = False) -> Folder:
    """The folder `path` after checking its files and the weights' sha256; MissingArtefactError naming `what`
    (e.g. "a generator folder") when it is not one, or when its weights changed."""
    path = Path(path)
    needed = [CONFIG] * with_config + [WEIGHTS, MANIFEST]
    missing = [name for name in needed if not (path / name).is_file()]
    if missing:
        raise MissingArtefactError(
            f"{path} is not {what}: {', '.join(missing)} missing (expected {', '.join(needed)})."
        )
    manifest = json.loads((path / MANIFEST).read_text())
    digest = sha256_file(path / WEIGHTS)
    if digest != manifest.get("sha256"):
        raise MissingArtefactError(
            f"{path / WEIGHTS} has sha256 {digest[:12]}..., but its manifest says "
            f"{str(manifest.get('sha256'))[:12]}...: the file was changed or is incomplete. "
            "Delete the folder and make it again."
        )
    config = json.loads((path / CONFIG).read_text()) if with_config else None
    return Folder(path, manifest, config)


def is_folder(path: str | Path) -> bool:
    """Whether `path` holds a finished folder (its manifest is written last, by the rename)."""
    return (Path(path) / MANIFEST).is_file()
