"""The forget-class detector rate: a classifier of the data set's classes (the domain judge offline) reads each
output and says which class it shows. On the forget set the rate is the share of outputs it assigns to any forget
class (an unlearned model should bring it down); on the retain set, the share assigned to the image's own class
(it should stay as high as the original's). Computed on the whole image and on the filled region alone
(`hole_only`): the unmasked surround often gives the class away by itself, so the whole-image rate can stay high
however the hole is filled.

A detector is only as good as its accuracy on generated images: the record's references hold the rate on the real
images (ground truth) and on fixed fills of the hole (reference_fills.py), and the original's retain rate is the
detector's accuracy on generated outputs.
"""

from __future__ import annotations

import torch

OUTSIDE = -1.0  # what hole_only puts outside the hole: black in [-1, 1], the background of a centred object


def hole_only(images: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """images [B, C, H, W] in [-1, 1] with every pixel outside the hole (hole [1, 1, H, W], 1 inside) set to
    OUTSIDE: what the detector sees of the filled region alone."""
    return images * hole + OUTSIDE * (1 - hole)


def detector_rate(logits: torch.Tensor, labels: torch.Tensor, forget: tuple[int, ...], subset: str) -> dict:
    """logits [N, K] over the data set's classes, labels [N] the images' classes. forget set: the share whose
    predicted class is a forget class; retain set: the share predicted as their own class. Also the share of
    each predicted class ("predicted": {class index: share}) for the forget set."""
    if len(logits) == 0:
        from iguln.metrics.catalogue import MetricMissing

        raise MetricMissing("no outputs were scored")
    predicted = logits.argmax(dim=1).cpu()
    labels = labels.cpu()
    if subset == "forget":
        hit = torch.isin(predicted, torch.tensor(forget, dtype=predicted.dtype))
        classes, counts = predicted.unique(return_counts=True)
        shares = {int(c): round(int(n) / len(predicted), 4) for c, n in zip(classes, counts, strict=True)}
        return {"value": hit.float().mean().item(), "reads": "share assigned to a forget class", "predicted": shares}
    hit = predicted == labels
    return {"value": hit.float().mean().item(), "reads": "share assigned to the image's own class"}
