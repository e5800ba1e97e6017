"""Atomic writes and hashing: nothing a user made is ever half-written or overwritten in place."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# What torch.load raises on a truncated, foreign or unsafe file (with weights_only=True).
UNREADABLE = (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError)


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Call write(file) on a temporary file in `path`'s directory, then rename it to `path`: readers see the old
    file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text))


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling dir to fill; on success it is renamed to `path`.

    An existing `path` is never overwritten: if it appeared meanwhile (another job made the same artefact),
    the new copy is discarded and the existing one kept.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def config_hash(data: Any, length: int = 12) -> str:
    """A short, stable hash of a JSON-able value (key order does not matter)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def atomic_torch_save(path: str | Path, data: Any) -> None:
    import torch

    atomic_write(path, lambda f: torch.save(data, f), mode="wb")
