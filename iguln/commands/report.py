"""iguln report PATH...: the result table of every results.json under the given run or multirun dirs."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig

from iguln.commands.app import hydra_app
from iguln.errors import ConfigError
from iguln.report.table import markdown_table


def find_records(inputs: list[str]) -> list[Path]:
    records = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise ConfigError("inputs", item, "existing run or multirun dirs")
        records += [path] if path.is_file() else sorted(path.rglob("results.json"))
    return records


def run(cfg: DictConfig) -> None:
    if not cfg.inputs:
        raise ConfigError("inputs", [], "one or more run or multirun dirs", "Run: iguln report outputs/train/...")
    records = find_records(list(cfg.inputs))
    if not records:
        raise ConfigError("inputs", list(cfg.inputs), "dirs that contain results.json files")
    for path in records:
        record = json.loads(path.read_text())
        print(f"\n## {path.parent} ({record.get('command')}, {record.get('status')})\n")
        print(markdown_table(record))


main = hydra_app("report", run)
