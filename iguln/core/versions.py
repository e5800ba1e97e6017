"""Versions of the packages a result depends on, and the locked environment they should come from (recorded with
every model and result).

The lock (requirements.lock at the top of the repository; `make lock` writes it, `make install` installs from it)
holds the exact version of every package. A record says which lock it was made with (its sha256) and whether the
installed packages are the locked ones.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

from iguln.core.cpu_isa import cpuinfo
from iguln.core.cpu_isa import describe as describe_cpu_isa

PACKAGES = ("iguln", "torch", "torchvision", "transformers", "diffusers", "timm", "torchmetrics", "hydra-core")
LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"  # beside the package, in a checkout


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK) -> dict[str, str]:
    """{package: version} of a lock file's `name==version` lines (comments and blank lines skipped)."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[_canonical(name)] = version.strip()
    return pins


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def lock_status(path: Path = LOCK) -> dict:
    """The lock a run was made with: {"file", "sha256", "matches", "differs": [package: installed vs locked]}, or
    {"file": None, "missing": why} when there is no lock beside the package (an installed wheel, say)."""
    if not path.is_file():
        return {"file": None, "missing": f"no {path.name} beside the package (installed without a checkout)"}
    differs = []
    for name, version in read_lock(path).items():
        have = installed(name)
        if have != version:
            differs.append(f"{name}: {have or 'not installed'} (locked {version})")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"file": path.name, "sha256": digest, "matches": not differs, "differs": differs}


@functools.cache
def source_commit(root: Path = LOCK.parent) -> str | None:
    """The git commit of the checkout the package runs from, with "+changes" when tracked files differ from it;
    None when it does not run from a git checkout (an installed wheel) or git is not there."""
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


@functools.cache
def cpu_model() -> str:
    """The processor's name as the system gives it (Linux: /proc/cpuinfo's "model name"), else platform's: two CPUs
    with the same vector instructions can still round differently (their kernels pick code by more than that)."""
    return cpuinfo("model name") or platform.processor() or "unknown"


def cpu_flags() -> str | None:
    """The first 12 hex digits of the sha256 of the processor's sorted feature flags (Linux), or None: where two
    machines' processors share a name, whether they offer the same instructions."""
    flags = cpuinfo("flags")
    if flags is None:
        return None
    return hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:12]


def package_versions() -> dict:
    """The packages, the commit, the lock, and the CPU threads and vector instructions torch computes with: a CPU
    run repeats its numbers exactly only with as many threads (reductions are split by thread) and, as far as
    kernels pick their code by it, on the same instruction set (AVX2, AVX512), so a record says both."""
    import torch

    versions: dict = {
        "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        **describe_cpu_isa(),  # the pin of the kernels' vector instructions (iguln/core/cpu_isa.py)
    }
    for name in PACKAGES:
        versions[name] = installed(name) or "not installed"
    versions["commit"] = source_commit()
    versions["lock"] = lock_status()
    return versions
