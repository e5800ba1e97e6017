"""Where the store keeps each kind of artefact: <paths.store>/<kind>/<name>-<hash of key>/, the key itself kept
in the entry (its manifest, or the checkpoint's key hash).

    original/   original generators (iguln pretrain, or imported released weights)   folders.py
    retrain/    Retrain references (loss=retrain)                                      folders.py
    judge/      domain judges                                                          folders.py
    features/   backbone features of the ground truth and of stored generators         features.py
    partial/    checkpoints of runs in progress                                        partial.py

Result records (results.json) live in the run dirs, written and read by records.py.
"""

from __future__ import annotations

from pathlib import Path

from iguln.core.io import config_hash


def entry_dir(store: str | Path, kind: str, name: str, key: dict) -> Path:
    """The folder of the artefact of `kind` made from `key` (it may not exist yet)."""
    return Path(store) / kind / f"{name}-{config_hash(key)}"
