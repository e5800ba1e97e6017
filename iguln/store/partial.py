"""Checkpoints of runs in progress: <paths.store>/partial/<run>-<hash of key>/checkpoint.pt, one file per run,
written atomically and removed once the run's result is safe (training/checkpoints.py says what goes in them).

A checkpoint is read with torch.load(weights_only=True), and refused with the reason when it cannot be read or
another config (key) wrote it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

from iguln.core.errors import MissingArtefactError
from iguln.core.io import UNREADABLE, atomic_torch_save, config_hash
from iguln.store.layout import entry_dir

FILE = "checkpoint.pt"


class CheckpointError(MissingArtefactError):
    """A checkpoint that cannot be trusted: unreadable, or written by another config."""


def checkpoint_file(store: str | Path, name: str, key: dict) -> Path:
    """Where the checkpoint of the run named `name` with config `key` lives in the store."""
    return entry_dir(store, "partial", name, key) / FILE


def refusal(path: Path, why: str) -> str:
    return (
        f"the checkpoint {path} cannot be resumed: {why}. Delete it to start this run over (rm {path}), or add "
        "resume=false."
    )


def read_checkpoint(path: str | Path, key: dict) -> dict | None:
    """The payload saved at `path` for `key`; None when there is none; CheckpointError when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except UNREADABLE as err:
        raise CheckpointError(refusal(path, f"it cannot be read ({type(err).__name__}: {err})")) from err
    if not isinstance(payload, dict) or payload.get("key_hash") != config_hash(key):
        raise CheckpointError(refusal(path, "it was written by a different config"))
    return payload


def write_checkpoint(path: str | Path, key: dict, payload: dict) -> None:
    """Write `payload` (tensors and plain containers) for `key`, atomically."""
    atomic_torch_save(path, {"key_hash": config_hash(key), **payload})


def discard_checkpoint(path: str | Path) -> None:
    """Remove a run's checkpoint file and its folder (the run's result is safe elsewhere)."""
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
    with contextlib.suppress(OSError):
        path.parent.rmdir()
