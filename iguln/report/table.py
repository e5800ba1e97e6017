"""The result table of one record: original vs unlearned, forget vs retain, FID / IS / CLIP, and LPIPS to the
original's outputs (the unlearned model on the retain set)."""

from __future__ import annotations

COLUMNS = (("fid", "FID ↓"), ("is", "IS ↑"), ("clip", "CLIP ↑"), ("lpips", "LPIPS to original ↓"))


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
            for e in entries.values():
                accuracy = e.get("judge_test_accuracy")
                backbones.add(e["backbone"] + (f" (test accuracy {accuracy:.3f})" if accuracy is not None else ""))
            missing += [f"{model}/{name}/{k}: {e['missing']}" for k, e in entries.items() if "missing" in e]
            images = next((e["n_generated"] for e in entries.values() if "n_generated" in e), "—")
            row = [model, name, str(images)] + [cell(entries.get(k)) for k, _ in COLUMNS]
            lines.append("| " + " | ".join(row) + " |")
    if backbones:
        lines.append("\nBackbone: " + "; ".join(sorted(backbones)))
    lines += [f"Missing: {m}" for m in missing]
    return "\n".join(lines)
