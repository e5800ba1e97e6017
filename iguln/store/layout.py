"""The store: reusable artefacts (original generators, domain judges) in folders keyed by the config that made them.

Layout: <paths.store>/<kind>/<name>-<hash of key>/ ; the key itself is kept in the folder's manifest.json.
"""

from __future__ import annotations

from pathlib import Path

from iguln.core.io import config_hash


def entry_dir(store: str | Path, kind: str, name: str, key: dict) -> Path:
    """The folder of the artefact of `kind` made from `key` (it may not exist yet)."""
    return Path(store) / kind / f"{name}-{config_hash(key)}"
