"""One job in several processes (`torchrun --nproc_per_node=N -m iguln train ...`): the process group, which
process does what, and the collectives iguln needs.

Every process unlearns on its share of each step's batch and evaluates its share of the test images; gradients
are averaged before each optimizer step and features are gathered before any metric. Process 0 (the main one)
alone writes: records, the store, checkpoints, samples, loggers. Without torchrun nothing here does anything.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator, Sequence

import torch
import torch.distributed as dist

TIMEOUT_ENV = "IGULN_DIST_TIMEOUT_MIN"  # how long a process waits for the others (pretraining the original, say)
DEFAULT_TIMEOUT_MIN = 24 * 60


def launched() -> bool:
    """Whether torchrun started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def backend() -> str:
    """gloo for CPU tensors, and NCCL for CUDA tensors where CUDA is visible."""
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


def init() -> None:
    """Join torchrun's process group (from its environment variables), once."""
    if dist.is_initialized():
        return
    minutes = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_MIN))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend=backend(), timeout=datetime.timedelta(minutes=minutes))


def describe() -> dict | None:
    """What the record says about the processes: None for one process."""
    if not active():
        return None
    return {"world_size": world_size(), "backend": dist.get_backend()}


def barrier() -> None:
    if active():
        dist.barrier()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """The main process runs the block first (pretraining the original, training the judge, filling the store);
    the others wait, then run it and find its results."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def broadcast(obj):
    """The main process's `obj`, in every process."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def rank_seed(seed: int) -> int:
    """A seed of this process's own: `seed` itself in the main process, so one process draws what it always did."""
    return seed + 1_000_003 * rank()


def shard(n: int, index: int | None = None, count: int | None = None) -> range:
    """Process `index`'s (default: this one's) contiguous share of n items among `count` processes (default: all);
    the first n % count processes take one more. The shares in rank order are range(n)."""
    index, count = rank() if index is None else index, world_size() if count is None else count
    size, extra = divmod(n, count)
    start = index * size + min(index, extra)
    return range(start, start + size + (index < extra))


def batch_share(batch: torch.Tensor) -> torch.Tensor:
    """This process's rows of a batch every process drew alike: [B, ...] -> [B / world_size, ...]."""
    if not active():
        return batch
    rows = shard(len(batch))
    return batch[rows.start : rows.stop]


def average_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Replace each gradient by its mean over the processes (one flat all-reduce; a missing gradient counts as 0),
    so that every process takes the same optimizer step."""
    if not active():
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1).float() for g in grads])
    dist.all_reduce(flat)
    flat /= world_size()
    offset = 0
    for p, g in zip(params, grads, strict=True):
        n = g.numel()
        p.grad = flat[offset : offset + n].view_as(g).to(g.dtype)
        offset += n


def all_gather_objects(obj) -> list:
    """Every process's `obj`, in rank order."""
    if not active():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def gather_rows(features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Features [n_r, D] of each process's shard, concatenated in rank order (so in the data's order when the
    shards are `shard`'s): every process gets the whole [N, D]."""
    if not active():
        return features
    parts = all_gather_objects({k: v.cpu() for k, v in features.items()})
    keys = dict.fromkeys(k for p in parts for k in p)  # a process whose share was empty has none
    return {k: torch.cat([p[k] for p in parts if k in p]) for k in keys}


def check_in_sync(params: Sequence[torch.nn.Parameter]) -> None:
    """Raise when the processes' parameters differ (they must stay equal: same start, same averaged steps)."""
    if not active():
        return
    with torch.no_grad():
        total = torch.stack([p.double().sum() for p in params]).sum().cpu()
    sums = all_gather_objects(float(total))
    if len(set(sums)) > 1:
        raise RuntimeError(f"the processes' parameters diverged (sums per process: {sums})")
