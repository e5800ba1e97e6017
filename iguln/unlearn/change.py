"""How much of the original unlearning changed: the share of parameters (elements) that differ and the L2 norm of
the change, over the whole generator and over the part each loss trains (its encoder for encoder-only losses)."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def weight_change(original: nn.Module, result: nn.Module, encoder: set[str] | None = None) -> dict:
    """{"parameters", "changed", "changed_share", "change_norm", "relative_change_norm", and the same under
    "encoder" for the parameter names in `encoder`}: result's parameters against the original's of the same name."""
    before = dict(original.named_parameters())
    parts = {"all": lambda name: True}
    if encoder is not None:
        parts["encoder"] = lambda name: name in encoder
    sums = {part: [0, 0, 0.0, 0.0] for part in parts}  # elements, changed, ||delta||^2, ||theta_0||^2
    for name, after in result.named_parameters():
        if name not in before or before[name].shape != after.shape:
            continue
        delta = after.detach().float().cpu() - before[name].detach().float().cpu()
        for part, wanted in parts.items():
            if wanted(name):
                s = sums[part]
                s[0] += delta.numel()
                s[1] += int((delta != 0).sum())
                s[2] += float(delta.pow(2).sum())
                s[3] += float(before[name].detach().float().pow(2).sum())
    out = {}
    for part, (elements, changed, delta_sq, base_sq) in sums.items():
        entry = {
            "parameters": elements,
            "changed": changed,
            "changed_share": changed / elements if elements else None,
            "change_norm": delta_sq**0.5,
            "relative_change_norm": (delta_sq / base_sq) ** 0.5 if base_sq else None,
        }
        if part == "all":
            out.update(entry)
        else:
            out[part] = entry
    return out
