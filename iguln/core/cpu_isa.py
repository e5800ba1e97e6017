"""The vector instructions torch's CPU kernels may use, pinned so that one config can give the same weights on
x86 processors that differ in them: ATen, oneDNN and MKL each pick their code by the processor (AVX2, AVX512, ...),
and the code they pick rounds differently, so an original pretrained on an AVX512 machine differs from one
pretrained on an AVX2 machine with the same config, seed and threads (README: Seeds).

`IGULN_CPU_ISA` (read when iguln is imported, before torch is): avx2 (default), avx512, default (no vector
extensions) or native (torch's own choice, the fastest). It sets the variables each library reads when it first
computes (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA, MKL_ENABLE_INSTRUCTIONS), unless they are set already, and only on
a processor that has the pinned instructions (code for instructions it lacks would stop the process); elsewhere torch
chooses. Every record keeps the pin in effect (`versions.cpu_isa`) and what torch used (`versions.cpu_capability`).
"""

from __future__ import annotations

import os
import platform

from iguln.core.errors import ConfigError

VARIABLE = "IGULN_CPU_ISA"
DEFAULT = "avx2"
PINS = {  # IGULN_CPU_ISA -> the variables each library reads
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "avx512": {
        "ATEN_CPU_CAPABILITY": "avx512",
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
        "MKL_ENABLE_INSTRUCTIONS": "AVX512",
    },
    "default": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "native": {},
}
NEEDS = {  # the processor flags (/proc/cpuinfo) each pin's code runs on, as ATen checks them
    "avx2": {"avx2", "fma"},
    "avx512": {"avx512f", "avx512bw", "avx512vl", "avx512dq"},
    "default": set(),
}
X86 = {"x86_64", "amd64", "i386", "i686"}


def cpuinfo(field: str) -> str | None:
    """The first value of `field` in /proc/cpuinfo (Linux), or None."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.split(":", 1)[0].strip() == field:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def requested(environ=os.environ) -> str:
    """IGULN_CPU_ISA as set (lower case), or the default."""
    return environ.get(VARIABLE, DEFAULT).strip().lower() or DEFAULT


def check(environ=os.environ) -> None:
    """Raise ConfigError for an IGULN_CPU_ISA that is not one of PINS."""
    if requested(environ) not in PINS:
        raise ConfigError(VARIABLE, environ.get(VARIABLE), PINS,
                          f"(default {DEFAULT}; native: torch's own choice; README: Seeds)")  # fmt: skip


def in_effect(environ=os.environ, machine: str | None = None, flags: str | None = None) -> str:
    """The pin this process can run with: IGULN_CPU_ISA where the processor is x86 and has its instructions, else
    "native (...)" saying why not."""
    value = requested(environ)
    if value not in PINS:
        return f"native ({VARIABLE} not valid)"
    if value == "native":
        return value
    if (machine or platform.machine()).lower() not in X86:
        return "native (not an x86 processor)"
    have = set((flags if flags is not None else cpuinfo("flags") or "").split())
    missing = NEEDS[value] - have
    if missing and not have:
        return "native (the processor's flags are unknown)"
    if missing:
        return f"native (the processor lacks {', '.join(sorted(missing))})"
    return value


def pin(environ=os.environ, machine: str | None = None, flags: str | None = None) -> dict[str, str]:
    """Set the pinned libraries' variables in `environ` where unset and the pin can run here (in_effect). Returns
    {variable: value} of what it set."""
    value = in_effect(environ, machine, flags)
    done = {}
    for name, setting in PINS.get(value, {}).items():
        if name not in environ:
            environ[name] = setting
            done[name] = setting
    return done


def describe() -> dict:
    """What a record keeps: the pin in effect and each pinned library's variable as the process runs with it."""
    names = sorted({n for p in PINS.values() for n in p})
    return {"cpu_isa": in_effect(), **{n.lower(): os.environ.get(n) for n in names}}
