"""Fixed 2-D sin-cos position tables, shared by the families."""

from __future__ import annotations

import torch


def sincos_positions(grid: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sin-cos position embeddings: [1, 1 + grid * grid, dim], the class token's row all zeros.

    Half the channels encode the row, half the column (each as sin and cos over dim / 4 frequencies).
    """
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(
        torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing="ij"
    )
    parts = []
    for coord in (rows.flatten(), cols.flatten()):
        angles = coord[:, None] * omega[None, :]
        parts += [angles.sin(), angles.cos()]
    table = torch.cat(parts, dim=1)
    table = torch.nn.functional.pad(table, (0, dim - table.shape[1]))
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), table]).unsqueeze(0).float()
