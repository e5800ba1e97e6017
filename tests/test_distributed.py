"""torchrun: 2 CPU processes (gloo) against 1 process on the same job.

With a loss that draws no noise (RETAIN LABEL) the two runs take the same steps: the unlearned weights agree to
float rounding. Metrics agree within TOLERANCE: the evaluation batches differ (16 per process against 32), which moves
the FID of these 24- and 96-image sets by about 0.5 %.
"""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

import iguln.unlearn.unlearning as unlearning_module
from iguln.config.checks import check_distributed
from iguln.core import distributed
from iguln.core.errors import ConfigError
from iguln.data.masks import center_square
from iguln.training.recipe import Recipe
from iguln.unlearn.l2_noise import L2Noise
from tests.test_diffusion import images, make_diffusion

TOLERANCE = 0.02  # relative, on every FID, IS and CLIP value
JOB = ["train", "experiment=smoke", "model=mae", "loss=retain_label", "trainer.steps=30", "trainer.lr=1e-2"]
JOB += ["eval.lpips=off", "pretrain_if_missing=true"]


def iguln(*args: str, processes: int = 1) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else []
    done = subprocess.run([sys.executable, *launcher, "-m", "iguln", *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(two-process run dir, one-process run dir, outputs): the first pretrains the original and the judge."""
    out = tmp_path_factory.mktemp("torchrun")
    iguln(*JOB, f"paths.outputs={out}", "eval.batch_size=16", processes=2)
    iguln(*JOB, f"paths.outputs={out}", f"hydra.run.dir={out / 'one'}")
    (two,) = (out / "train").glob("*/*")  # both processes wrote into one run dir
    return two, out / "one", out


def record(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def test_one_run_dir_one_record_written_by_process_0(runs):
    two, _, _ = runs
    rec = record(two)
    assert rec["status"] == "complete" and rec["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert (two / "train.rank1.log").is_file() and (two / "unlearned" / "weights.safetensors").is_file()
    assert record(runs[1])["distributed"] is None
    for model in ("original", "unlearned"):  # every process's share of the test images was gathered
        counts = {s: rec["metrics"][model][s]["fid"]["n_generated"] for s in ("forget", "retain")}
        assert counts == {"forget": 24, "retain": 96}


def test_two_processes_take_the_steps_of_one(runs):
    two, one, out = runs
    a, b = (load_file(d / "unlearned" / "weights.safetensors") for d in (two, one))
    (original_dir,) = (out / "store" / "original").iterdir()
    original = load_file(original_dir / "weights.safetensors")
    moved = max((a[k] - original[k]).abs().max().item() for k in a)
    apart = max((a[k] - b[k]).abs().max().item() for k in a)
    assert moved > 1e-2 and apart < 1e-4, (moved, apart)


def test_metrics_match_one_process_within_the_tolerance(runs):
    a, b = record(runs[0]), record(runs[1])
    assert "real/forget" not in b["features_reused"]  # the one-process run extracted its own (other batch size)
    for model in ("original", "unlearned"):
        for s in ("forget", "retain"):
            for metric in ("fid", "is", "clip"):
                x, y = a["metrics"][model][s][metric]["value"], b["metrics"][model][s][metric]["value"]
                assert abs(x - y) <= TOLERANCE * abs(y), (model, s, metric, x, y)


def test_a_sweep_runs_each_job_on_every_process(runs):
    out = runs[2]
    iguln(*JOB[:2], "model=mae", "trainer.steps=2", f"paths.outputs={out}", "loss.alpha=0.1,1.0", "-m", processes=2)
    (sweep,) = (out / "multirun").glob("*/*")
    summary = json.loads((sweep / "sweep.json").read_text())
    assert summary["complete"] == 2 and summary["failed"] == 0
    assert all(record(sweep / str(job))["distributed"]["world_size"] == 2 for job in (0, 1))


def test_shards_cover_the_items_in_order():
    for n in (0, 1, 7, 24, 97):
        for count in (1, 2, 3, 8):
            shares = [distributed.shard(n, i, count) for i in range(count)]
            assert [i for share in shares for i in share] == list(range(n))
            assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_the_batch_must_split_evenly(compose_cfg, monkeypatch):
    cfg = compose_cfg("train", ["trainer.batch_size=30"])
    monkeypatch.setattr(distributed, "world_size", lambda: 4)
    with pytest.raises(ConfigError, match="trainer.batch_size.*multiple of the 4 processes"):
        check_distributed(cfg)
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    check_distributed(cfg)


def test_commands_that_run_in_one_process_refuse_torchrun(monkeypatch, capsys):
    from iguln.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(SystemExit) as stop:
        main(["pretrain", "experiment=smoke"])
    assert stop.value.code == 2 and "torchrun is for train and eval" in capsys.readouterr().err


class Killed(RuntimeError):
    """Stands for the processes being killed."""


def kill_after(steps: int) -> None:
    """Make unlearning's fit raise Killed at step `steps` + 1 (in this process)."""
    real_fit = unlearning_module.fit

    def fit(params, step_fn, *args, **kwargs):
        calls = {"n": 0}

        def step():
            calls["n"] += 1
            if calls["n"] > steps:
                raise Killed
            return step_fn()

        return real_fit(params, step, *args, **kwargs)

    unlearning_module.fit = fit


def unlearn_in_two(rank: int, folder: Path, phase: str) -> None:
    """One of two gloo processes unlearning a micro diffusion model (whose loss draws noise per process) for 4
    steps with checkpoints every 2: phase "whole" runs through, "killed" stops after 3 steps, "resumed" runs
    again. Process 0 saves the student's weights and the step it resumed from."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/group-{phase}", rank=rank, world_size=2)
    try:
        original = make_diffusion()
        student = copy.deepcopy(original)
        data = torch.utils.data.TensorDataset(images(16), torch.zeros(16))
        recipe = Recipe(4, batch_size=4, lr=1e-2, betas=(0.9, 0.95), weight_decay=0.0, warmup_steps=0, grad_clip=1.0)
        checkpoint = (folder / "partial" / "checkpoint.pt", {"processes": 2}, 2)
        if phase == "killed":
            kill_after(3)
        args = (L2Noise(1.0, "gaussian"), data, data, center_square(32, 0.5), recipe, torch.device("cpu"), 0)
        try:
            history = unlearning_module.unlearn(student, original, *args, checkpoint=checkpoint)
        except Killed:
            return
        if rank == 0:
            torch.save({"weights": student.state_dict(), "from": history["resumed_from_step"]}, folder / f"{phase}.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_killed_part_way_resume_to_the_same_weights(tmp_path):
    for phase in ("whole", "killed", "resumed"):
        if phase != "resumed":
            (tmp_path / "partial" / "checkpoint.pt").unlink(missing_ok=True)
        mp.spawn(unlearn_in_two, args=(tmp_path, phase), nprocs=2)
        if phase == "killed":
            payload = torch.load(tmp_path / "partial" / "checkpoint.pt", weights_only=True)
            assert payload["step"] == 2 and len(payload["ranks"]) == 2  # each process's random state
            noise = [r["generators"]["noise"] for r in payload["ranks"]]
            assert not torch.equal(*noise)
    whole, resumed = (torch.load(tmp_path / f"{p}.pt", weights_only=True) for p in ("whole", "resumed"))
    assert resumed["from"] == 2 and whole["from"] == 0
    assert all(torch.equal(whole["weights"][k], resumed["weights"][k]) for k in whole["weights"])
