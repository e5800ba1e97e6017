"""The result record: <run dir>/results.json, written atomically, every number with its unit and provenance; and
reading records back, where a file that cannot be read is reported with its path instead of stopping the reader."""

from __future__ import annotations

import json
import time
from pathlib import Path

from iguln.core.io import atomic_write_json
from iguln.core.versions import package_versions

RECORD = "results.json"


def new_record(command: str, config: dict, seed: int, split: dict) -> dict:
    return {
        "command": command,
        "status": "running",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seeds": {
            "seed": seed,
            "split_seed": config["split"].get("seed", seed),
            "model_seed": config.get("model", {}).get("seed", 0),
            "judge_seed": config.get("eval", {}).get("judge", {}).get("seed", 0),
        },
        "split": split,
        "models": {},
        "metrics": {},
        "timings_s": {},
        "versions": package_versions(),
        "config": config,
    }


def write_record(run_dir: str | Path, record: dict) -> Path:
    path = Path(run_dir) / RECORD
    atomic_write_json(path, record)
    return path


def failure_record(record: dict, err: BaseException, timings: dict | None = None) -> dict:
    """The record of a job that stopped with `err`: status "failed" (or "interrupted"), the error, its timings."""
    status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
    return {**record, "status": status, "error": f"{type(err).__name__}: {err}", "timings_s": timings or {}}


def read_record(path: str | Path) -> dict:
    """One record; ValueError naming the file when it is not a readable JSON object (truncated, say)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: unreadable ({type(err).__name__}: {err})") from err
    if not isinstance(record, dict):
        raise ValueError(f"{path}: unreadable (not a JSON object)")
    return record


def read_records(paths: list[Path]) -> tuple[list[tuple[Path, dict]], list[tuple[Path, str]]]:
    """(readable records as (path, record), unreadable ones as (path, why)), in the order given."""
    readable, unreadable = [], []
    for path in paths:
        try:
            readable.append((path, read_record(path)))
        except ValueError as err:
            unreadable.append((path, str(err)))
    return readable, unreadable
