"""Plug-ins: modules that register their own losses, metrics, families or data sources (see iguln/extend.py).

They are imported before a command reads its config, so their names are options like the built-in ones:
- IGULN_PLUGINS: module names, comma-separated (`IGULN_PLUGINS=mylab.losses iguln train loss=my_loss`);
- the `iguln.plugins` entry points of installed packages
  (`[project.entry-points."iguln.plugins"] mylab = "mylab.losses"` in their pyproject.toml).
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

from iguln.core.errors import ConfigError

ENV = "IGULN_PLUGINS"
GROUP = "iguln.plugins"
_loaded: set[str] = set()


def plugin_modules() -> list[str]:
    """The modules to import: IGULN_PLUGINS's, then the entry points'."""
    named = [m.strip() for m in os.environ.get(ENV, "").split(",") if m.strip()]
    return named + [ep.value.partition(":")[0] for ep in entry_points(group=GROUP)]


def load_plugins() -> list[str]:
    """Import every plug-in module once; a module that cannot be imported is a ConfigError naming it."""
    modules = plugin_modules()
    for module in modules:
        if module in _loaded:
            continue
        try:
            importlib.import_module(module)
        except Exception as err:  # noqa: BLE001 - any failure to import a plug-in becomes one message
            raise ConfigError(
                ENV,
                module,
                "importable Python modules, comma-separated (or entry points of the group iguln.plugins)",
                f"Importing it failed: {type(err).__name__}: {err}",
            ) from err
        _loaded.add(module)
    return modules
