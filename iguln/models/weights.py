"""Reading released weights files, and checking a converted state dict against the module it is meant for."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from safetensors.torch import load_file

from iguln.core.errors import MissingArtefactError


def read_weights(path: str | Path, key: str) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors file or a torch checkpoint (read with weights_only=True; a "model" or
    "state_dict" entry is unwrapped). `key` names the config key in messages."""
    path = Path(path)
    if not path.is_file():
        raise MissingArtefactError(f"{key}={path}: no such file.")
    if path.suffix == ".safetensors":
        return load_file(str(path))
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):  # MAGE saves its argparse args alongside
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - an unreadable or unsafe file becomes one message
        raise MissingArtefactError(
            f"{key}={path} could not be read as weights ({type(err).__name__}: {err}). Only tensors are loaded."
        ) from err
    for wrapper in ("model", "state_dict"):
        if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
    return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}


def check_keys(given: set[str], expected: set[str], ignored: set[str], what: str) -> None:
    missing, unknown = sorted(expected - given), sorted(given - expected - ignored)
    if missing or unknown:
        lines = [f"{what} does not match the reference layout for this architecture."]
        if missing:
            lines.append(
                f"missing keys ({len(missing)}): {', '.join(missing[:20])}{' ...' if len(missing) > 20 else ''}"
            )
        if unknown:
            lines.append(
                f"unknown keys ({len(unknown)}): {', '.join(unknown[:20])}{' ...' if len(unknown) > 20 else ''}"
            )
        raise MissingArtefactError("\n".join(lines))


def check_shapes(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor], what: str) -> None:
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
        for k, v in target.items()
        if state[k].shape != v.shape
    ]
    if wrong:
        raise MissingArtefactError(f"{what}: tensor shapes differ from this architecture: {', '.join(wrong[:10])}")
