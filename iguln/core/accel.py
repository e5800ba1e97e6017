"""The fast path on a GPU: TF32, channels-last, torch.compile, and the peak memory and throughput every run records.

bf16 autocast is in unlearn/engine.py (trainer.precision); CPU always runs float32, so CPU results stay
reproducible. These switches change speed, not what is computed, up to floating-point rounding.
"""

from __future__ import annotations

import resource
import sys

import torch
from omegaconf import DictConfig

from iguln.core.errors import ConfigError


def check_accel(cfg: DictConfig) -> None:
    for key in ("tf32", "channels_last", "compile"):
        if not isinstance(cfg.get(key), bool):
            raise ConfigError(f"trainer.{key}", cfg.get(key), "true or false")


def configure_backend(device: torch.device, tf32: bool) -> None:
    """TF32 matmuls and convolutions on CUDA (for what bf16 autocast leaves in float32)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def compile_blocks(module: torch.nn.Module) -> int:
    """torch.compile, in place, every block held in an nn.ModuleList (transformer layers, the UNet's down and up
    blocks and the resnets of its middle block): the families call these blocks one by one (an encoder alone,
    or the whole network), so compiling a top-level forward would miss most calls. Returns how many."""
    count = 0
    for child in module.children():
        if isinstance(child, torch.nn.ModuleList):
            blocks = [block for block in child if block is not None]  # diffusers keeps None for absent attention
            for block in blocks:
                block.compile()
            count += len(blocks)
        else:
            count += compile_blocks(child)
    return count


def accelerate(generator: torch.nn.Module, device: torch.device, cfg: DictConfig) -> torch.nn.Module:
    """Channels-last weights (CUDA only) and in-place torch.compile of the generator's blocks, as
    trainer.channels_last / trainer.compile ask. State-dict keys do not change. Done once per generator."""
    if getattr(generator, "_iguln_accelerated", False):
        return generator
    if cfg.channels_last and device.type == "cuda":
        generator.to(memory_format=torch.channels_last)
    if cfg.compile:
        count = compile_blocks(generator)
        # Blocks of one class share one compiled code object and each block instance (and shape) is a recompile:
        # let every block have its own entries instead of falling back to eager after 8.
        dynamo = torch._dynamo.config
        dynamo.recompile_limit = max(dynamo.recompile_limit, 4 * count)
        dynamo.accumulated_recompile_limit = max(dynamo.accumulated_recompile_limit, 16 * count)
        generator._iguln_compiled_blocks = count
    generator._iguln_accelerated = True
    return generator


def peak_memory(device: torch.device) -> dict:
    """Peak GPU memory allocated by torch (CUDA) and the process's peak resident memory, in GiB."""
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    out = {"peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**30, 3)}
    if device.type == "cuda":
        out["peak_gpu_allocated_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    return out
