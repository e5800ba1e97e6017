"""Config groups and their options: the YAML files under iguln/conf/<group>/ (sub-folders as a/b) and the options
that registered plug-ins stored in Hydra's ConfigStore."""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_store import ConfigStore

from iguln.config import CONF_DIR

# Hydra's own groups (hydra/launcher, ...) have options from Hydra and its plug-ins: Hydra checks those.
HYDRA_GROUP = "hydra"


def groups() -> list[str]:
    """Every config group but Hydra's: the folders of iguln/conf and the ConfigStore's groups."""
    found = {p.name for p in Path(CONF_DIR).iterdir() if p.is_dir()}
    found |= {name for name, node in ConfigStore.instance().repo.items() if isinstance(node, dict)}
    return sorted(found - {HYDRA_GROUP})


def options(group: str) -> list[str]:
    """The options of a config group, sorted."""
    found = set()
    root = Path(CONF_DIR) / group
    if root.is_dir():
        found |= {str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml")}
    node = ConfigStore.instance().repo.get(group)
    if isinstance(node, dict):
        found |= {name.removesuffix(".yaml") for name in node if name.endswith(".yaml")}
    return sorted(found)
