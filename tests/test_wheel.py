"""A wheel of iguln, installed (not editable) into a scratch folder, composes its configs and runs a smoke job from
a directory outside the repository: the configs are package data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return out.split()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The scratch folder the wheel is installed into, built from a copy of the tracked files (the build leaves
    nothing in the repository)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    for name in tracked_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / name).read_bytes())
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist", source], check=True)
    (wheel,) = (root / "dist").glob("iguln-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", root / "site", wheel], check=True)
    return root / "site"


def run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_the_wheel_holds_every_config(site):
    packaged = {p.relative_to(site / "iguln" / "conf") for p in (site / "iguln" / "conf").rglob("*.yaml")}
    in_repo = {p.relative_to(REPO / "iguln" / "conf") for p in (REPO / "iguln" / "conf").rglob("*.yaml")}
    assert packaged == in_repo and Path("experiment/paper/imagenet_vqgan.yaml") in packaged


def test_the_installed_package_composes_a_job_outside_the_repository(site, tmp_path):
    where = run(site, tmp_path, "-c", "import iguln; print(iguln.__file__)")
    assert where.stdout.strip() == str(site / "iguln" / "__init__.py")
    result = run(site, tmp_path, "-m", "iguln", "train", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    assert "model:\n  name: vqgan" in result.stdout and "loss:\n  name: l2_noise" in result.stdout


def test_the_installed_package_runs_a_smoke_job_outside_the_repository(site, tmp_path):
    result = run(site, tmp_path, "-m", "iguln", "train", "experiment=smoke", "pretrain_if_missing=true")
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = (tmp_path / "outputs" / "train").rglob("results.json")
    record = json.loads(path.read_text())
    assert record["status"] == "complete" and record["metrics"]["unlearned"]["forget"]["fid"]["value"] > 0
