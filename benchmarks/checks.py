"""The checks of `trainer.select` over the steps of unlearning, from the records of runs that made them: at each
check, the forget and retain FID ratios on the held-out train images and the margin on both targets, and which
check was kept, beside the test ratios scored afterwards.

    python benchmarks/checks.py --outputs DIR [--name checks] [--title TEXT]

Reads every DIR/**/results.json with `unlearning.selection`; writes benchmarks/results/<name>.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from matrix import method_of
from provenance import result_name, write


def runs(outputs: Path) -> list[dict]:
    rows = []
    for path in sorted(outputs.rglob("results.json")):
        record = json.loads(path.read_text())
        selection = (record.get("unlearning") or {}).get("selection")
        if record.get("status") != "complete" or not selection:
            continue
        split = record["split"]["forget"]["classes"]
        rows.append({"record": str(path), "family": record["config"]["model"]["name"], "forget": "+".join(split),
                     "seed": record["config"]["seed"], "model_seed": record["config"]["model"].get("seed", 0),
                     "commit": record.get("versions", {}).get("commit"), "rule": {k: v for k, v in selection.items()
                     if k not in ("checks", "chosen")}, "checks": selection["checks"], "chosen": selection["chosen"],
                     "method": method_of(record["config"]), "final": record["unlearning"].get("final") or {},
                     "test": {s: record["ratios"][s]["value"] for s in ("forget", "retain")}})  # fmt: skip
    return rows


def last_step(row: dict) -> str:
    """' Last step's loss terms: forget F, retain R.' where the record has them (one batch each)."""
    final = row.get("final") or {}
    if "forget" not in final or "retain" not in final:
        return ""
    return f" Last step's loss terms (one batch): forget {final['forget']:.3f}, retain {final['retain']:.3f}."


def markdown(rows: list[dict]) -> str:
    out = ["Validation ratios: unlearned / original FID on train images held out of unlearning "
           "(`split.val_per_class`), domain judge backbone. Margin: min(forget ratio / forget target, retain target "
           "/ retain ratio), over 1 when both targets are met. Test ratios: the run's scored test images, with the "
           "weights kept.", "",
           "Records made at commit " + ", ".join(sorted({str(r["commit"]) for r in rows})) + ".", ""]  # fmt: skip
    for r in rows:
        out += [f"### {r['family']}, forget {r['forget']}, model.seed {r['model_seed']}, seed {r['seed']}", "",
                f"Method: {r.get('method', '–')}. Rule: `{json.dumps(r['rule'])}`. "
                f"Kept: step {r['chosen']['step']}; test forget ratio "
                f"{r['test']['forget']:.2f}, retain ratio {r['test']['retain']:.3f}.{last_step(r)}", "",
                "| step | validation forget ratio | validation retain ratio | margin | kept |",
                "|---|---|---|---|---|"]  # fmt: skip
        for c in r["checks"]:
            kept = "yes" if c["step"] == r["chosen"]["step"] else ""
            out.append(f"| {c['step']} | {c['forget']:.2f} | {c['retain']:.3f} | {c['margin']:.3f} | {kept} |")
        out.append("")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", type=Path, required=True)
    parser.add_argument("--name", default="checks", type=result_name, help="benchmarks/results/<name>.md and .json")
    parser.add_argument("--title", default="The checks of trainer.select")
    args = parser.parse_args()
    rows = runs(args.outputs)
    if not rows:
        parser.error(f"--outputs {args.outputs}: no complete record with unlearning.selection there")
    path = write(args.name, args.title, f"python benchmarks/checks.py --outputs DIR --name {args.name}",
                 markdown(rows), {"runs": rows})  # fmt: skip
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
