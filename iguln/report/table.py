"""The result table of one record: original vs unlearned, forget vs retain, FID / IS / CLIP."""

from __future__ import annotations

COLUMNS = (("fid", "FID ↓"), ("is", "IS ↑"), ("clip", "CLIP ↑"))


def cell(entry: dict | None) -> str:
    if entry is None:
        return "—"
    if entry.get("value") is None:
        return "missing"
    return f"{entry['value']:.3f}" if abs(entry["value"]) < 100 else f"{entry['value']:.1f}"


def markdown_table(record: dict) -> str:
    """A Markdown table with one row per (model, set) in the record's metrics, and the backbone below it."""
    lines = ["| model | set | images | " + " | ".join(t for _, t in COLUMNS) + " |", "|" + "---|" * (3 + len(COLUMNS))]
    backbones, missing = set(), []
    for model, sets in record.get("metrics", {}).items():
        for name, entries in sets.items():
            some = next(iter(entries.values()))
            backbones.add(
                some["backbone"]
                + (f" (test accuracy {some['judge_test_accuracy']:.3f})" if "judge_test_accuracy" in some else "")
            )
            missing += [f"{model}/{name}/{k}: {e['missing']}" for k, e in entries.items() if "missing" in e]
            row = [model, name, str(some["n_generated"])] + [cell(entries.get(k)) for k, _ in COLUMNS]
            lines.append("| " + " | ".join(row) + " |")
    if backbones:
        lines.append("\nBackbone: " + "; ".join(sorted(backbones)))
    lines += [f"Missing: {m}" for m in missing]
    return "\n".join(lines)
