"""Writing the paper's table blocks as Markdown, CSV and LaTeX."""

from __future__ import annotations

import csv
import io

from iguln.data.split import SETS
from iguln.metrics.catalogue import Metric, extended_metrics, table_metrics
from iguln.report.paper import Block

EFFICIENCY = {  # the extended table's efficiency columns (report/paper.py efficiency_entries)
    "wall_s": "making it (s)",
    "changed_share": "parameters changed (share)",
    "relative_change_norm": "change norm / original norm",
    "peak_rss_gib": "peak RSS (GiB)",
}


def columns(extended: bool = False) -> list[tuple[str, Metric]]:
    """(set, metric) for every table metric of the catalogue (extended: every extended one too, on the sets it is
    recorded for), forget set first."""
    metrics = extended_metrics() if extended else table_metrics()
    return [(s, m) for s in SETS for m in metrics if s in m.sets]


def backbones(block: Block, metric: Metric) -> set[str]:
    """The networks that computed `metric` in the block's rows."""
    return {
        row.metrics[s][metric.name]["backbone"]
        for row in block.rows
        for s in SETS
        if "backbone" in row.metrics.get(s, {}).get(metric.name, {})
    }


def header(subset: str, metric: Metric, block: Block | None = None) -> str:
    name = metric.header_for(backbones(block, metric)) if block is not None else metric.header
    return f"{name} {metric.arrow(subset)}"


def cell(entry: dict | None) -> str:
    """A metric's value to 3 decimals: "mean ± sd (n=...)" for a row folded over seeds, "value [low, high]" with a
    bootstrap interval; "missing" (its reason is listed below the table) when it has none."""
    if entry is None:
        return "—"
    if entry.get("value") is None:
        return "missing"
    if entry.get("n", 1) > 1:
        return f"{entry['value']:.3f} ± {entry['sd']:.3f} (n={entry['n']})"
    if entry.get("ci95"):
        low, high = entry["ci95"]
        return f"{entry['value']:.3f} [{low:.3f}, {high:.3f}]"
    return f"{entry['value']:.3f}"


def ratio_cell(row, subset: str) -> str:
    return "—" if not row.ratios else cell(row.ratios.get(subset))


def _missing(block: Block, extended: bool = False) -> list[str]:
    return [
        f"{row.label} / {s} / {m.name}: {row.metrics[s][m.name]['missing']}"
        for row in block.rows
        for s, m in columns(extended)
        if "missing" in row.metrics.get(s, {}).get(m.name, {})
    ]


def markdown(blocks: list[Block], extended: bool = False) -> str:
    """The paper's tables; extended: every aspect's columns (detector rates, preservation, efficiency) and the
    reference rows (ground truth, zero fill, noise fill) below the methods."""
    out = []
    for block in blocks:
        out.append(f"### {block.data} — {block.model}\n")
        cols = columns(extended)
        tail = [f"{s} FID ratio" for s in SETS] + (list(EFFICIENCY.values()) if extended else [])
        out.append("| row | " + " | ".join(f"{s} {header(s, m, block)}" for s, m in cols) + " | " + " | ".join(tail)
                   + " |")  # fmt: skip
        out.append("|---" * (1 + len(cols) + len(tail)) + "|")
        for row in block.rows + (block.references if extended else []):
            cells = [cell(row.metrics.get(s, {}).get(m.name)) for s, m in cols]
            cells += [ratio_cell(row, s) for s in SETS]
            if extended:
                cells += [cell(row.efficiency.get(k)) if row.efficiency else "—" for k in EFFICIENCY]
            out.append(f"| {row.label} | " + " | ".join(cells) + " |")
        out.append(f"\n{block.caption()}")
        if extended:
            out.append(
                "Detector rate: on the forget set the share of outputs the detector assigns to a forget class, on "
                "the retain set the share assigned to their own class; (hole): of the filled region alone. Ground "
                "truth: the real test images (the detector's accuracy there; the Original row's retain rate is its "
                "accuracy on generated images). Zero fill, noise fill: the hole filled with zeros or uniform noise, "
                "no generator. Preservation columns (LPIPS, PSNR, SSIM, feature distance): the row's retain outputs "
                "against the Original's on the same inputs."
            )
        out += [f"- missing: {m}" for m in _missing(block, extended)]
        out += [f"- FAILED: {path}: {error}" for path, error in block.failed]
        out.append("")
    return "\n".join(out)


def csv_text(blocks: list[Block]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["data", "model", "row", "alpha", "seeds", "set", "metric", "value", "sd", "n", "ci95_low", "ci95_high",
         "better", "backbone", "n_generated", "n_real", "missing", "record"]
    )  # fmt: skip
    for block in blocks:
        for row in block.rows:
            seeds = " ".join(str(s) for s in row.seeds) if row.seeds else row.seed
            cells = [(s, m.name, row.metrics.get(s, {}).get(m.name, {}), m.arrow(s)) for s, m in columns()]
            cells += [(s, "fid_ratio", row.ratios.get(s, {}), "") for s in SETS if row.ratios]
            for s, name, entry, better in cells:
                low, high = entry.get("ci95") or (None, None)
                writer.writerow(
                    [block.data, block.model, row.label, row.alpha, seeds, s, name, entry.get("value"),
                     entry.get("sd"), entry.get("n", 1), low, high, better, entry.get("backbone"),
                     entry.get("n_generated"), entry.get("n_real"), entry.get("missing", ""), row.path]
                )  # fmt: skip
        for path, error in block.failed:
            writer.writerow([block.data, block.model, "FAILED", *[None] * 13, error, path])
    return buffer.getvalue()


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(a, b)
    return text.replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$").replace("α", r"$\alpha$")


def latex(blocks: list[Block]) -> str:
    out = []
    for block in blocks:
        cols = columns()
        per_set = len(cols) // len(SETS)
        out += [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "r" * len(cols) + "}", r"\toprule"]
        out.append(
            " & " + " & ".join(rf"\multicolumn{{{per_set}}}{{c}}{{{s.capitalize()} set}}" for s in SETS) + r" \\"
        )
        out.append(" & " + " & ".join(_tex(header(s, m, block)) for s, m in cols) + r" \\")
        out.append(r"\midrule")
        for row in block.rows:
            values = " & ".join(cell(row.metrics.get(s, {}).get(m.name)) for s, m in cols)
            out.append(f"{_tex(row.label)} & {values} \\\\")
        out += [r"\bottomrule", r"\end{tabular}", f"\\caption{{{_tex(block.caption())}}}", r"\end{table}", ""]
    return "\n".join(out)
