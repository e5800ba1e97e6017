"""iguln report PATH...: the paper's tables (Markdown, CSV, LaTeX) and figures from every results.json under the
given run or multirun dirs, written into the report's own dir."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from iguln.commands.app import hydra_app
from iguln.core.errors import ConfigError
from iguln.core.io import atomic_write_text
from iguln.report.figures import alpha_curves, sample_grids, tsne
from iguln.report.formats import csv_text, latex, markdown
from iguln.report.paper import build_blocks
from iguln.report.robustness import robustness_outputs
from iguln.store.records import read_records

log = logging.getLogger("iguln")


def find_records(inputs: list[str]) -> list[Path]:
    records = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise ConfigError("inputs", item, "existing run or multirun dirs")
        records += [path] if path.is_file() else sorted(path.rglob("results.json"))
    return records


def robustness_report(records: list[tuple[Path, dict]], out: Path) -> list[Path]:
    """robustness.md (each `iguln robust` record's table) and its figures; the figures written."""
    if not records:
        return []
    parts, figures = [], []
    for number, (path, record) in enumerate(records, 1):
        kind = record["robustness"]["kind"]
        text, figure = robustness_outputs(record, out, f"robust_{number}_{kind}")
        figures += [figure] if figure else []
        config = record.get("config", {})
        parts.append(f"### {kind}: {config.get('data', {}).get('name')}, {config.get('model', {}).get('name')}\n\n"
                     f"Record: {path}. Unlearned model: {record['models']['unlearned']['path']}.\n\n{text}\n\n"
                     f"![{kind}]({figure.name if figure else ''})\n")  # fmt: skip
    atomic_write_text(out / "robustness.md", "\n".join(parts))
    return figures


def run(cfg: DictConfig) -> None:
    if not cfg.inputs:
        raise ConfigError("inputs", [], "one or more run or multirun dirs", "Run: iguln report outputs/train/...")
    paths = find_records(list(cfg.inputs))
    if not paths:
        raise ConfigError("inputs", list(cfg.inputs), "dirs that contain results.json files")
    records, unreadable = read_records(paths)
    for _, why in unreadable:
        print(f"iguln report: skipped {why}", file=sys.stderr)
    blocks = build_blocks(records)
    robust = [(path, r) for path, r in records if r.get("command") == "robust" and r.get("status") == "complete"]
    if not blocks and not robust:
        raise ConfigError("inputs", list(cfg.inputs), "dirs with readable `iguln train` or `iguln robust` records")
    out = Path(cfg.out) if cfg.out else Path(HydraConfig.get().runtime.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = robustness_report(robust, out)
    table = markdown(blocks) + "".join(f"- UNREADABLE: {why}\n" for _, why in unreadable)
    written = ["tables.md", "tables.csv", "tables.tex", "tables_extended.md"] + (["robustness.md"] if robust else [])
    atomic_write_text(out / "tables.md", table)
    atomic_write_text(out / "tables.csv", csv_text(blocks))
    atomic_write_text(out / "tables.tex", latex(blocks))
    atomic_write_text(out / "tables_extended.md", markdown(blocks, extended=True))
    for block in blocks:
        figures += alpha_curves(block, out) + sample_grids(block, out)
        if cfg.tsne:
            figures += [p for p in [tsne(block, out)] if p is not None]
    print(table)
    skipped = f" ({len(unreadable)} unreadable, skipped)" if unreadable else ""
    print(f"{len(records)} records{skipped}; written to {out}: {', '.join(written)}, {len(figures)} figures")


main = hydra_app("report", run)
