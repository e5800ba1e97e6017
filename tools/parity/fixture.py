"""What a parity fixture is made of, shared by the scripts that write fixtures (run beside a checkout of the
reference code) and the tests that read them (run with iguln). Plain torch only: the reference's environment
cannot import iguln.

Weights are not stored: every trainable tensor of the reference model is filled from its name and shape by a
fixed formula (`filled`), which both sides evaluate alike; a fixture stores the names and shapes, the inputs'
recipe and the reference's outputs (whole, or `sampled` at fixed positions when large). Images come from a formula
too (`images`).
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

SAMPLES = 2048


def hashed_uniform(n: int, salt: int) -> torch.Tensor:
    """n numbers in [0, 1) from a fixed hash of their position and `salt` (float64; no random generator)."""
    k = torch.arange(n, dtype=torch.float64)
    x = torch.sin(k * 12.9898 + (salt % 100003) * 78.233 + 0.5) * 43758.5453
    return x - torch.floor(x)


def salt_of(name: str) -> int:
    return zlib.crc32(name.encode())


def filled(name: str, shape: tuple[int, ...], offset: int = 0) -> torch.Tensor:
    """The value of the tensor `name` of `shape`: uniform with std 1/sqrt(fan in) for matrices and kernels, 1 +- 0.05
    for norm scales, +- 0.025 for biases and the rest. offset: another draw of the same tensor (a student's)."""
    n = math.prod(shape)
    u = hashed_uniform(n, salt_of(name) + 7919 * offset) - 0.5
    if len(shape) >= 2:
        values = u * 2 * math.sqrt(3) / math.sqrt(math.prod(shape[1:]))
    elif name.endswith("weight") and any(s in name.lower() for s in ("norm", "ln", "layernorm")):
        values = 1 + 0.1 * u
    else:
        values = 0.05 * u
    return values.view(*shape).float() if shape else values.float().reshape(())


def normals(shape: tuple[int, ...], salt: int) -> torch.Tensor:
    """Standard normal numbers of `shape` from hashed uniforms (Box-Muller): what a fixture puts where the
    reference code would draw torch.randn, so that both sides can make them."""
    n = math.prod(shape)
    u1 = hashed_uniform(n, salt).clamp(min=1e-12)
    u2 = hashed_uniform(n, salt + 1)
    z = torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * math.pi * u2)
    return z.view(*shape).float()


def perturbed(name: str, value: torch.Tensor, scale: float = 0.01) -> torch.Tensor:
    """A student's copy of a teacher tensor: value + scale * (a second draw in [-0.5, 0.5))."""
    shape = tuple(value.shape)
    u = hashed_uniform(math.prod(shape), salt_of(name) + 104729) - 0.5
    return value + scale * u.view(*shape).float()


def images(batch: int, channels: int, size: int) -> torch.Tensor:
    """Smooth test images in [0, 1]: [batch, channels, size, size], sums of sinusoids of per-image frequencies."""
    y, x = torch.meshgrid(
        torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij"
    )
    out = torch.empty(batch, channels, size, size, dtype=torch.float64)
    for b in range(batch):
        for c in range(channels):
            f1, f2, phase = 1 + (b + 2 * c) % 4, 1 + (3 * b + c) % 5, 0.7 * b + 1.3 * c
            wave = torch.sin(2 * math.pi * f1 * x / size + phase) * torch.cos(2 * math.pi * f2 * y / size - phase)
            out[b, c] = 0.5 + 0.4 * wave + 0.05 * torch.sin(0.9 * x + 1.7 * y + b)
    return out.clamp(0, 1).float()


def sample_positions(numel: int, count: int = SAMPLES) -> torch.Tensor:
    """Fixed flat positions at which a large output is compared (all of them when it is small)."""
    if numel <= count:
        return torch.arange(numel)
    return (hashed_uniform(count, 31337) * numel).long().clamp(max=numel - 1).unique()


def sampled(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor`'s values at sample_positions of its flattened form."""
    flat = tensor.detach().reshape(-1).float()
    return flat[sample_positions(flat.numel())]


def write(path: str | Path, tensors: dict[str, torch.Tensor], facts: dict) -> None:
    """One fixture: tensors (safetensors) and facts (JSON in its metadata)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    save_file(contiguous, str(path), metadata={"facts": json.dumps(facts, sort_keys=True)})


def read(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        facts = json.loads(f.metadata()["facts"])
    return load_file(str(path)), facts
