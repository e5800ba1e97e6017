"""Writing the paper's table blocks as Markdown, CSV and LaTeX."""

from __future__ import annotations

import csv
import io

from iguln.data.split import SETS
from iguln.metrics.catalogue import Metric, table_metrics
from iguln.report.paper import Block


def columns() -> list[tuple[str, Metric]]:
    """(set, metric) for every table metric of the catalogue, forget set first."""
    return [(s, m) for s in SETS for m in table_metrics()]


def header(subset: str, metric: Metric) -> str:
    return f"{metric.header} {metric.arrow(subset)}"


def cell(entry: dict | None) -> str:
    """A metric's value to 3 decimals; "missing" (its reason is listed below the table) when it has none."""
    if entry is None:
        return "—"
    if entry.get("value") is None:
        return "missing"
    return f"{entry['value']:.3f}"


def _missing(block: Block) -> list[str]:
    return [
        f"{row.label} / {s} / {m.name}: {row.metrics[s][m.name]['missing']}"
        for row in block.rows
        for s, m in columns()
        if "missing" in row.metrics.get(s, {}).get(m.name, {})
    ]


def markdown(blocks: list[Block]) -> str:
    out = []
    for block in blocks:
        out.append(f"### {block.data} — {block.model}\n")
        cols = columns()
        out.append("| row | " + " | ".join(f"{s} {header(s, m)}" for s, m in cols) + " |")
        out.append("|---" * (1 + len(cols)) + "|")
        for row in block.rows:
            cells = " | ".join(cell(row.metrics.get(s, {}).get(m.name)) for s, m in cols)
            out.append(f"| {row.label} | {cells} |")
        out.append(f"\n{block.caption()}")
        out += [f"- missing: {m}" for m in _missing(block)]
        out += [f"- FAILED: {path}: {error}" for path, error in block.failed]
        out.append("")
    return "\n".join(out)


def csv_text(blocks: list[Block]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["data", "model", "row", "alpha", "set", "metric", "value", "better", "backbone", "n_generated", "n_real",
         "missing", "record"]
    )  # fmt: skip
    for block in blocks:
        for row in block.rows:
            for s, m in columns():
                entry = row.metrics.get(s, {}).get(m.name, {})
                writer.writerow(
                    [block.data, block.model, row.label, row.alpha, s, m.name, entry.get("value"), m.arrow(s),
                     entry.get("backbone"), entry.get("n_generated"), entry.get("n_real"), entry.get("missing", ""),
                     row.path]
                )  # fmt: skip
        for path, error in block.failed:
            writer.writerow([block.data, block.model, "FAILED", None, None, None, None, None, None, None, None, error,
                             path])  # fmt: skip
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
        out.append(" & " + " & ".join(_tex(header(s, m)) for s, m in cols) + r" \\")
        out.append(r"\midrule")
        for row in block.rows:
            values = " & ".join(cell(row.metrics.get(s, {}).get(m.name)) for s, m in cols)
            out.append(f"{_tex(row.label)} & {values} \\\\")
        out += [r"\bottomrule", r"\end{tabular}", f"\\caption{{{_tex(block.caption())}}}", r"\end{table}", ""]
    return "\n".join(out)
