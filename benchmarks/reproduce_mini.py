"""Benchmark of `make reproduce-mini`: the paper's matrix at demo scale (every family, every row, the alpha sweep)
from an empty store, how long it takes, and its tables.

    python benchmarks/reproduce_mini.py [--outputs DIR] [OVERRIDE ...]

Writes benchmarks/results/reproduce_mini.md and .json: the wall time of the whole matrix, the time of each job
(from its record), and the report's tables.md as `iguln reproduce mini` wrote it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import write


def jobs(root: Path) -> list[dict]:
    """One entry per record under root: experiment, sweep, row, status and its phase timings."""
    out = []
    for path in sorted(root.rglob("results.json")):
        if "report" in path.relative_to(root).parts:
            continue
        record = json.loads(path.read_text())
        experiment, sweep = path.relative_to(root).parts[:2]  # <experiment>/rows/<n>, <experiment>/proxy
        config = record.get("config", {})
        out.append({"experiment": experiment, "sweep": sweep, "loss": config.get("loss", {}).get("name"),
                    "alpha": config.get("loss", {}).get("alpha"), "status": record.get("status"),
                    "total_s": record.get("timings_s", {}).get("total")})  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", type=Path, default=None, help="outputs dir (default: a new temporary dir)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    outputs = args.outputs or Path(tempfile.mkdtemp(prefix="iguln-bench-"))
    if (outputs / "store").exists():
        print(f"{outputs}/store exists: the matrix would not start from an empty store", file=sys.stderr)
        return 2
    start = time.perf_counter()
    command = [sys.executable, "-m", "iguln", "reproduce", "mini", "--outputs", str(outputs), *args.overrides]
    done = subprocess.run(command, check=False, stderr=subprocess.DEVNULL)
    wall_s = time.perf_counter() - start
    root = outputs / "reproduce" / "mini"
    runs = jobs(root)
    tables = root / "report" / "tables.md"
    lines = [f"`iguln reproduce mini {' '.join(args.overrides)}` from an empty store: **{wall_s / 60:.1f} minutes** "
             f"(exit status {done.returncode}), {len(runs)} jobs, "
             f"{sum(r['status'] == 'complete' for r in runs)} complete.", ""]  # fmt: skip
    lines += ["| experiment | sweep | loss | alpha | status | job s |", "|---|---|---|---|---|---|"]
    for r in runs:
        total = f"{r['total_s']:.0f}" if r["total_s"] is not None else ""
        lines.append(f"| {r['experiment']} | {r['sweep']} | {r['loss']} | {r['alpha']} | {r['status']} | {total} |")
    lines += ["", "The report's tables (`tables.md`):", ""]
    lines.append(tables.read_text() if tables.exists() else f"(no report: {tables} was not written)")
    print(write("reproduce_mini", "make reproduce-mini", "python benchmarks/reproduce_mini.py", "\n".join(lines),
                {"wall_s": wall_s, "returncode": done.returncode, "jobs": runs}).read_text())  # fmt: skip
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
