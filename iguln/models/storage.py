"""Generator folders in the store's format (iguln/store/folders.py): config.json (the family, architecture and
options to rebuild it from), weights.safetensors and manifest.json (sha256, versions, role, source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iguln.core.errors import MissingArtefactError
from iguln.models.generator import Generator
from iguln.store.folders import CONFIG, read_folder, write_folder

__all__ = ["CONFIG", "load_generator", "save_generator"]


def save_generator(generator: Generator, path: str | Path, **manifest: Any) -> dict:
    """Write `generator` to a new folder `path` atomically; returns the manifest. Never overwrites a folder."""
    parameters = sum(p.numel() for p in generator.parameters())
    full = {"family": generator.family, "parameters": parameters, **manifest}
    return write_folder(path, generator, full, config=generator.spec())


def load_generator(path: str | Path, device: str = "cpu") -> tuple[Generator, dict]:
    """(generator in eval mode, manifest) from a folder written by save_generator; checks the weights' sha256 first."""
    from iguln.models.families import FAMILIES

    folder = read_folder(path, "a generator folder", with_config=True)
    spec = folder.config
    if spec.get("family") not in FAMILIES:
        raise MissingArtefactError(
            f"{folder.path / CONFIG}: unknown family {spec.get('family')!r}; known: {', '.join(FAMILIES.names())}"
        )
    generator = FAMILIES.get(spec["family"])(spec["arch"], **spec.get("options", {}))
    folder.load_into(generator, device)
    return generator.eval(), folder.manifest
