"""Task masks as tensors: [1, 1, H, W] float, 1 = pixel the generator must fill, 0 = pixel it is given."""

from __future__ import annotations

from collections.abc import Callable

import torch
from omegaconf import DictConfig

from iguln.core.errors import ConfigError
from iguln.core.registry import Registry


def _side(size: int, fraction: object, key: str, upper: float) -> int:
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction < upper:
        raise ConfigError(key, fraction, f"a number in (0, {upper})")
    pixels = round(size * fraction)
    if pixels < 1:
        raise ConfigError(key, fraction, f"at least 1/{size} (it must cover one pixel at {size} px)")
    return pixels


def center_square(size: int, fraction: float) -> torch.Tensor:
    """A centred square whose side is `fraction` of `size`: [1, 1, size, size]."""
    side = _side(size, fraction, "task.fraction", 1.0)
    start = (size - side) // 2
    mask = torch.zeros(1, 1, size, size)
    mask[..., start : start + side, start : start + side] = 1.0
    return mask


def border(size: int, fraction: float) -> torch.Tensor:
    """A border `fraction` of `size` wide on all four sides: [1, 1, size, size]."""
    width = _side(size, fraction, "task.fraction", 0.5)
    mask = torch.ones(1, 1, size, size)
    mask[..., width : size - width, width : size - width] = 0.0
    return mask


TASKS: Registry[Callable[[int, float], torch.Tensor]] = Registry("task", "task.name", group="task")
TASKS.register("inpaint_center", center_square)
TASKS.register("outpaint", border)


def task_mask(cfg: DictConfig, size: int) -> torch.Tensor:
    """The mask of the task config `cfg` at `size` px: [1, 1, size, size], 1 = fill."""
    return TASKS.get(cfg.name)(size, cfg.fraction)


def apply_mask(x: torch.Tensor, mask: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """What a generator is shown: x [B, C, H, W] with the masked pixels set to `fill`."""
    return x * (1 - mask) + fill * mask


def coarse_mask(mask: torch.Tensor, factor: int, batch: int) -> torch.Tensor:
    """Pixel mask [B or 1, 1, H, W] -> cell mask [batch, (H / factor) * (W / factor)] bool, row-major.

    A cell (a patch, or the pixels behind one token) is masked when any of its pixels is, so the cells cover
    every masked pixel.
    """
    cells = torch.nn.functional.max_pool2d(mask.float(), factor).flatten(1) > 0
    return cells.expand(batch, -1)


def random_rectangles(batch: int, grid: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Training masks over a grid x grid of cells: one random rectangle per image, [batch, grid * grid] bool.

    The rectangle's sides are drawn once per batch from [grid/4, 3 grid/4] (so every image masks as many cells),
    its position per image.
    """
    low, high = max(1, grid // 4), max(1, 3 * grid // 4)
    h, w = torch.randint(low, high + 1, (2,), generator=generator).tolist()
    top = torch.randint(0, grid - h + 1, (batch, 1, 1), generator=generator)
    left = torch.randint(0, grid - w + 1, (batch, 1, 1), generator=generator)
    rows, cols = torch.arange(grid).view(1, grid, 1), torch.arange(grid).view(1, 1, grid)
    inside = (rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w)
    return inside.flatten(1)


def random_cells(batch: int, length: int, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Training masks: `count` of `length` cells chosen at random per image, [batch, length] bool."""
    ranks = torch.rand(batch, length, generator=generator).argsort(1).argsort(1)
    return ranks >= length - count


def brush_strokes(batch: int, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Irregular training masks (Palette's "free-form" kind): 1-3 strokes per image, each a random walk of 6
    segments, drawn with a square brush size/16 to size/8 px wide (one width per batch): [batch, 1, size, size]."""
    strokes, segments, per_segment = 3, 6, 2 * size // 8 + 2
    start = torch.rand(batch, strokes, 1, 2, generator=generator) * size
    angle = torch.rand(batch, strokes, segments, generator=generator) * 2 * torch.pi
    length = (0.1 + 0.2 * torch.rand(batch, strokes, segments, generator=generator)) * size
    steps = torch.stack([torch.sin(angle), torch.cos(angle)], -1) * length[..., None]
    vertices = torch.cat([start, start + steps.cumsum(2)], 2).clamp(0, size - 1)  # [B, S, V + 1, 2]
    weights = torch.linspace(0, 1, per_segment).view(1, 1, 1, -1, 1)
    points = torch.lerp(vertices[:, :, :-1, None], vertices[:, :, 1:, None], weights).round().long()
    active = torch.arange(strokes).view(1, strokes) < torch.randint(1, strokes + 1, (batch, 1), generator=generator)
    points = points.flatten(2, 3)  # [B, S, P, 2]
    index = (points[..., 0] * size + points[..., 1]).masked_fill(~active[..., None], size * size).flatten(1)
    canvas = torch.zeros(batch, size * size + 1).scatter_(1, index, 1.0)[:, :-1].view(batch, 1, size, size)
    radius = max(1, int(size / 32 + torch.rand(1, generator=generator) * size / 32))
    return torch.nn.functional.max_pool2d(canvas, 2 * radius + 1, stride=1, padding=radius)


def hybrid_masks(batch: int, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Palette-style "hybrid" training masks, one kind per image: a random box (40 %), brush strokes (40 %), or a
    border of random width up to a quarter of the side (20 %, for outpainting): [batch, 1, size, size]."""
    kind = torch.rand(batch, generator=generator)
    boxes = random_rectangles(batch, size, generator).view(batch, 1, size, size).float()
    strokes = brush_strokes(batch, size, generator)
    widths = torch.randint(1, max(2, size // 4 + 1), (batch, 1, 1, 1), generator=generator)
    index = torch.arange(size).view(1, 1, size, 1)
    inner_rows = (index >= widths) & (index < size - widths)
    borders = 1.0 - (inner_rows & inner_rows.transpose(2, 3)).float()
    kind = kind.view(batch, 1, 1, 1)
    return torch.where(kind < 0.4, boxes, torch.where(kind < 0.8, strokes, borders))
