"""The result table of one record: original vs unlearned, forget vs retain, a column per metric of the catalogue
(FID / IS / CLIP, and LPIPS to the original's outputs for the unlearned model on the retain set)."""

from __future__ import annotations

from iguln.metrics.catalogue import METRICS


def cell(entry: dict | None) -> str:
    if entry is None:
        return "—"
    if entry.get("value") is None:
        return "missing"
    return f"{entry['value']:.3f}" if abs(entry["value"]) < 100 else f"{entry['value']:.1f}"


def markdown_table(record: dict) -> str:
    """A Markdown table with one row per (model, set) in the record's metrics, a column per metric of the catalogue,
    and the backbone below it."""
    metrics = METRICS.values()
    headers = " | ".join(f"{m.header} {m.arrow()}" for m in metrics)
    lines = [f"| model | set | images | {headers} |", "|" + "---|" * (3 + len(metrics))]
    backbones, missing = set(), []
    for model, sets in record.get("metrics", {}).items():
        for name, entries in sets.items():
            for e in entries.values():
                accuracy = e.get("judge_test_accuracy")
                backbones.add(e["backbone"] + (f" (test accuracy {accuracy:.3f})" if accuracy is not None else ""))
            missing += [f"{model}/{name}/{k}: {e['missing']}" for k, e in entries.items() if "missing" in e]
            images = next((e["n_generated"] for e in entries.values() if "n_generated" in e), "—")
            row = [model, name, str(images)] + [cell(entries.get(m.name)) for m in metrics]
            lines.append("| " + " | ".join(row) + " |")
    if backbones:
        lines.append("\nBackbone: " + "; ".join(sorted(backbones)))
    lines += [f"Missing: {m}" for m in missing]
    return "\n".join(lines)
