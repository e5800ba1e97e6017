"""iguln reproduce paper|mini: every row of the paper's tables for every family, then the report.

    iguln reproduce paper [--models vqgan,diffusion] [--outputs DIR] [--dry-run] [OVERRIDE ...]
    iguln reproduce mini  [--models ...] [--outputs DIR] [--smoke] [OVERRIDE ...]

paper: experiment=paper/<data>_<model> for ImageNet-1K and Places-365. Before anything runs, every data root and
weights file the matrix needs is checked; when one is missing, the command stops listing each missing item, the
config key (or environment variable) that provides it and the layout expected there.
mini: experiment=mini (Fashion-MNIST, CPU), plus an alpha sweep of the paper's loss.

Each experiment runs as Hydra sweeps under <outputs>/reproduce/<matrix>/<experiment>/: `rows` (the paper's loss,
the four baselines, Retrain), `proxy` (the paper's loss with the proxy retain set) and, for mini, `alpha`. A job
that fails is recorded and the matrix goes on. The report is written to <outputs>/reproduce/<matrix>/report/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from iguln.commands.app import CONF_DIR, USER_ERROR_STATUS

FAMILIES = ("vqgan", "mae", "diffusion")
ROW_LOSSES = "l2_noise,max_loss,noisy_label,retain_label,random_encoder,retrain"
MINI_ALPHAS = (0.1, 0.25, 0.5, 1.0)  # the alpha sweep of mini; the rows' own alpha is not run twice
ENV = {  # config key -> the environment variable the paper experiments read it from
    "data.root": {"imagenet": "IGULN_IMAGENET", "places365": "IGULN_PLACES365"},
    "model.pretrained": {"vqgan": "IGULN_MAGE_WEIGHTS", "diffusion": "IGULN_PALETTE_WEIGHTS"},
    "model.pretrained_tokenizer": {"vqgan": "IGULN_VQGAN_WEIGHTS"},
    "eval.weights": {"inception": "IGULN_INCEPTION_WEIGHTS"},
}


def experiments(matrix: str, models: list[str], smoke: bool) -> list[str]:
    if matrix == "paper":
        return [f"paper/{data}_{model}" for data in ("imagenet", "places365") for model in models]
    return ["mini_smoke" if smoke else "mini"]


def compose_job(experiment: str, model: str | None, overrides: list[str]) -> DictConfig:
    extra = [f"model={model}"] if model else []
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", [f"experiment={experiment}", *extra, *overrides])


def _where(key: str, choice: str) -> str:
    env = ENV.get(key, {}).get(choice)
    return f"{key}=... (or {env}=...)" if env else f"{key}=..."


def missing_items(cfg: DictConfig) -> list[str]:
    """What a paper experiment needs that is not there: data roots, class folders, weights files."""
    items = []
    data, model = cfg.data, cfg.model
    layout = f"<root>/{data.train_dir}/<class>/<images> and <root>/{data.eval_dir}/<class>/<images>"
    root = data.get("root")
    if root is None or not Path(str(root)).is_dir():
        state = "not set" if root is None else f"{root} does not exist"
        items.append(f"{_where('data.root', data.name)}: {state}; the {data.name} folder, {layout}")
    else:
        classes = list(cfg.split.forget) + list(cfg.split.retain)
        for part in (data.train_dir, data.eval_dir):
            absent = [c for c in classes if not (Path(str(root)) / part / str(c)).is_dir()]
            if absent:
                items.append(
                    f"data.root={root}: {len(absent)} class folders missing under {part}/, e.g. {', '.join(absent[:3])}"
                )
    if model.name == "mae":
        items.append(
            "model=mae: this version cannot import released MAE weights, and training a ViT-L MAE from scratch is "
            "not the paper's protocol; leave it out with --models vqgan,diffusion"
        )
    for key in ("pretrained", "pretrained_tokenizer"):
        if key not in model:
            continue
        value = model.get(key)
        if value is None and key == "pretrained":
            items.append(f"{_where('model.' + key, model.name)}: not set; the paper's released {model.name} weights")
        elif value is not None and not Path(str(value)).is_file():
            items.append(f"{_where('model.' + key, model.name)}: {value} is not a file")
    weights = cfg.eval.get("weights")
    if cfg.eval.backbone == "inception" and (weights is None or not Path(str(weights)).is_file()):
        state = "not set" if weights is None else f"{weights} is not a file"
        items.append(f"{_where('eval.weights', 'inception')}: {state}; torch-fidelity's Inception-V3 weights file")
    return items


def iguln(*args: str) -> int:
    """Run one iguln command in a subprocess; its status (a failed job is recorded by the command itself)."""
    print("+ iguln " + " ".join(args), flush=True)
    return subprocess.run([sys.executable, "-m", "iguln", *args], env={**os.environ}).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="iguln reproduce", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("matrix", choices=("paper", "mini"))
    parser.add_argument("--models", default=",".join(FAMILIES), help="families, comma-separated (default: all)")
    parser.add_argument("--outputs", type=Path, default=Path("outputs"), help="paths.outputs (default: outputs)")
    parser.add_argument("--smoke", action="store_true", help="mini at smoke sizes (seconds per job; tests)")
    parser.add_argument("--dry-run", action="store_true", help="check and print the plan, run nothing")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides added to every job")
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in FAMILIES]
    if unknown:
        print(f"iguln reproduce: error: --models={unknown[0]!r} is not valid. Allowed: {', '.join(FAMILIES)}.")
        return USER_ERROR_STATUS
    root = args.outputs / "reproduce" / args.matrix
    common = [f"paths.outputs={args.outputs}", *args.overrides]
    plan = []  # (experiment, model, what to run)
    for experiment in experiments(args.matrix, models, args.smoke):
        for model in [None] if args.matrix == "paper" else models:
            name = experiment if model is None else f"{experiment}_{model}"
            job = [f"experiment={experiment}", *([f"model={model}"] if model else []), *common]
            out = root / name
            plan.append((experiment, model, ["train", "-m", *job, f"loss={ROW_LOSSES}", f"hydra.sweep.dir={out}/rows"]))
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
            print("iguln reproduce paper: error: missing before any work starts:")
            for experiment, items in missing.items():
                print(f"  experiment={experiment}:")
                print("\n".join(f"    - {item}" for item in items))
            return USER_ERROR_STATUS
    for _, _, command in plan:
        print("+ iguln " + " ".join(command)) if args.dry_run else iguln(*command)
    report = ["report", str(root), f"paths.outputs={args.outputs}", f"out={root / 'report'}"]
    if args.dry_run:
        print("+ iguln " + " ".join(report))
        return 0
    return iguln(*report)


if __name__ == "__main__":
    sys.exit(main())
