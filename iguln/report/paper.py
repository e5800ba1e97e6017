"""The paper's table layout from result records: one block per (data set, model family); rows Original, then each
registered loss's row (the four baselines, Ours, Ours (proxy retain), Retrain); columns the catalogue's table
metrics (FID / IS / CLIP) on the forget and the retain set."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from iguln.data.split import SETS
from iguln.metrics.catalogue import table_metrics
from iguln.report.aggregate import fold, fold_ratios, fold_sets
from iguln.unlearn.losses import LOSSES, PROXY, loss_entry

ORIGINAL = "Original"
REFERENCES = {"ground_truth": "Ground truth", "zero_fill": "Zero fill", "noise_fill": "Noise fill"}


def row_order() -> list[str]:
    """The rows of the paper's tables: Original, then each registered loss's row (and its proxy retain variant)."""
    rows = [ORIGINAL]
    for entry in LOSSES.values():
        rows += [entry.label(), entry.label("proxy")]
    return rows


def table_metric_names() -> list[str]:
    return [m.name for m in table_metrics()]


def method_of(record: dict) -> dict:
    """The record's method (loss, alpha, retain source), from `method` or, for older records, from its config."""
    if "method" in record:
        return record["method"]
    config = record.get("config", {})
    return {
        "loss": config.get("loss", {}).get("name"),
        "alpha": config.get("loss", {}).get("alpha"),
        "retain_source": config.get("split", {}).get("retain_source", "retain"),
    }


def row_of(record: dict) -> str:
    method = method_of(record)
    source = method.get("retain_source") or "retain"
    if method["loss"] in LOSSES:
        return loss_entry(method["loss"]).label(source)
    return str(method["loss"]) + (PROXY if source == "proxy" else "")  # a loss this installation does not have


@dataclass
class Row:
    label: str
    metrics: dict  # set -> metric -> entry (value, backbone, n_generated, n_real, missing)
    path: str
    alpha: float | None = None
    samples: str | None = None  # the run's sample grid (samples.png)
    embeddings: str | None = None  # the run's kept backbone embeddings (embeddings.pt)
    ratios: dict = field(default_factory=dict)  # set -> the unlearned / original FID entry
    seed: int | None = None  # the job's seed (None: a fold of several seeds, `seeds` lists them)
    seeds: list[int] = field(default_factory=list)
    efficiency: dict = field(default_factory=dict)  # column -> entry {"value"}: the extended table's efficiency


@dataclass
class Block:
    data: str
    model: str
    rows: list[Row] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (record path, error)
    originals: set[str] = field(default_factory=set)  # sha256 of the originals the rows come from
    references: list[Row] = field(default_factory=list)  # ground truth and fixed fills (the extended table)

    def caption(self) -> str:
        """Backbone(s) and sample counts, the arrows' meaning, and a warning when rows have different originals."""
        backbones, counts = set(), {}
        for row in self.rows:
            for subset, entries in row.metrics.items():
                for entry in (entries[m] for m in table_metric_names() if m in entries):
                    accuracy = entry.get("judge_test_accuracy")
                    backbones.add(entry["backbone"] + (f" (test accuracy {accuracy:.3f})" if accuracy else ""))
                    counts.setdefault(subset, set()).add((entry["n_generated"], entry["n_real"]))
        sizes = "; ".join(
            f"{s}: " + ", ".join(f"{g} generated vs {n} real" for g, n in sorted(counts[s]))
            for s in SETS
            if s in counts
        )
        text = (
            f"{self.data}, model {self.model}. Backbone: {'; '.join(sorted(backbones)) or 'none'}. Images: {sizes}. "
            "Arrows: the better direction for unlearning (the forget set's images should get worse, the retain set's "
            "stay good). FID ratio: unlearned / original FID."
        )
        if len(self.originals) > 1:
            text += f" Rows come from {len(self.originals)} different original generators."
        folded = sorted({tuple(r.seeds) for r in self.rows if r.seeds})
        if folded:
            seeds = "; ".join(", ".join(str(s) for s in group) for group in folded)
            text += f" Rows run with several seeds ({seeds}) show mean ± sd (n) over them."
        if any(e.get("ci95") for r in self.rows for m in r.metrics.values() for e in m.values()):
            text += " [low, high]: the paired bootstrap 95 % interval over the test images."
        return text


def _data_name(record: dict) -> str:
    return record.get("config", {}).get("data", {}).get("name", "unknown data")


def _model_name(record: dict) -> str:
    return record.get("config", {}).get("model", {}).get("name", "unknown model")


def build_blocks(records: list[tuple[Path, dict]]) -> list[Block]:
    """Blocks of the paper's table from (path, record) pairs of `iguln train` records; other commands' records
    are left out, failed ones listed in their block. Runs of one row that differ only in their seed are folded into
    one row (mean, sd, n of each metric); so is the original's row."""
    blocks: dict[tuple[str, str], Block] = {}
    originals: dict[tuple[str, str], dict[int, Row]] = {}
    references: dict[tuple[str, str], dict[tuple[str, int], Row]] = {}
    for path, record in records:
        if record.get("command") != "train":
            continue
        key = (_data_name(record), _model_name(record))
        block = blocks.setdefault(key, Block(*key))
        if record.get("status") != "complete":
            block.failed.append((str(path), record.get("error", f"status {record.get('status')}")))
            continue
        seed = record.get("seeds", {}).get("seed")
        originals.setdefault(key, {}).setdefault(
            seed, Row(ORIGINAL, record["metrics"]["original"], str(path), seed=seed)
        )
        block.originals.add(record["models"]["original"]["sha256"])
        for name, metrics in record.get("references", {}).items():
            label = REFERENCES.get(name, name)
            references.setdefault(key, {}).setdefault((label, seed), Row(label, metrics, str(path), seed=seed))
        block.rows.append(
            Row(
                row_of(record),
                record["metrics"]["unlearned"],
                str(path),
                method_of(record)["alpha"],
                record.get("samples"),
                record.get("embeddings"),
                record.get("ratios", {}),
                seed,
                efficiency=efficiency_entries(record.get("efficiency", {})),
            )
        )
    for key, block in blocks.items():
        block.rows = _folded(list(originals.get(key, {}).values())) + _folded(block.rows)
        block.rows.sort(key=lambda r: (_rank(r.label), r.alpha if r.alpha is not None else -1.0))
        _label_repeats(block)
        block.references = _folded(list(references.get(key, {}).values()))
    return [blocks[k] for k in sorted(blocks)]


def efficiency_entries(efficiency: dict) -> dict:
    """The extended table's efficiency columns of a record's `efficiency`: {column: {"value": ...}}."""
    weights = efficiency.get("weights", {})
    values = {
        "wall_s": efficiency.get("wall_s"),
        "changed_share": weights.get("changed_share"),
        "relative_change_norm": weights.get("relative_change_norm"),
        "peak_rss_gib": efficiency.get("peak_rss_gib"),
    }
    return {k: {"value": v} for k, v in values.items() if v is not None}


def _folded(rows: list[Row]) -> list[Row]:
    """Rows of one label and alpha with distinct seeds -> one folded row; repeats of a seed stay apart."""
    groups: dict[tuple, list[Row]] = {}
    for row in rows:
        groups.setdefault((row.label, row.alpha), []).append(row)
    out = []
    for group in groups.values():
        seeds = [r.seed for r in group]
        if len(group) < 2 or len(set(seeds)) < len(seeds) or None in seeds:
            out += group
            continue
        first = group[0]
        out.append(
            Row(
                first.label,
                fold_sets([r.metrics for r in group]),
                first.path,
                first.alpha,
                first.samples,
                first.embeddings,
                fold_ratios([r.ratios for r in group]),
                None,
                sorted(seeds),
                {k: fold([r.efficiency[k] for r in group if k in r.efficiency]) for k in first.efficiency},
            )
        )
    return out


def _rank(label: str) -> int:
    base, rows = label.split(" (α")[0], row_order()
    return rows.index(base) if base in rows else len(rows)


def _label_repeats(block: Block) -> None:
    """A row that appears with several alphas (a sweep) gets its alpha in the label; exact repeats get their path."""
    by_label: dict[str, list[Row]] = {}
    for row in block.rows:
        by_label.setdefault(row.label, []).append(row)
    for rows in by_label.values():
        if len(rows) < 2:
            continue
        alphas = [r.alpha for r in rows]
        for row in rows:
            parts = [f"α={row.alpha:g}"] if len(set(alphas)) > 1 and row.alpha is not None else []
            if alphas.count(row.alpha) > 1:  # the same row twice: tell the runs apart
                parts.append(Path(row.path).parent.name)
            row.label = f"{row.label} ({', '.join(parts)})"
