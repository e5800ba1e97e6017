"""Reference points for every score: what the metrics give with no generator at all. The ground truth (the real
test images: the detector's accuracy on real images), the hole filled with zeros (0 in [-1, 1], mid-gray) and the
hole filled with uniform noise in [-1, 1]. They are scored like a model, on the same images, so each record says how
far a fixed fill moves each metric on its own classes (record["references"])."""

from __future__ import annotations

import torch
from torch import nn

from iguln.metrics.catalogue import feature_metrics

FILLS = ("zero", "noise")


class FixedFill(nn.Module):
    """A stand-in generator whose output is its input with the hole (mask 1) filled by `kind`: "zero" or "noise"
    (uniform in [-1, 1], drawn from the scoring pass's generator)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        if kind not in FILLS:
            raise ValueError(f"fill {kind!r}: one of {FILLS}")
        self.kind = kind
        self.generation_values: dict = {"fill": kind}

    def generate(self, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x [B, C, H, W] in [-1, 1], mask [1, 1, H, W] (1: the hole) -> x with the hole filled."""
        if self.kind == "zero":
            inside = torch.zeros_like(x)
        else:
            inside = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1
        return x * (1 - mask) + inside * mask


def fills() -> dict[str, tuple[FixedFill, str]]:
    """The fixed fills as score_models' models: name -> (stand-in, its identity for the feature store)."""
    return {f"{kind}_fill": (FixedFill(kind), f"fixed-fill:{kind}") for kind in FILLS}


def ground_truth_entries(entries: dict) -> dict:
    """Of the metric entries of the real images scored against themselves, the labelled ones (the detector's
    rates on real images); FID, IS and similarity of the ground truth against itself say nothing."""
    labelled = {m.name for m in feature_metrics() if m.labelled}
    return {name: entry for name, entry in entries.items() if name in labelled}
