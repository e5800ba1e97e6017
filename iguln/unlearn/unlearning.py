"""One unlearning run: the student's trainable parameters, its batches and the engine."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.utils.data import Dataset

from iguln.core import distributed
from iguln.core.seeding import make_generator, seed_modules
from iguln.data.batches import BalancedSets, BatchStream, Indexed
from iguln.models.capabilities import shared_frozen_passes
from iguln.models.generator import Generator
from iguln.training.checkpoints import Checkpoints
from iguln.training.engine import fit
from iguln.training.recipe import Recipe
from iguln.unlearn.objective import Masks, Step
from iguln.unlearn.protocol import Protocol
from iguln.unlearn.selection import Score, Selection, Selector
from iguln.unlearn.targets import Reuse, TargetCache


def freeze_all_but(generator: Generator, scope: str) -> list[torch.nn.Parameter]:
    """Make only the `scope` ("encoder" or "all") trainable; returns those parameters."""
    trainable = (
        generator.encoder_parameters() if scope == "encoder" else [p for p in generator.parameters() if p.requires_grad]
    )
    keep = {id(p) for p in trainable}
    for p in generator.parameters():
        p.requires_grad_(id(p) in keep)
    return trainable


def forget_sample(forget: Dataset, size: int = 256) -> torch.Tensor:
    """The fixed sample of the forget set [min(size, N), C, H, W] that the run's one noise image is drawn from and
    loss.forget_norm=initial is measured on: spread evenly over the set, so that every forget class is in it
    (the set is ordered by class)."""
    index = torch.linspace(0, len(forget) - 1, min(len(forget), size)).round().long().unique()
    return torch.stack([forget[int(i)][0] for i in index])


def fix_forget_target(loss, teacher: Generator, forget: Dataset, mask: torch.Tensor, seed: int, device) -> None:
    """What the loss fixes before the first step, from the fixed sample of the forget set, so that a resumed run
    (and benchmarks/start_distance.py) fixes it alike: the run's one noise image (loss.noise_draw=once) and the
    forget term's start value (loss.forget_norm=initial)."""
    once = getattr(loss, "noise_draw", "step") == "once"
    calibrate = getattr(loss, "forget_norm", "none") == "initial"
    if not (once or calibrate):
        return
    sample = forget_sample(forget).to(device)
    if once:
        loss.fix_noise(sample, loss.once_generator(seed))
    if calibrate:
        loss.calibrate(teacher, sample, mask.to(device), make_generator(seed + 10))


def unlearn(
    student: Generator,
    teacher: Generator,
    loss,
    forget: Dataset,
    retain: Dataset,
    mask: torch.Tensor,
    recipe: Recipe,
    device: torch.device,
    seed: int,
    precision: str = "bf16",
    num_workers: int = 0,
    log: Callable[[int, dict[str, float]], None] | None = None,
    log_every: int = 10,
    checkpoint: tuple[Path, dict, int] | None = None,
    protocol: Protocol | None = None,
    reuse: Reuse | None = None,
    select: tuple[Selection, Score] | None = None,
) -> dict:
    """Train `student` with `loss` on forget and retain images, each step as `protocol` says (protocol.py): by
    default recipe.batch_size forget and as many retain images, with the task mask [1, 1, H, W].

    checkpoint: (file, key, every) to resume from that file when it holds a checkpoint of `key`, and to write one
    there every `every` steps (the caller discards it once the result is safe).

    Under torchrun every process draws the same batches (and family masks and crops) and takes its share of the
    rows; noise and dropout are drawn per process, and gradients are averaged, so all processes take the same
    steps.

    reuse: frozen work done once (targets.py; default on): the frozen front end shared by student and teacher
    (share_frozen), deterministic teacher targets kept; the history's "reuse" says what was reused.

    select: (selection, score), to end with the weights of the best check on validation images (selection.py)
    instead of the last step's; score() gives the student's validation ratios. The history's "selection" lists
    the checks and the one chosen."""
    protocol, reuse = protocol or Protocol(), reuse or Reuse()
    teacher.eval()  # its targets are computed without gradients; its own flags stay as they are
    student.train()
    params = freeze_all_but(student, "all" if protocol.params == "all" else loss.scope)
    pin = device.type == "cuda"
    if protocol.batches == "mixed":
        streams = [BatchStream(BalancedSets(forget, retain), recipe.batch_size, seed + 1, num_workers, pin, True)]
    else:
        streams = [
            BatchStream(forget, recipe.batch_size, seed + 1, num_workers, pin),
            BatchStream(Indexed(retain), recipe.batch_size, seed + 2, num_workers, pin, True),
        ]
    noise_generator = make_generator(distributed.rank_seed(seed + 3))
    draws = make_generator(seed + 7)  # family masks and crops: the same in every process, which takes its rows
    seed_modules(distributed.rank_seed(seed + 6))
    weight = student.reference_weights.get(loss.name, 1.0)
    fix_forget_target(loss, teacher, forget, mask, seed, device)

    repeats = protocol.batches == "separate" and recipe.steps > len(streams[1].loader)  # batches in an epoch
    cache = TargetCache.for_run(reuse, protocol, repeats)

    def step():
        forget_x, retain_x, masks, context = make_step(streams, protocol, mask, student, draws, weight, device, cache)
        return loss(student, teacher, forget_x, retain_x, masks, noise_generator, context)

    selector = None
    if select is not None:
        selector = Selector(select[0], params, _in_eval(student, select[1], device), recipe.steps)
    checkpoints = None
    if checkpoint is not None:
        path, key, every = checkpoint
        modules = {"student": student}
        generators = {"noise": noise_generator, "draws": draws}
        extra = None if selector is None else (selector.state, selector.load)
        checkpoints = Checkpoints(path, key, every, modules, generators, streams, extra=extra, collective=True)
    with shared_frozen_passes(student, teacher) if reuse.enabled else _nothing() as passes:
        history = fit(
            params,
            step,
            recipe,
            device,
            precision,
            desc="unlearn",
            log=log,
            log_every=log_every,
            checkpoints=checkpoints,
            average=distributed.average_gradients,
            names={id(p): name for name, p in student.named_parameters()},
            after_step=selector,
        )
    if selector is not None:
        selector.restore()
        history["selection"] = selector.record()
    history["reuse"] = {
        "enabled": reuse.enabled,
        "shared_frozen_passes": None if passes is None else passes.record(),
        "targets": None if cache is None else cache.record(),
    }
    distributed.check_in_sync(params)
    student.eval()
    if getattr(loss, "forget_scale", None) is not None:
        history["forget_scale"] = loss.forget_scale  # the forget term's start value it was divided by
    history["trainable_parameters"] = sum(p.numel() for p in params)
    history["total_parameters"] = sum(p.numel() for p in student.parameters())
    return history


def _in_eval(student: Generator, score: Score, device: torch.device) -> Score:
    """score() with the student in eval mode (no dropout), back in train mode afterwards, and torch's global random
    state as it was (a data loader draws from it): the checks leave the steps of the run as they were."""

    def scored() -> dict[str, float]:
        student.eval()
        try:
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                return score()
        finally:
            student.train()

    return scored


@contextmanager
def _nothing():
    yield None


def make_step(streams, protocol: Protocol, mask, student, draws, weight: float, device, cache=None):
    """(forget [B_f, C, H, W], retain [B_r, C, H, W], masks, step) of the next step, on `device`: from the forget
    and the retain stream (separate; the retain stream's items carry their data set index), or split out of one
    mixed batch, its terms weighted as the reference's."""
    retain_index = None
    if protocol.batches == "mixed":
        images, labels = next(streams[0])
    else:
        forget, (retain, retain_index) = next(streams[0]), next(streams[1])
        images = torch.cat([forget, retain])
        labels = torch.tensor([BalancedSets.FORGET] * len(forget) + [BalancedSets.RETAIN] * len(retain))
    if protocol.augment is not None:
        images = protocol.augment(images, draws)
    masks = None
    if protocol.masks == "family":
        masks = student.training_masks(len(images), draws)
    elif protocol.masks == "decoding":
        masks = student.decoding_masks(mask, len(images), draws)
    rows = distributed.shard(len(images)) if protocol.batches == "mixed" else None
    if rows is not None:  # a mixed batch is shared out as one; separate batches each in their own halves
        images, labels = images[rows.start : rows.stop], labels[rows.start : rows.stop]
        masks = None if masks is None else masks[rows.start : rows.stop]
    images = images.to(device, non_blocking=True)
    index = {s: torch.nonzero(labels == s).flatten() for s in (BalancedSets.FORGET, BalancedSets.RETAIN)}
    if rows is None:
        index = {s: _share(i) for s, i in index.items()}
    f_rows, r_rows = index[BalancedSets.FORGET], index[BalancedSets.RETAIN]
    total = len(images) if protocol.batches == "mixed" else None
    weights = (1.0, 1.0) if total is None else (weight * len(f_rows) / total, weight * len(r_rows) / total)
    # a mixed batch without images of one set: that term weighs 0, on a stand-in image
    f_rows = f_rows if len(f_rows) else r_rows[:1]
    r_rows = r_rows if len(r_rows) else f_rows[:1]
    pairing = None if total is None else _tiled(f_rows, r_rows)
    if masks is None:
        pair = Masks(mask.to(device), mask.to(device))
    else:
        pair = Masks(_rows(masks, f_rows, device), _rows(masks, r_rows, device))
    population = images if total is not None else None
    if retain_index is not None:
        retain_index = retain_index[r_rows.cpu() - len(forget)]
    return images[f_rows], images[r_rows], pair, Step(weights, pairing, population, cache, retain_index)


def _share(rows: torch.Tensor) -> torch.Tensor:
    """This process's share of one set's rows (separate batches: each set is shared out on its own)."""
    part = distributed.shard(len(rows))
    return rows[part.start : part.stop]


def _tiled(forget_rows: torch.Tensor, retain_rows: torch.Tensor) -> torch.Tensor:
    """For each forget image, the index (among the retain images) of the one RETAIN LABEL compares it with, as the
    reference tiles the batch's retain images over the batch: the one at its batch position mod B_r."""
    return forget_rows % len(retain_rows)


def _rows(masks, rows: torch.Tensor, device):
    picked = masks[rows]
    return picked.to(device)
