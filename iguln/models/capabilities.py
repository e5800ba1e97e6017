"""Optional capabilities of a generator family: hooks that some losses ask for, beyond the generator interface.

A family has a capability when it defines the method of that name. A loss names the capabilities it needs
(`Objective.needs`); a loss whose family lacks one is refused when the config is checked, naming both. The
helpers below give a loss the family's hook, or the interface's default where a hook is optional.

    encode_probe(x, generator) -> probe
        The random part of the encoder's input besides the image (diffusion: a noise level and noise), so that a
        student and its teacher see the same draw. Without it the encoder is deterministic (probe None).
    forget_target(x, noise, mask, probe) -> features
        The teacher's features that forget images are pulled towards, where a family builds the paper's E0(n)
        differently (diffusion: the forget image's context with pure noise in the hole). Default: E0(n).
    output(x, mask, probe) -> tensor
        The whole network's differentiable output for the masked region, in one pass (MAE: pixels, vqgan: token
        logits, diffusion: the noise estimate). RETAIN LABEL compares it.
    noisy_label_loss(x, noise, mask, generator, form="iguln") -> scalar
        The native loss with the masked region trained towards noise targets (vqgan: random token ids; MAE and
        diffusion: the noise image n). NOISY LABEL's forget term; form "reference" as the reference code has it.
    training_masks(batch, generator) -> mask
        One batch of the family's own pretraining masks (vqgan: MAGE's random token masking; diffusion: hybrid
        masks; MAE: random patches), which encode, output and native_loss take; trainer.masks=family unlearns
        with them, as the reference code does.
    decoding_masks(mask, batch, generator) -> mask
        The states a family's iterative decoding passes its encoder for the task's mask (vqgan: the hole with part
        of its tokens already filled, one round of model.decode.iterations per image), which encode takes;
        trainer.masks=decoding unlearns with them, so that every round of generation sees the unlearned encoder on
        inputs it was trained on.
    decoder_view(features, mask) -> features
        The encoder's features of `encode` as the frozen decoder reads them (vqgan: each hidden token's position
        takes the class token's output, which is what the decoder puts there; the encoder's own outputs at those
        positions reach nothing). loss.features=decoder_input compares features in this view.
    share_frozen(passes) -> weights or None
        Keep the outputs of the family's frozen front end (vqgan: the tokenizer's token ids) in `passes` (a
        FrozenPasses, models/frozen_passes.py; None stops), so that a student and its teacher with the same frozen
        weights compute them once per image batch; returns those weights, which the caller compares, or None
        (nothing kept) when that part is not frozen.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from iguln.models.frozen_passes import FrozenPasses

CAPABILITIES = (
    "encode_probe",
    "forget_target",
    "output",
    "noisy_label_loss",
    "training_masks",
    "decoding_masks",
    "decoder_view",
    "share_frozen",
)


def capabilities(family: type | object) -> frozenset[str]:
    """The capabilities a generator family (class or instance) has: the CAPABILITIES whose method it defines."""
    return frozenset(name for name in CAPABILITIES if callable(getattr(family, name, None)))


def draw_probe(model, x: torch.Tensor, generator: torch.Generator | None) -> Any:
    """One draw of the encoder's random input for images x [B, C, H, W]; None for a deterministic encoder."""
    return model.encode_probe(x, generator) if "encode_probe" in capabilities(model) else None


def forget_features(teacher, x: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor, probe: Any):
    """The teacher's target for forget images x: its family's forget_target, or E0(n), the features of the noise
    image n [B, C, H, W]."""
    if "forget_target" in capabilities(teacher):
        return teacher.forget_target(x, noise, mask, probe)
    return teacher.encode(noise, mask, probe)


def viewed(model, features, mask, view: str):
    """Features as a loss compares them: the encoder's own (view "encoder"), or as the family's frozen decoder
    reads them (view "decoder_input": decoder_view; a family without it passes them on unchanged)."""
    if view == "decoder_input" and "decoder_view" in capabilities(model):
        return model.decoder_view(features, mask)
    return features


def index_probe(probe: Any, rows: torch.Tensor) -> Any:
    """The probe of the images at `rows`: a tensor, or each tensor of a dict, indexed; None stays None."""
    if probe is None:
        return None
    if isinstance(probe, dict):
        return {key: value[rows.to(value.device)] for key, value in probe.items()}
    return probe[rows.to(probe.device)]


@contextmanager
def shared_frozen_passes(student, teacher) -> Iterator[FrozenPasses | None]:
    """While inside, student and teacher share one FrozenPasses (share_frozen) when the family has the capability
    and their frozen weights are equal; yields it, or None when nothing is shared."""
    if "share_frozen" not in capabilities(student) or "share_frozen" not in capabilities(teacher):
        yield None
        return
    passes = FrozenPasses()
    mine, theirs = student.share_frozen(passes), teacher.share_frozen(passes)
    same = mine is not None and theirs is not None and mine.keys() == theirs.keys()
    same = same and all(torch.equal(mine[k], theirs[k]) for k in mine)
    try:
        if not same:
            student.share_frozen(None), teacher.share_frozen(None)
            passes = None
        yield passes
    finally:
        student.share_frozen(None), teacher.share_frozen(None)
