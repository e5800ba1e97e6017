"""A sweep goes on past a failed job: every job leaves a record, and sweep.json lists them."""

import json

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
