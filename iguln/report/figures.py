"""The report's figures (PNG): metric vs alpha for a sweep, the runs' sample grids, and a T-SNE of embeddings."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from iguln.report.paper import Block  # noqa: E402
from iguln.unlearn.losses import loss_entry  # noqa: E402


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_").lower()


def alpha_curves(block: Block, out: Path, metric: str = "fid") -> list[Path]:
    """One plot per row that was run with several alphas: forget and retain `metric` against alpha, with the
    original's as dashed lines. Returns the files written."""
    original = next((r for r in block.rows if r.label == "Original"), None)
    sweeps: dict[str, list] = {}
    for row in block.rows:
        if row.alpha is not None and " (α=" in row.label:
            sweeps.setdefault(row.label.split(" (α=")[0], []).append(row)
    written = []
    for base, rows in sweeps.items():
        rows.sort(key=lambda r: r.alpha)
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for subset, colour in (("forget", "tab:red"), ("retain", "tab:blue")):
            values = [r.metrics[subset][metric]["value"] for r in rows]
            ax.plot([r.alpha for r in rows], values, "o-", color=colour, label=f"{subset} set")
            if original is not None and original.metrics[subset][metric]["value"] is not None:
                ax.axhline(original.metrics[subset][metric]["value"], color=colour, ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("alpha")
        ax.set_ylabel(metric.upper())
        ax.set_title(f"{base}: {block.data}, {block.model} (dashed: original)", fontsize=9)
        ax.legend()
        path = out / f"alpha_{_slug(block.data)}_{_slug(block.model)}_{_slug(base)}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


def sample_grids(block: Block, out: Path) -> list[Path]:
    """Each row's sample grid (ground truth, masked input, original, unlearned; forget rows then retain rows),
    copied from its run dir."""
    written = []
    for row in block.rows:
        if row.label == "Original":
            continue
        source = Path(row.samples or "")
        if row.samples and source.is_file():
            path = out / f"samples_{_slug(block.data)}_{_slug(block.model)}_{_slug(row.label)}.png"
            shutil.copyfile(source, path)
            written.append(path)
    return written


def tsne(block: Block, out: Path, row_label: str | None = None, seed: int = 0) -> Path | None:
    """T-SNE of the backbone embeddings of the original's and the unlearned model's outputs on the forget and the
    retain set, for the first run of `row_label` (default: the paper's loss) that kept its embeddings."""
    from sklearn.manifold import TSNE

    row_label = row_label or loss_entry("l2_noise").row
    row = next((r for r in block.rows if r.label.split(" (α=")[0] == row_label), None)
    if row is None:
        return None
    if not row.embeddings or not Path(row.embeddings).is_file():
        return None
    embeddings = torch.load(row.embeddings, weights_only=True)
    order = ("original/forget", "original/retain", "unlearned/forget", "unlearned/retain")
    groups = [k for k in order if k in embeddings]
    points = torch.cat([embeddings[k] for k in groups]).float().numpy()
    perplexity = min(30.0, max(2.0, (len(points) - 1) / 3))
    xy = TSNE(2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(points)
    fig, ax = plt.subplots(figsize=(5, 5))
    start = 0
    styles = {"original": "o", "unlearned": "x"}
    colours = {"forget": "tab:red", "retain": "tab:blue"}
    for key in groups:
        n = len(embeddings[key])
        model, subset = key.split("/")
        ax.scatter(*xy[start : start + n].T, s=6, marker=styles[model], c=colours[subset], label=key, alpha=0.6)
        start += n
    ax.legend(markerscale=2, fontsize=8)
    ax.set_title(f"T-SNE of {row.label}'s outputs: {block.data}, {block.model}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    path = out / f"tsne_{_slug(block.data)}_{_slug(block.model)}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
