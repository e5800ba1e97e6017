"""The registry of unlearning losses (`loss.name`): every row of the paper's tables, built from its config with
every value checked first.

An entry owns its metadata: the row label in the paper's tables, what it trains (scope), the family capabilities
it calls (needs; a family that lacks one is refused at config time, naming both), and whether `iguln reproduce`
runs it as one of the paper's rows. A loss from elsewhere registers with `register_loss` (iguln/extend.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from omegaconf import DictConfig

from iguln.core.errors import ConfigError
from iguln.core.registry import Registry
from iguln.unlearn.baselines import MaxLoss, NoisyLabel, RandomEncoder, RetainLabel
from iguln.unlearn.l2_noise import L2Noise
from iguln.unlearn.noise import NOISES
from iguln.unlearn.objective import FEATURES, FORGET_NORMS, FORMS, NOISE_DRAWS, TARGETS, Objective

RETRAIN = "retrain"  # not a loss: a fresh generator trained on every class but the forget classes (a reference)
PROXY = " (proxy retain)"  # a row's label with split.retain_source=proxy


@dataclass(frozen=True)
class LossEntry:
    """A `loss` option. objective: the Objective class, or None for Retrain (no unlearning; a fresh generator)."""

    name: str
    row: str
    scope: str
    needs: frozenset[str]
    objective: type[Objective] | None
    paper: bool = False  # one of the paper's rows: `iguln reproduce` runs it for every family

    def label(self, retain_source: str = "retain") -> str:
        """The row label in a table: e.g. "Ours", or "Ours (proxy retain)"."""
        return self.row + (PROXY if retain_source == "proxy" else "")


LOSSES: Registry[LossEntry] = Registry("loss", "loss.name", group="loss")


def register_loss(objective: type[Objective], config: dict | None = None, paper: bool = False) -> type[Objective]:
    """Add an Objective subclass under its `name`, with its `row`, `scope` and `needs`. `config`: its `loss` config
    group option (the keys besides `name`, e.g. {"alpha": 0.25}), for a loss without a YAML file in
    iguln/conf/loss/."""
    entry = LossEntry(objective.name, objective.row, objective.scope, frozenset(objective.needs), objective, paper)
    LOSSES.register(objective.name, entry, config)
    return objective


for _objective in (MaxLoss, NoisyLabel, RetainLabel, RandomEncoder, L2Noise):
    register_loss(_objective, paper=True)
LOSSES.register(RETRAIN, LossEntry(RETRAIN, "Retrain", "all (from scratch)", frozenset(), None, paper=True))


def loss_entry(name: str) -> LossEntry:
    return LOSSES.get(name)


def _alpha(cfg: DictConfig) -> float:
    alpha = cfg.get("alpha")
    ok = isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and math.isfinite(alpha) and alpha >= 0
    if not ok:
        raise ConfigError("loss.alpha", alpha, "a finite number >= 0 (the weight of the forget term)")
    return float(alpha)


def check_loss(cfg: DictConfig, family: str, capabilities: frozenset[str]) -> LossEntry:
    """Check the `loss` config against the model family `family` with `capabilities`; raises ConfigError."""
    entry = loss_entry(cfg.name)
    missing = sorted(entry.needs - capabilities)
    if missing:
        supported = [name for name, e in LOSSES.items() if e.needs <= capabilities]
        raise ConfigError(
            "loss",
            cfg.name,
            supported,
            f"model={family} lacks {', '.join(missing)}, which loss={cfg.name} needs "
            "(optional family capabilities: iguln/models/capabilities.py).",
        )
    if entry.objective is not None:
        build_loss(cfg)
    return entry


def build_loss(cfg: DictConfig) -> Objective:
    """The loss object named by loss.name (a callable (student, teacher, forget, retain, mask, generator))."""
    entry = loss_entry(cfg.name)
    if entry.objective is None:
        raise ConfigError("loss.name", cfg.name, [n for n, e in LOSSES.items() if e.objective], "It trains nothing.")
    noise = cfg.get("noise", "gaussian")
    NOISES.get(noise)
    form = cfg.get("form", "iguln")
    if form not in FORMS:
        raise ConfigError("loss.form", form, FORMS, "reference: the forget term as the reference code defines it.")
    draw = cfg.get("noise_draw", "step")
    if draw not in NOISE_DRAWS:
        raise ConfigError("loss.noise_draw", draw, NOISE_DRAWS, "once: one noise image for the whole run.")
    features = cfg.get("features", "encoder")
    if features not in FEATURES:
        raise ConfigError(
            "loss.features", features, FEATURES, "decoder_input: the features as the frozen decoder reads them."
        )
    target = cfg.get("target", "family")
    if target not in TARGETS:
        raise ConfigError(
            "loss.target", target, TARGETS, "noise_image: E0(n), the noise image's features, for every family."
        )
    norm = cfg.get("forget_norm", "none")
    if norm not in FORGET_NORMS:
        raise ConfigError(
            "loss.forget_norm", norm, FORGET_NORMS, "initial: the forget term divided by its value at the run's start."
        )
    if norm != "none" and not entry.objective.has_start_value:
        calibrated = [n for n, e in LOSSES.items() if e.objective is not None and e.objective.has_start_value]
        raise ConfigError(
            "loss.forget_norm",
            norm,
            "none",
            f"loss={cfg.name} has no start value to divide by; {', '.join(calibrated)} has.",
        )
    return entry.objective(
        alpha=_alpha(cfg),
        noise=noise,
        form=form,
        noise_draw=draw,
        noise_seed=_noise_seed(cfg),
        features=features,
        target=target,
        forget_norm=norm,
    )


def _noise_seed(cfg: DictConfig) -> int | None:
    seed = cfg.get("noise_seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        allowed = "null (the job's seed) or an integer >= 0 (the seed of the one noise draw)"
        raise ConfigError("loss.noise_seed", seed, allowed)
    return seed
