"""A sweep goes on past a failed job: every job leaves a record, and sweep.json lists them."""

import json
import sys

import pytest

from iguln.cli import main


def test_a_three_job_sweep_with_one_failure_leaves_two_records_and_a_failure(tmp_path):
    sweep = tmp_path / "sweep"
    with pytest.raises(SystemExit) as exit_info:  # Hydra ends the sweep with the failed job's error
        main(
            [
                "train",
                "-m",
                "experiment=smoke",
                "pretrain_if_missing=true",
                f"paths.outputs={tmp_path}",
                f"hydra.sweep.dir={sweep}",
                "loss.alpha=0.5,-1,0.25",
            ]
        )
    assert exit_info.value.code != 0
    records = {job: json.loads((sweep / job / "results.json").read_text()) for job in ("0", "1", "2")}
    assert [records[j]["status"] for j in ("0", "1", "2")] == ["complete", "failed", "complete"]
    assert "loss.alpha" in records["1"]["error"]
    assert records["2"]["config"]["loss"]["alpha"] == 0.25 and records["2"]["metrics"]["unlearned"]
    assert "real/forget" in records["2"]["features_reused"]  # the ground truth was extracted by job 0
    summary = json.loads((sweep / "sweep.json").read_text())
    assert (summary["complete"], summary["failed"]) == (2, 1)
    assert summary["jobs"][1]["overrides"].endswith("loss.alpha=-1") and "loss.alpha" in summary["jobs"][1]["error"]


class FakeWandb:
    """Records what the wandb logger asks of wandb: each run's name and group, and when runs finish."""

    def __init__(self):
        self.events = []

    def init(self, **kwargs):
        self.events.append(("init", kwargs["name"], kwargs["group"]))
        events, name = self.events, kwargs["name"]

        class Run:
            summary = {}

            def log(self, values):
                pass

            def finish(self):
                events.append(("finish", name, None))

        return Run()


def test_with_wandb_each_sweep_job_is_one_run_grouped_by_the_sweep_and_finished_before_the_next(tmp_path, monkeypatch):
    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    sweep = tmp_path / "sweep"
    common = ["experiment=smoke", "pretrain_if_missing=true", f"paths.outputs={tmp_path}", f"hydra.sweep.dir={sweep}"]
    main(["train", "-m", *common, "logger=wandb", "loss.alpha=0.5,0.25"])
    kinds = [(kind, name) for kind, name, _ in fake.events]
    assert kinds == [
        ("init", "train-vqgan-l2_noise-job0"),
        ("finish", "train-vqgan-l2_noise-job0"),
        ("init", "train-vqgan-l2_noise-job1"),
        ("finish", "train-vqgan-l2_noise-job1"),
    ]
    assert {group for kind, _, group in fake.events if kind == "init"} == {str(sweep)}
