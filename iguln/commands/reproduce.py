"""iguln reproduce paper|mini: every row of the paper's tables for every family, then the report.

    iguln reproduce paper [--models vqgan,diffusion] [--outputs DIR] [--dry-run] [OVERRIDE ...]
    iguln reproduce mini  [--models ...] [--outputs DIR] [--smoke] [OVERRIDE ...]

paper: experiment=paper/<data>_<model> for ImageNet-1K and Places-365. Before anything runs, every data root and
weights file (MAE: weights folder) the matrix needs is checked; when one is missing, the command stops listing each
missing item, the config key (or environment variable) that provides it and the layout expected there.
mini: experiment=mini (Fashion-MNIST, CPU), plus an alpha sweep of the paper's loss.

Each experiment runs as Hydra sweeps under <outputs>/reproduce/<matrix>/<experiment>/: `rows` (the paper's loss,
the four baselines, Retrain), `proxy` (the paper's loss with the proxy retain set) and, for mini, `alpha`. A job
that fails is recorded and the matrix goes on. The report is written to <outputs>/reproduce/<matrix>/report/.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from iguln.config import CONF_DIR
from iguln.config.groups import options
from iguln.core.errors import USER_ERROR_STATUS
from iguln.jobs.preflight import missing_items
from iguln.models.families import FAMILIES
from iguln.unlearn.losses import LOSSES

MINI_ALPHAS = (0.1, 1.0)  # mini's alpha sweep, with the rows' own alpha a three-point curve


def experiments(matrix: str, models: list[str], smoke: bool) -> list[str]:
    """paper: experiment=paper/<data>_<model> for every data set that has paper experiments (iguln/conf/experiment/
    paper/) and every model; mini: the one mini experiment."""
    if matrix == "paper":
        found = [o for o in options("experiment") if o.startswith("paper/")]
        datas = sorted(dict.fromkeys(o.removeprefix("paper/").rsplit("_", 1)[0] for o in found))
        return [f"paper/{data}_{model}" for data in datas for model in models]
    return ["mini_smoke" if smoke else "mini"]


def compose_job(experiment: str, model: str | None, overrides: list[str]) -> DictConfig:
    extra = [f"model={model}"] if model else []
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", [f"experiment={experiment}", *extra, *overrides])


def iguln(*args: str, dry_run: bool = False) -> int:
    """Run one iguln command in a subprocess (or, dry, only print it); its status. A failed job is recorded by the
    command itself, so the matrix goes on."""
    print("+ iguln " + " ".join(args), flush=True)
    return 0 if dry_run else subprocess.run([sys.executable, "-m", "iguln", *args]).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="iguln reproduce", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("matrix", choices=("paper", "mini"))
    paper_families = ",".join(name for name, family in FAMILIES.items() if family.paper)
    parser.add_argument("--models", default=paper_families, help=f"families, comma-separated ({paper_families})")
    parser.add_argument("--outputs", type=Path, default=Path("outputs"), help="paths.outputs (default: outputs)")
    parser.add_argument("--smoke", action="store_true", help="mini at smoke sizes (seconds per job; tests)")
    parser.add_argument("--dry-run", action="store_true", help="check and print the plan, run nothing")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides added to every job")
    args = parser.parse_intermixed_args(argv)  # overrides may come before or after the options
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in FAMILIES]
    if unknown:
        print(f"iguln reproduce: error: --models={unknown[0]!r} is not valid. Allowed: {', '.join(FAMILIES)}.",
              file=sys.stderr)  # fmt: skip
        return USER_ERROR_STATUS
    rows = ",".join(name for name, entry in LOSSES.items() if entry.paper)
    absent = [e for e in experiments(args.matrix, models, args.smoke) if e not in options("experiment")]
    if absent:
        have = ", ".join(e for e in options("experiment") if e.startswith("paper/"))
        print(f"iguln reproduce: error: --models={args.models!r} is not valid. Allowed: families with paper "
              f"experiments ({have}); missing: {', '.join(absent)}.", file=sys.stderr)  # fmt: skip
        return USER_ERROR_STATUS
    root = args.outputs / "reproduce" / args.matrix
    common = [f"paths.outputs={args.outputs}", *args.overrides]
    plan = []  # (experiment, model, what to run)
    for experiment in experiments(args.matrix, models, args.smoke):
        for model in [None] if args.matrix == "paper" else models:
            name = experiment if model is None else f"{experiment}_{model}"
            job = [f"experiment={experiment}", *([f"model={model}"] if model else []), *common]
            out = root / name
            plan.append((experiment, model, ["train", "-m", *job, f"loss={rows}", f"hydra.sweep.dir={out}/rows"]))
            plan.append((experiment, model, ["train", *job, "split.retain_source=proxy", f"hydra.run.dir={out}/proxy"]))
            if args.matrix == "mini":
                alpha = compose_job(experiment, model, list(args.overrides)).loss.alpha
                alphas = ",".join(f"{a:g}" for a in MINI_ALPHAS if a != alpha)
                sweep = ["train", "-m", *job, f"loss.alpha={alphas}", f"hydra.sweep.dir={out}/alpha"]
                plan.append((experiment, model, sweep))
    if args.matrix == "paper":
        missing = {}
        for experiment in dict.fromkeys(e for e, _, _ in plan):
            items = missing_items(compose_job(experiment, None, list(args.overrides)))
            if items:
                missing[experiment] = items
        if missing:
            lines = ["iguln reproduce paper: error: missing before any work starts:"]
            for experiment, items in missing.items():
                lines += [f"  experiment={experiment}:", *(f"    - {item}" for item in items)]
            print("\n".join(lines), file=sys.stderr)
            return USER_ERROR_STATUS
    for _, _, command in plan:
        iguln(*command, dry_run=args.dry_run)
    return iguln("report", str(root), f"paths.outputs={args.outputs}", f"out={root / 'report'}", dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
