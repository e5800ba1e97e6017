"""Fixed 2-D sin-cos position tables, shared by the families."""

from __future__ import annotations

import torch


def sincos_positions(grid: int, dim: int, columns_first: bool = False) -> torch.Tensor:
    """Fixed 2-D sin-cos position embeddings: [1, 1 + grid * grid, dim], the class token's row all zeros.

    Half the channels encode the row, half the column (each as sin and cos over dim / 4 frequencies); the row's
    half first, or with columns_first the column's, as facebookresearch/mae's get_2d_sincos_pos_embed orders them
    (the tables of MAE's released weights).
    """
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(
        torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing="ij"
    )
    parts = []
    order = (cols, rows) if columns_first else (rows, cols)
    for coord in (c.flatten() for c in order):
        angles = coord[:, None] * omega[None, :]
        parts += [angles.sin(), angles.cos()]
    table = torch.cat(parts, dim=1)
    table = torch.nn.functional.pad(table, (0, dim - table.shape[1]))
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), table]).unsqueeze(0).float()
