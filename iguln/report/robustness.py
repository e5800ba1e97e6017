"""Tables and figures of `iguln robust` records: the mask sweep's curves (each metric against the inpainting side
or the outpainting r, per model) and the relearning attack's curves (forget FID and detector rates against steps)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from iguln.metrics.catalogue import METRICS  # noqa: E402

SWEPT = ("fid", "detect", "detect_hole")
STYLES = {"original": ("tab:gray", "o--"), "unlearned": ("tab:red", "o-"), "retrain": ("tab:green", "s-")}


def _value(entry: dict | None):
    return None if entry is None else entry.get("value")


def _fmt(value) -> str:
    return "missing" if value is None else f"{value:.3f}"


def masks_markdown(points: list[dict]) -> str:
    """One row per (mask, model), the swept metrics on both sets."""
    models = list(points[0]["metrics"]) if points else []
    sets = ("forget", "retain")
    head = " | ".join(f"{s} {METRICS.get(m).header}" for s in sets for m in SWEPT)
    lines = [f"| mask | model | {head} |", "|---|---|" + "---|" * (len(sets) * len(SWEPT))]
    for point in points:
        for model in models:
            entries = point["metrics"][model]
            cells = " | ".join(_fmt(_value(entries[s].get(m))) for s in sets for m in SWEPT)
            lines.append(f"| {point['task']['label']} | {model} | {cells} |")
    return "\n".join(lines)


def relearn_markdown(curves: dict[str, list[dict]]) -> str:
    """One row per (model, step): the attack's loss and the forget set's FID and detector rates."""
    head = " | ".join(f"forget {METRICS.get(m).header}" for m in SWEPT)
    lines = [f"| model | step | loss | {head} |", "|---|---|---|" + "---|" * len(SWEPT)]
    for model, curve in curves.items():
        for point in curve:
            cells = " | ".join(_fmt(_value(point["forget"].get(m))) for m in SWEPT)
            loss = "—" if point["loss"] is None else f"{point['loss']:.4f}"
            lines.append(f"| {model} | {point['step']} | {loss} | {cells} |")
    return "\n".join(lines)


def masks_figure(points: list[dict], path: Path, title: str) -> Path:
    """A grid: rows the swept metrics, columns forget/retain x inpainting/outpainting; a line per model."""
    kinds = (("inpaint_center", "inpainting: side of the centred square"), ("outpaint", "outpainting: r (r/32 border)"))
    fig, axes = plt.subplots(len(SWEPT), 4, figsize=(14, 3 * len(SWEPT)), squeeze=False)
    models = list(points[0]["metrics"]) if points else []
    for row, metric in enumerate(SWEPT):
        for col, (subset, (kind, label)) in enumerate((s, k) for s in ("forget", "retain") for k in kinds):
            ax = axes[row][col]
            chosen = [p for p in points if p["task"]["name"] == kind]
            xs = [p["task"]["fraction"] * (32 if kind == "outpaint" else 1) for p in chosen]
            for model in models:
                colour, style = STYLES.get(model, ("tab:blue", "o-"))
                ys = [_value(p["metrics"][model][subset].get(metric)) for p in chosen]
                ax.plot(xs, [float("nan") if y is None else y for y in ys], style, color=colour, label=model, ms=3)
            ax.set_title(f"{subset}: {METRICS.get(metric).header}", fontsize=9)
            ax.set_xlabel(label, fontsize=8)
            if row == 0 and col == 0:
                ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def relearn_figure(curves: dict[str, list[dict]], path: Path, title: str) -> Path:
    """Forget FID and detector rates against the attack's steps, a line per model."""
    fig, axes = plt.subplots(1, len(SWEPT), figsize=(4.5 * len(SWEPT), 3.5), squeeze=False)
    for ax, metric in zip(axes[0], SWEPT, strict=True):
        for model, curve in curves.items():
            colour, style = STYLES.get(model, ("tab:blue", "o-"))
            ys = [_value(p["forget"].get(metric)) for p in curve]
            ax.plot([p["step"] for p in curve], [float("nan") if y is None else y for y in ys], style, color=colour,
                    label=model, ms=3)  # fmt: skip
        ax.set_title(f"forget {METRICS.get(metric).header}", fontsize=9)
        ax.set_xlabel("relearning steps", fontsize=8)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def robustness_outputs(record: dict, out: Path, stem: str) -> tuple[str, Path | None]:
    """(Markdown, figure) of one robust record; the figure is written to out/<stem>.png."""
    found = record.get("robustness", {})
    config = record.get("config", {})
    title = f"{config.get('data', {}).get('name')}, {config.get('model', {}).get('name')}"
    if found.get("kind") == "masks":
        figure = masks_figure(found["points"], out / f"{stem}.png", f"mask sweep: {title}")
        return masks_markdown(found["points"]), figure
    if found.get("kind") == "relearn":
        text = relearn_markdown(found["curves"])
        return text, relearn_figure(found["curves"], out / f"{stem}.png", f"relearning attack: {title}")
    return "", None
