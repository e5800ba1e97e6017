"""Step checkpoints that let a killed pretraining or unlearning run resume and end with the same numbers.

A checkpoint (one file per run, in the store: iguln/store/partial.py) is written every `every` steps and removed
when the run's result is safe. It holds the modules' states, the optimizers and schedules, every random generator
(torch's global one included), the history so far, and the key of the config that made it. Under torchrun process
0 writes it, with every process's random generators ("ranks"), and each process restores its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from iguln.core import distributed
from iguln.data.batches import BatchStream
from iguln.store.partial import CheckpointError, read_checkpoint, refusal, write_checkpoint

log = logging.getLogger("iguln")


@dataclass
class Checkpoints:
    """Checkpoints of one training run (a pretraining stage or an unlearning run).

    modules: whose state_dicts are saved; generators: the run's own random generators; streams: the batch streams,
    one batch drawn per step each; extra: (get, set) of any further state (a stage's counters); every: steps
    between checkpoints (0: never).
    """

    path: Path
    key: dict
    every: int
    modules: dict[str, nn.Module]
    generators: dict[str, torch.Generator] = field(default_factory=dict)
    streams: list[BatchStream] = field(default_factory=list)
    extra: tuple[Callable[[], dict], Callable[[dict], None]] | None = None
    tag: str = ""  # which part of a run (a pretraining stage); a checkpoint of another part is not restored
    collective: bool = False  # every torchrun process runs this training (unlearning), not process 0 alone

    # -- reading ------------------------------------------------------------------------------------------------

    def read(self) -> dict | None:
        """The saved payload, None when there is none; CheckpointError when it cannot be used."""
        return read_checkpoint(self.path, self.key)

    def restore(self, optimizers: dict, schedules: dict) -> tuple[int, dict, float]:
        """Load the last checkpoint into the run's parts: (next step, history, wall seconds so far); (0, {}, 0.0)
        when there is none."""
        payload = self.read()
        if payload is None or payload.get("tag", "") != self.tag:
            return 0, {}, 0.0
        try:
            for name, module in self.modules.items():
                module.load_state_dict(payload["modules"][name])
            for name, optimizer in optimizers.items():
                optimizer.load_state_dict(payload["optimizers"][name])
            for name, schedule in schedules.items():
                schedule.load_state_dict(payload["schedules"][name])
            own = payload["ranks"][distributed.rank()] if "ranks" in payload else payload
            for name, generator in self.generators.items():
                generator.set_state(own["generators"][name])
        except (KeyError, RuntimeError, ValueError, IndexError) as err:
            raise CheckpointError(refusal(self.path, f"its contents do not match this run ({err})")) from err
        step = int(payload["step"])
        for stream in self.streams:  # before the global generator is restored: seeking draws from it
            stream.seek(step)
        torch.set_rng_state(own["torch_rng"])
        if torch.cuda.is_available() and own.get("cuda_rng"):
            torch.cuda.set_rng_state_all(own["cuda_rng"])
        if self.extra is not None:
            self.extra[1](payload["extra"])
        log.info("resuming from %s at step %d", self.path, step)
        return step, payload["history"], float(payload["wall_s"])

    # -- writing ------------------------------------------------------------------------------------------------

    def due(self, step: int, total: int) -> bool:
        """Whether to write a checkpoint after `step` steps (never after the last: the result is saved then)."""
        return self.every > 0 and step % self.every == 0 and step < total

    @staticmethod
    def _random_state(generators: dict[str, torch.Generator]) -> dict:
        return {
            "generators": {name: g.get_state() for name, g in generators.items()},
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def save(self, step: int, optimizers: dict, schedules: dict, history: dict, wall_s: float) -> None:
        """Write the checkpoint. A collective one is saved by every process, and process 0 writes it with each
        process's random state."""
        own = self._random_state(self.generators)
        ranks = distributed.all_gather_objects(own) if self.collective else [own]
        if not distributed.is_main():
            return
        payload = {
            "tag": self.tag,
            "step": step,
            "wall_s": wall_s,
            "modules": {name: module.state_dict() for name, module in self.modules.items()},
            "optimizers": {name: o.state_dict() for name, o in optimizers.items()},
            "schedules": {name: s.state_dict() for name, s in schedules.items()},
            **ranks[0],
            "extra": self.extra[0]() if self.extra is not None else {},
            "history": history,
        }
        if len(ranks) > 1:
            payload["ranks"] = ranks
        write_checkpoint(self.path, self.key, payload)
