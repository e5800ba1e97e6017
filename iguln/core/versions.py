"""Versions of the packages a result depends on (recorded with every model and result)."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("iguln", "torch", "torchvision", "transformers", "diffusers", "timm", "torchmetrics", "hydra-core")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
