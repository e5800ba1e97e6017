"""Choosing the unlearned weights on held-out train images (trainer.select): early stopping on the targets.

Every `every` steps, or at the steps listed in `at`, and after the last, the student is scored on validation
images, train images of the forget and the retain classes that unlearning never sees (split.val_per_class): its
forget and retain FID, each as a ratio of the original's on the same images. A check's margin is how far it is
from failing the nearer of the two targets,

    margin = min(forget ratio / forget target, retain target / retain ratio)

(over 1: both met). The run ends with the weights of the check with the largest margin. The rule is fixed, the
same for every family and split; the test images that are scored afterwards play no part in it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf

from iguln.core.errors import ConfigError, positive_int

Score = Callable[[], dict[str, float]]  # the student's validation ratios now: {"forget": r_f, "retain": r_r}


@dataclass(frozen=True)
class Selection:
    every: int | None = None
    forget_target: float = 3.0
    retain_target: float = 1.10
    at: tuple[int, ...] = ()

    def record(self) -> dict:
        when = {"every": self.every} if self.every is not None else {"at": list(self.at)}
        return {**when, "targets": {"forget": self.forget_target, "retain": self.retain_target}}

    def due(self, step: int, total: int) -> bool:
        """Whether a check follows the `step`-th step of `total`."""
        every = self.every is not None and step % self.every == 0
        return every or step in self.at or step == total

    def margin(self, ratios: dict[str, float]) -> float:
        """min(forget / its target, retain target / retain): -inf when a ratio is missing or not positive."""
        forget, retain = ratios.get("forget"), ratios.get("retain")
        if forget is None or retain is None or not math.isfinite(forget) or not retain > 0:
            return -math.inf
        return min(forget / self.forget_target, self.retain_target / retain)


def read_selection(cfg: DictConfig | None, val_per_class) -> Selection | None:
    """trainer.select: null (the last step's weights), or {every: N} or {at: [step, ...]}, with targets: {forget:
    3.0, retain: 1.10}."""
    if cfg is None:
        return None
    value = OmegaConf.to_container(cfg) if OmegaConf.is_config(cfg) else cfg
    allowed = "null, or {every: N steps | at: [steps, ...], targets: {forget: > 0, retain: > 0}}"
    if not isinstance(value, dict) or set(value) - {"every", "at", "targets"} or ("every" in value) == ("at" in value):
        raise ConfigError("trainer.select", value, allowed)
    every, at, targets = value.get("every"), value.get("at"), value.get("targets") or {}
    if "every" in value:
        positive_int("trainer.select.every", every)
    if "at" in value and not (isinstance(at, list) and at):
        raise ConfigError("trainer.select.at", at, "a list of positive step numbers")
    for step in at or ():
        positive_int("trainer.select.at", step)
    if not isinstance(targets, dict) or set(targets) - {"forget", "retain"}:
        raise ConfigError("trainer.select.targets", targets, "{forget: > 0, retain: > 0}")
    numbers = {k: targets.get(k, d) for k, d in (("forget", 3.0), ("retain", 1.10))}
    for k, v in numbers.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
            raise ConfigError(f"trainer.select.targets.{k}", v, "a number > 0")
    if val_per_class is None:
        raise ConfigError(
            "split.val_per_class",
            None,
            "a positive number of train images per class",
            "trainer.select scores the student on train images held out of unlearning; set e.g. "
            "split.val_per_class=150, or trainer.select=null.",
        )
    return Selection(every, float(numbers["forget"]), float(numbers["retain"]), tuple(sorted(set(at or ()))))


class Selector:
    """Runs the checks of one unlearning run and keeps the weights of the best so far (on the CPU).

    params: the trained parameters, in a fixed order; score: the student's validation ratios now."""

    def __init__(self, selection: Selection, params: list[torch.nn.Parameter], score: Score, total_steps: int):
        self.selection, self.params, self.score, self.total = selection, params, score, total_steps
        self.checks: list[dict] = []
        self.best: list[torch.Tensor] | None = None

    def __call__(self, step: int) -> None:
        """After `step` optimizer steps: a check when one is due."""
        if not self.selection.due(step, self.total):
            return
        ratios = self.score()
        margin = self.selection.margin(ratios)
        best = max((c["margin"] for c in self.checks), default=-math.inf)
        self.checks.append({"step": step, **ratios, "margin": margin})
        if self.best is None or margin > best:
            self.best = [p.detach().cpu().clone() for p in self.params]

    @property
    def chosen(self) -> dict | None:
        """The check whose weights are kept: the first with the largest margin."""
        if not self.checks:
            return None
        return max(self.checks, key=lambda c: (c["margin"], -c["step"]))

    @torch.no_grad()
    def restore(self) -> None:
        """Put the chosen check's weights into the parameters."""
        if self.best is not None:
            for p, saved in zip(self.params, self.best, strict=True):
                p.copy_(saved.to(p.device))

    def state(self) -> dict:
        """What a checkpoint keeps of the selection so far."""
        return {"checks": self.checks, "best": self.best}

    def load(self, state: dict) -> None:
        self.checks, self.best = list(state.get("checks", [])), state.get("best")

    def record(self) -> dict:
        return {**self.selection.record(), "checks": self.checks, "chosen": self.chosen}
