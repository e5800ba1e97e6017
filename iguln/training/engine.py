"""The step-based training engine shared by pretraining, the domain judge and unlearning."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

import torch
from tqdm.auto import tqdm

from iguln.training.checkpoints import Checkpoints
from iguln.training.recipe import Recipe

StepFn = Callable[[], tuple[torch.Tensor, dict[str, float]]]


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up over `warmup` steps, then a half-cycle cosine to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_constant(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up over `warmup` steps (none when 0), then 1."""
    return (step + 1) / warmup if step < warmup else 1.0


SCHEDULE_FACTORS = {"warmup_cosine": warmup_cosine, "constant": warmup_constant}


def param_groups(
    params: list[torch.nn.Parameter], weight_decay: float, no_decay_1d: bool, names: dict[int, str] | None = None
) -> list[dict]:
    """AdamW's parameter groups: one with `weight_decay`; with no_decay_1d, 1-D parameters (norm scales) and biases
    (by name, when `names` maps id(parameter) to it) in a second group without it, as timm's add_weight_decay (the
    reference code) splits them."""
    if not no_decay_1d:
        return [{"params": params, "weight_decay": weight_decay}]
    names = names or {}

    def decays(p: torch.nn.Parameter) -> bool:
        return p.ndim > 1 and not names.get(id(p), "").endswith(".bias")

    groups = [
        {"params": [p for p in params if decays(p)], "weight_decay": weight_decay},
        {"params": [p for p in params if not decays(p)], "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def autocast(device: torch.device, precision: str):
    """bf16 autocast on CUDA when asked for; a no-op on CPU (CPU runs float32 so results are reproducible)."""
    enabled = device.type == "cuda" and precision == "bf16"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def fit(
    params: Iterable[torch.nn.Parameter] | dict[str, Iterable[torch.nn.Parameter]],
    step_fn: StepFn,
    recipe: Recipe,
    device: torch.device,
    precision: str = "bf16",
    desc: str = "train",
    log: Callable[[int, dict[str, float]], None] | None = None,
    log_every: int = 10,
    checkpoints: Checkpoints | None = None,
    average: Callable[[list[torch.nn.Parameter]], None] | None = None,
    names: dict[int, str] | None = None,
    after_step: Callable[[int], None] | None = None,
) -> dict:
    """Run `recipe.steps` optimizer steps of `step_fn` (which draws its own batch and returns (loss, terms)).

    AdamW with the recipe's betas and weight decay (param_groups), its schedule, gradient clipping.
    `params` may be a dict of named groups (e.g. a generator and its discriminator): each gets its own optimizer,
    and `step_fn` then returns a dict of losses with the same names, each stepping only its group.
    With `checkpoints`, the run starts from the last checkpoint when there is one, and writes one every
    `checkpoints.every` steps. `average(params)`, when given, runs after each backward pass, before clipping
    (distributed.average_gradients: every process then steps alike). `names` (id(parameter) -> name) lets
    no_decay_1d find biases by name. `after_step(n)`, when given, runs after the n-th step's update, before its
    checkpoint (unlearn/selection.py checks the student there). Returns the history: per-step terms, wall
    time and steps per second (of this session), and the step it resumed from.
    """
    groups = {name: list(p) for name, p in params.items()} if isinstance(params, dict) else {"": list(params)}
    if not all(groups.values()):
        raise ValueError("nothing to train: a parameter list is empty")
    optimizers = {
        name: torch.optim.AdamW(
            param_groups(p, recipe.weight_decay, recipe.no_decay_1d, names), lr=recipe.lr, betas=recipe.betas
        )
        for name, p in groups.items()
    }
    factor = SCHEDULE_FACTORS[recipe.schedule]
    schedules = {
        name: torch.optim.lr_scheduler.LambdaLR(o, lambda s: factor(s, recipe.warmup_steps, recipe.steps))
        for name, o in optimizers.items()
    }
    first, history, earlier_s = 0, {}, 0.0
    if checkpoints is not None:
        first, history, earlier_s = checkpoints.restore(optimizers, schedules)
    start = time.perf_counter()
    bar = tqdm(range(first, recipe.steps), desc=desc, dynamic_ncols=True, mininterval=1.0, initial=first)
    for step in bar:
        with autocast(device, precision):
            losses, terms = step_fn()
        losses = losses if isinstance(losses, dict) else {next(iter(groups)): losses}
        for i, (name, loss) in enumerate(losses.items()):
            for optimizer in optimizers.values():  # a group's backward must not leave gradients in another
                optimizer.zero_grad(set_to_none=True)
            loss.backward(retain_graph=i < len(losses) - 1)
            if average is not None:
                average(groups[name])
            prefix = f"{name}_" if len(groups) > 1 else ""
            if recipe.grad_clip is not None:
                norm = torch.nn.utils.clip_grad_norm_(groups[name], recipe.grad_clip)
                terms[f"{prefix}grad_norm"] = float(norm)
            optimizers[name].step()
            schedules[name].step()
            terms[f"{prefix}loss"] = float(loss.detach())
        terms["lr"] = next(iter(schedules.values())).get_last_lr()[0]
        for key, value in terms.items():
            history.setdefault(key, []).append(value)
        shown = {k: f"{v:.4g}" for k, v in terms.items() if k != "lr" and not k.endswith("grad_norm")}
        bar.set_postfix(shown, refresh=False)
        if log is not None and (step % log_every == 0 or step == recipe.steps - 1):
            log(step, terms)
        if after_step is not None:
            after_step(step + 1)
        if checkpoints is not None and checkpoints.due(step + 1, recipe.steps):
            elapsed = earlier_s + time.perf_counter() - start
            checkpoints.save(step + 1, optimizers, schedules, history, elapsed)
    wall = time.perf_counter() - start
    tail = max(1, recipe.steps // 10)
    ran = recipe.steps - first
    return {
        "steps": recipe.steps,
        "resumed_from_step": first,
        "wall_s": round(earlier_s + wall, 3),
        "steps_per_s": round(ran / wall, 3) if wall > 0 and ran else None,
        "final": {k: sum(v[-tail:]) / tail for k, v in history.items()},
        "history": history,
    }
