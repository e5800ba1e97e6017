"""The five aspects of the demo for one family, after `benchmarks/rows.py` ran every row in the same outputs dir:
forgetting (forget FID ratio, detector rates), preservation (LPIPS, PSNR and SSIM in the hole, feature distance to
the original), quality (retain FID), robustness (the mask sweep and the relearning attack of Ours, beside the
original and Retrain) and efficiency (time, memory, share and norm of the weight change).

    python benchmarks/aspects.py --outputs DIR [OVERRIDE ...]     # the DIR and overrides rows.py had

Writes benchmarks/results/aspects_<family>.md and .json, and the two robustness figures beside them. The
robustness runs score 50 test images per class (the rows: 250).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from provenance import RESULTS, invocation, write
from rows import SPLIT

ROBUST_EVAL = ["split.eval_per_class=50"]


def iguln(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "iguln", *args], check=True, stderr=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", type=Path, required=True, help="the outputs dir of benchmarks/rows.py")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    family = next((o.split("=", 1)[1] for o in args.overrides if o.startswith("model=")), "vqgan")
    runs = args.outputs / "runs"
    ours = runs / "ours" / "unlearned"
    if not ours.is_dir():
        print(f"{ours} is missing: run benchmarks/rows.py --outputs {args.outputs} first", file=sys.stderr)
        return 2
    common = ["experiment=demo", f"paths.outputs={args.outputs}", f"checkpoint={ours}", "retrain=true", *SPLIT,
              *ROBUST_EVAL, *args.overrides]  # fmt: skip
    robust = args.outputs / "robust"
    iguln("robust", *common, f"hydra.run.dir={robust / 'masks'}")
    iguln("robust", "robust=relearn", *common, f"hydra.run.dir={robust / 'relearn'}")
    report = args.outputs / "report-aspects"
    iguln("report", str(runs), str(robust), f"out={report}", "tsne=false")
    figures = {}
    for kind, number in (("masks", 1), ("relearn", 2)):
        source = report / f"robust_{number}_{kind}.png"
        if source.is_file():
            target = RESULTS / f"aspects_{family}_{kind}.png"
            RESULTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            figures[kind] = target.name
    extended = (report / "tables_extended.md").read_text()
    robustness = (report / "robustness.md").read_text()
    for kind, name in figures.items():  # the report's figure names -> the copies beside this file
        robustness = robustness.replace(f"robust_{1 if kind == 'masks' else 2}_{kind}.png", name)
    text = (
        f"Every row of the demo (`experiment=demo {' '.join(args.overrides)}`, the split of rows.py) in the extended "
        "table, then the robustness of Ours beside the original and Retrain (50 test images per class).\n\n"
        "## Forgetting, preservation, quality, efficiency\n\n"
        + extended.replace("### ", "### table: ")
        + "\n## Robustness\n\n"
        + robustness
    )
    records = {kind: json.loads((robust / kind / "results.json").read_text()) for kind in ("masks", "relearn")}
    data = {"robustness": {k: r["robustness"] for k, r in records.items()}, "figures": figures}
    how = invocation("aspects.py --outputs DIR", parser, args)
    print(write(f"aspects_{family}", f"The five aspects of the {family} demo", how, text, data).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
