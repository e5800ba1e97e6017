"""The result table of one record: original vs unlearned, forget vs retain, a column per metric of the catalogue
(FID / IS / CLIP, and LPIPS to the original's outputs for the unlearned model on the retain set)."""

from __future__ import annotations

from iguln.metrics.catalogue import METRICS


def cell(entry: dict | None) -> str:
    if entry is None:
        return "—"
    if entry.get("value") is None:
        return "missing"
    text = f"{entry['value']:.3f}" if abs(entry["value"]) < 100 else f"{entry['value']:.1f}"
    return text + (" [{:.3f}, {:.3f}]".format(*entry["ci95"]) if entry.get("ci95") else "")


def markdown_table(record: dict) -> str:
    """A Markdown table with one row per (model, set) in the record's metrics, a column per metric of the catalogue,
    and the backbone below it."""
    metrics = METRICS.values()
    found = record.get("metrics", {})
    used = {
        m.name: {
            e[m.name]["backbone"] for sets in found.values() for e in sets.values() if "backbone" in e.get(m.name, {})
        }
        for m in metrics
    }
    headers = " | ".join(f"{m.header_for(used[m.name])} {m.arrow()}" for m in metrics)
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
    for subset, ratio in record.get("ratios", {}).items():
        if ratio.get("value") is not None:
            interval = " [{:.3f}, {:.3f}]".format(*ratio["ci95"]) if ratio.get("ci95") else ""
            lines.append(f"\n{subset} FID ratio (unlearned / original): {ratio['value']:.3f}{interval}")
    if backbones:
        lines.append("\nBackbone: " + "; ".join(sorted(backbones)))
    lines += [f"Missing: {m}" for m in missing]
    return "\n".join(lines)
