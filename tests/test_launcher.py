"""Sweeps through Hydra's submitit launcher: hydra/launcher=local runs each job in its own process, as a SLURM job
would be; hydra/launcher=slurm composes with iguln's defaults and turns them into the sbatch script's options."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.types import RunMode
from omegaconf import OmegaConf

from iguln.commands.app import JobError, sendable_error
from iguln.config import CONF_DIR
from iguln.core.errors import ConfigError
from iguln.core.io import atomic_write_json
from iguln.jobs import sweep

# Each job is a separate process: one torch thread each keeps two jobs from fighting over the same cores.
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}


def iguln(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real console script in a fresh process (the launcher starts further processes from it)."""
    command = [sys.executable, "-m", "iguln", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env or ENV, timeout=timeout)


def test_a_two_job_sweep_on_the_submitit_local_launcher_leaves_one_complete_record_per_job(tmp_path):
    # As on a cluster: the original generator is made once, then the sweep's jobs run at the same time and share it.
    common = ["experiment=smoke", "hydra/launcher=local", f"paths.outputs={tmp_path}"]
    pretrain = iguln("pretrain", "-m", *common, f"hydra.sweep.dir={tmp_path / 'pretrain'}")
    assert pretrain.returncode == 0, pretrain.stderr[-3000:]
    sweep_dir = tmp_path / "sweep"
    result = iguln("train", "-m", *common, f"hydra.sweep.dir={sweep_dir}", "loss.alpha=0.25,0.5")
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads((sweep_dir / job / "results.json").read_text()) for job in ("0", "1")]
    assert [r["status"] for r in records] == ["complete", "complete"]
    assert [r["config"]["loss"]["alpha"] for r in records] == [0.25, 0.5]
    assert all(r["metrics"]["unlearned"]["forget"] and r["metrics"]["unlearned"]["retain"] for r in records)
    summary = json.loads((sweep_dir / "sweep.json").read_text())
    assert (summary["complete"], summary["failed"]) == (2, 0)
    logs = list((sweep_dir / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2  # each job's stdout, next to its stderr, under <sweep dir>/.submitit/<job id>/


def slurm_launcher(overrides: list[str]) -> dict:
    """The hydra.launcher node `iguln train -m OVERRIDES hydra/launcher=slurm` submits with, resolved."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", ["hydra/launcher=slurm", *overrides], return_hydra_config=True)
    # submitit_folder is left out: it points into the sweep dir, whose ${now:...} only a running sweep resolves
    return {key: cfg.hydra.launcher[key] for key in cfg.hydra.launcher if key != "submitit_folder"}


def test_the_slurm_launcher_composes_with_one_gpu_per_job_and_a_partition_from_the_environment(monkeypatch):
    monkeypatch.delenv("IGULN_SLURM_PARTITION", raising=False)
    launcher = slurm_launcher([])
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert launcher["partition"] is None  # the cluster's default partition
    assert (launcher["gpus_per_node"], launcher["tasks_per_node"], launcher["nodes"]) == (1, 1, 1)
    assert launcher["timeout_min"] > 0 and launcher["array_parallelism"] > 0

    monkeypatch.setenv("IGULN_SLURM_PARTITION", "gpu")
    assert slurm_launcher([])["partition"] == "gpu"
    overrides = ["hydra.launcher.partition=a100", "hydra.launcher.timeout_min=30", "hydra.launcher.array_parallelism=2"]
    launcher = slurm_launcher(overrides)
    assert (launcher["partition"], launcher["timeout_min"], launcher["array_parallelism"]) == ("a100", 30, 2)


# Stand-ins for SLURM's commands: sbatch keeps the script it is given, then refuses it, so nothing waits for a
# cluster; srun only has to exist (submitit looks for it before submitting).
FAKE_SLURM = {
    "sbatch": '#!/bin/sh\nfor last; do :; done\ncp "$last" "$SBATCH_COPY"\necho "no cluster here" >&2\nexit 1\n',
    "srun": "#!/bin/sh\nexit 1\n",
}


def test_the_slurm_launcher_submits_one_array_with_the_configured_resources(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in FAKE_SLURM.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    copy = tmp_path / "submitted.sh"
    env = {**ENV, "PATH": f"{bin_dir}{os.pathsep}{ENV['PATH']}", "SBATCH_COPY": str(copy)}
    sweep_dir = tmp_path / "sweep"
    result = iguln(
        "train",
        "-m",
        "experiment=smoke",
        "hydra/launcher=slurm",
        "hydra.launcher.partition=a100",
        "hydra.launcher.timeout_min=30",
        "hydra.launcher.array_parallelism=2",
        f"paths.outputs={tmp_path}",
        f"hydra.sweep.dir={sweep_dir}",
        "loss.alpha=0.25,0.5,1.0",
        env=env,
        timeout=300,
    )
    assert result.returncode != 0 and "no cluster here" in result.stderr
    script = copy.read_text()
    for option in ("--partition=a100", "--time=30", "--gpus-per-node=1", "--ntasks-per-node=1", "--array=0-2%2"):
        assert f"#SBATCH {option}\n" in script, script
    assert f"#SBATCH --output={sweep_dir}/.submitit/%A_%a/%A_%a_0_log.out" in script
    assert not list(Path(tmp_path).glob("sweep/*/results.json"))  # nothing ran here


def test_a_job_error_that_cannot_be_pickled_is_sent_back_as_text():
    # The submitit launchers pickle a failed job's error back to the sweep's process.
    bad_alpha = ConfigError("loss.alpha", -1, "a number >= 0", "Try loss.alpha=0.25.")
    sent = pickle.loads(pickle.dumps(sendable_error(bad_alpha)))
    assert isinstance(sent, ConfigError) and str(sent) == str(bad_alpha) and sent.key == "loss.alpha"

    class Unpicklable(Exception):  # a local class: pickle cannot find it by name
        pass

    sent = pickle.loads(pickle.dumps(sendable_error(Unpicklable("boom"))))
    assert isinstance(sent, JobError) and str(sent) == "Unpicklable: boom"
    plain = ValueError("no such file")
    assert sendable_error(plain) is plain


def test_a_job_that_read_the_sweep_dir_before_another_job_ended_still_leaves_both_in_sweep_json(tmp_path, monkeypatch):
    def record(job: str) -> None:
        (tmp_path / job).mkdir()
        (tmp_path / job / "results.json").write_text('{"status": "complete"}')

    def write_while_job_1_ends(path, data):  # job 1's record lands between job 0's read and job 0's write
        if not (tmp_path / "1").exists():
            record("1")
        atomic_write_json(path, data)

    monkeypatch.setattr(sweep, "atomic_write_json", write_while_job_1_ends)
    record("0")
    config = OmegaConf.create({"hydra": {"mode": RunMode.MULTIRUN, "sweep": {"dir": str(tmp_path)}}})
    sweep.SweepSummary().on_job_end(config)
    assert [job["job"] for job in json.loads((tmp_path / "sweep.json").read_text())["jobs"]] == ["0", "1"]
