"""Reader for the IDX format of MNIST-style data sets (plain or gzip-compressed)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file into an array whose shape is the file's dimensions (e.g. [N, 28, 28] uint8)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    data = np.frombuffer(raw, dtype=_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} values, found {data.size} (truncated file?)")
    return data.reshape(*dims)


def find_idx(root: str | Path, stem: str) -> Path | None:
    """The IDX file `stem` (e.g. 'train-images-idx3-ubyte') in `root`, gzipped or not, or None."""
    for name in (stem, f"{stem}.gz"):
        candidate = Path(root) / name
        if candidate.is_file():
            return candidate
    return None
