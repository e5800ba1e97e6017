"""Atomic writes and hashing: nothing a user made is ever half-written or overwritten in place. A write that
fails (a full disk, no permission) leaves nothing behind and is a StorageError naming the path."""

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

from safetensors import SafetensorError

from iguln.core.errors import StorageError

# What torch.load raises on a truncated, foreign or unsafe file (with weights_only=True).
UNREADABLE = (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError)


def write_failure(path: str | Path, err: BaseException) -> StorageError | None:
    """The StorageError for `err` raised while writing `path`, when it is a failure to write (an OSError, or
    safetensors' I/O error); None for any other error."""
    if isinstance(err, StorageError):
        return StorageError(path, err.reason)
    io_error = isinstance(err, SafetensorError) and any(s in str(err) for s in ("I/O error", "IoError", "os error"))
    if isinstance(err, OSError) or io_error:
        return StorageError(path, f"{type(err).__name__}: {err}")
    return None


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Call write(file) on a temporary file in `path`'s directory, then rename it to `path`: readers see the old
    file or the whole new one, never a part. A failed write removes the temporary file: StorageError."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        failure = write_failure(path, err)
        if failure is not None:
            raise failure from err
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text))


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling dir to fill; on success it is renamed to `path`.

    An existing `path` is never overwritten: if it appeared meanwhile (another job made the same artefact),
    the new copy is discarded and the existing one kept. When filling it fails to write (a full disk), the
    temporary dir is removed and the error is a StorageError naming `path`.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        yield tmp
        if path.exists():
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        failure = write_failure(path, err)
        if failure is not None:
            raise failure from err
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
