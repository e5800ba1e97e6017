"""One unlearning run: the student's trainable parameters, its batches and the engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Dataset

from iguln.core import distributed
from iguln.core.seeding import make_generator, seed_modules
from iguln.data.batches import BatchStream
from iguln.models.generator import Generator
from iguln.training.checkpoints import Checkpoints
from iguln.training.engine import fit
from iguln.training.recipe import Recipe


def freeze_all_but(generator: Generator, scope: str) -> list[torch.nn.Parameter]:
    """Make only the `scope` ("encoder" or "all") trainable; returns those parameters."""
    trainable = (
        generator.encoder_parameters() if scope == "encoder" else [p for p in generator.parameters() if p.requires_grad]
    )
    keep = {id(p) for p in trainable}
    for p in generator.parameters():
        p.requires_grad_(id(p) in keep)
    return trainable


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
) -> dict:
    """Train `student` with `loss` on batches of forget and retain images (recipe.batch_size of each per step).

    checkpoint: (file, key, every) to resume from that file when it holds a checkpoint of `key`, and to write one
    there every `every` steps (the caller discards it once the result is safe).

    Under torchrun every process draws the same batches and takes its share of the rows; noise and dropout are
    drawn per process, and gradients are averaged, so all processes take the same steps."""
    teacher.eval()  # its targets are computed without gradients; its own flags stay as they are
    student.train()
    params = freeze_all_but(student, loss.scope)
    pin = device.type == "cuda"
    forget_batches = BatchStream(forget, recipe.batch_size, seed + 1, num_workers, pin)
    retain_batches = BatchStream(retain, recipe.batch_size, seed + 2, num_workers, pin)
    noise_generator = make_generator(distributed.rank_seed(seed + 3))
    seed_modules(distributed.rank_seed(seed + 6))
    mask = mask.to(device)

    def step():
        x_f = distributed.batch_share(next(forget_batches)).to(device, non_blocking=True)
        x_r = distributed.batch_share(next(retain_batches)).to(device, non_blocking=True)
        return loss(student, teacher, x_f, x_r, mask, noise_generator)

    checkpoints = None
    if checkpoint is not None:
        path, key, every = checkpoint
        streams = [forget_batches, retain_batches]
        modules = {"student": student}
        checkpoints = Checkpoints(path, key, every, modules, {"noise": noise_generator}, streams, collective=True)
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
    )
    distributed.check_in_sync(params)
    student.eval()
    history["trainable_parameters"] = sum(p.numel() for p in params)
    history["total_parameters"] = sum(p.numel() for p in student.parameters())
    return history
