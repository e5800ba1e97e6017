"""The frozen teacher's targets, computed once where they are deterministic (trainer.reuse_frozen, iguln's
default; false recomputes everything every step, as the reference code does).

    retain   E0(x_r) of a retain image depends on the image alone when every step uses the task's mask, separate
             batches and no augmentation, and the encoder draws nothing (no encode_probe): in a run longer than one
             epoch it is kept per data set index (up to trainer.target_cache_mb) and reused when the image comes
             round again
    constant E0(n) of loss.noise_draw=once is one tensor for the whole run under the task's mask: it is computed
             once, on one copy of the noise image

Reused targets equal recomputed ones up to float rounding (a target computed in a smaller batch).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from omegaconf import DictConfig

from iguln.core.errors import ConfigError
from iguln.unlearn.protocol import Protocol


@dataclass(frozen=True)
class Reuse:
    """trainer.reuse_frozen and trainer.target_cache_mb."""

    enabled: bool = True
    cache_mb: float = 1024.0


def read_reuse(cfg: DictConfig) -> Reuse:
    """The `trainer` config's reuse settings; ConfigError on a bad value."""
    enabled, cache_mb = cfg.get("reuse_frozen", True), cfg.get("target_cache_mb", 1024)
    if not isinstance(enabled, bool):
        raise ConfigError("trainer.reuse_frozen", enabled, "true or false (false: recompute every frozen pass)")
    ok = isinstance(cache_mb, (int, float)) and not isinstance(cache_mb, bool) and math.isfinite(cache_mb)
    if not ok or cache_mb < 0:
        raise ConfigError("trainer.target_cache_mb", cache_mb, "a number of megabytes >= 0 (0: keep no targets)")
    return Reuse(enabled, float(cache_mb))


@dataclass
class TargetCache:
    """Teacher targets kept for the run: retain targets by data set index, and the constant forget target."""

    retain_ok: bool
    constant_ok: bool
    max_bytes: int
    rows: dict[int, torch.Tensor] = field(default_factory=dict)
    constant_value: torch.Tensor | None = None
    bytes: int = 0
    hits: int = 0
    misses: int = 0

    @classmethod
    def for_run(cls, reuse: Reuse, protocol: Protocol, repeats: bool = True) -> TargetCache | None:
        """The cache for a run with this protocol, or None when reuse is off or nothing is deterministic. repeats:
        whether a retain image can come round again (the run is longer than one epoch); without, none is kept."""
        task = protocol.masks == "task"
        if not reuse.enabled or not task:
            return None
        retain_ok = protocol.batches == "separate" and protocol.augment is None and repeats
        return cls(retain_ok, True, int(reuse.cache_mb * 2**20))

    def retain(
        self, index: torch.Tensor | None, images: torch.Tensor, compute: Callable[[torch.Tensor], object]
    ) -> object:
        """compute(images) for retain images [B, ...] with data set indices [B], from kept rows where it can."""
        if not self.retain_ok or index is None:
            return compute(images)
        keys = index.tolist()
        missing = [i for i, k in enumerate(keys) if k not in self.rows]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if not missing:
            return torch.stack([self.rows[k] for k in keys])
        fresh = compute(images if len(missing) == len(keys) else images[missing])
        if not isinstance(fresh, torch.Tensor):  # a list of feature maps: not kept
            self.retain_ok = False
            return fresh if len(missing) == len(keys) else compute(images)
        for j, i in enumerate(missing):
            size = fresh[j].numel() * fresh[j].element_size()
            if self.bytes + size <= self.max_bytes:
                self.rows[keys[i]] = fresh[j].detach().clone()
                self.bytes += size
        if len(missing) == len(keys):
            return fresh
        computed = dict(zip(missing, fresh, strict=True))
        return torch.stack([computed[i] if i in computed else self.rows[k] for i, k in enumerate(keys)])

    def constant(self, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """compute() the first time; its value every later time."""
        if not self.constant_ok:
            return compute()
        if self.constant_value is None:
            self.constant_value = compute()
        return self.constant_value

    def record(self) -> dict:
        return {
            "retain_targets_kept": len(self.rows) if self.retain_ok else None,
            "retain_hits": self.hits,
            "retain_misses": self.misses,
            "kept_mb": round(self.bytes / 2**20, 2),
            "constant_forget_target": self.constant_value is not None,
        }
