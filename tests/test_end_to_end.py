"""pretrain -> train -> eval -> report on experiment=smoke, through the real command line, in one store."""

import json
from pathlib import Path

import pytest
import torch

from iguln.cli import main

SETS, METRICS = ("forget", "retain"), ("fid", "is", "clip")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    return tmp_path_factory.mktemp("outputs")


def iguln(outputs: Path, command: str, run: str, *args: str) -> Path:
    """Run `iguln COMMAND experiment=smoke ...` in process with its own run dir; returns the run dir."""
    run_dir = outputs / "runs" / run
    main([command, "experiment=smoke", f"paths.outputs={outputs}", f"hydra.run.dir={run_dir}", *args])
    return run_dir


def record(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def metric_values(rec: dict, model: str) -> dict:
    return {(s, m): rec["metrics"][model][s][m]["value"] for s in SETS for m in METRICS}


def test_train_without_original_names_the_pretrain_command(outputs, capsys):
    with pytest.raises(SystemExit) as exit_info:
        iguln(outputs, "train", "no-original")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"iguln pretrain experiment=smoke paths.outputs={outputs}" in err
    assert not (outputs / "store" / "judge").exists()


def test_pretrain_puts_the_original_in_the_store(outputs):
    run_dir = iguln(outputs, "pretrain", "pretrain")
    entries = list((outputs / "store" / "original").iterdir())
    assert len(entries) == 1 and entries[0].name.startswith("vqgan-")  # the default family
    manifest = json.loads((entries[0] / "manifest.json").read_text())
    assert manifest["role"] == "original" and len(manifest["sha256"]) == 64
    assert manifest["key"]["classes"] == list(range(10)) and manifest["key"]["model"]["pretrain"]["steps"] == 6
    assert "decode" not in manifest["key"]["model"]  # generation settings do not make another original
    assert set(manifest["training"]) == {"tokenizer", "transformer"}
    assert manifest["training"]["tokenizer"]["held_out"]["psnr_db"] > 0
    assert manifest["training"]["tokenizer"]["perceptual"].startswith("off: LPIPS-VGG weights could not be loaded")
    assert manifest["versions"]["torch"] and manifest["created"] and manifest["config"]["seed"] == 0
    rec = record(run_dir)
    assert rec["status"] == "complete" and rec["models"]["original"]["sha256"] == manifest["sha256"]
    iguln(outputs, "pretrain", "pretrain-again")
    assert record(outputs / "runs" / "pretrain-again")["reused"] is True
    assert len(list((outputs / "store" / "original").iterdir())) == 1


def test_train_writes_a_complete_record(outputs):
    rec = record(iguln(outputs, "train", "train", "logger=csv"))
    assert rec["status"] == "complete" and rec["command"] == "train"
    for model in ("original", "unlearned"):
        for s in SETS:
            for m in METRICS:
                entry = rec["metrics"][model][s][m]
                assert isinstance(entry["value"], float), (model, s, m, entry)
                assert entry["backbone"] == "domain-judge" and len(entry["backbone_weights"]) == 64
                assert "judge_test_accuracy" in entry and entry["unit"]
            assert rec["metrics"][model][s]["fid"]["n_generated"] == {"forget": 24, "retain": 96}[s]
    assert rec["split"]["forget"]["classes"] == ["trouser", "bag"]
    assert len(rec["split"]["forget"]["unlearn_indices"]) == 16 and len(rec["split"]["retain"]["eval_indices"]) == 96
    assert rec["seeds"] == {"seed": 0, "split_seed": 0, "model_seed": 0, "judge_seed": 0}
    for s in SETS:  # the paired bootstrap intervals of each FID and of the unlearned / original ratio
        low, high = rec["metrics"]["unlearned"][s]["fid"]["ci95"]
        assert low <= rec["metrics"]["unlearned"][s]["fid"]["value"] <= high
        ratio = rec["ratios"][s]
        assert (
            ratio["value"]
            == rec["metrics"]["unlearned"][s]["fid"]["value"] / rec["metrics"]["original"][s]["fid"]["value"]
        )
        assert ratio["ci95"][0] <= ratio["value"] <= ratio["ci95"][1] and ratio["bootstrap"]["draws"] == 200
    assert rec["versions"]["lock"]["matches"] is True
    assert rec["config"]["model"]["arch"]["transformer"]["hidden_size"] == 32  # the preset, written out
    assert rec["generation"] == {"iterations": 3, "temperature": 1.0, "choice_temperature": 4.5}
    assert (
        rec["unlearning"]["steps"] == 4
        and rec["unlearning"]["trainable_parameters"] < rec["unlearning"]["total_parameters"]
    )
    assert {"load_data", "backbone", "unlearn", "eval_original", "eval_unlearned", "total"} <= set(rec["timings_s"])
    lpips = rec["metrics"]["unlearned"]["retain"]["lpips"]  # missing, with the reason, without AlexNet weights
    assert lpips["backbone"] == "lpips-alex-v0.1" and (isinstance(lpips["value"], float) or lpips["missing"])
    speed = rec["throughput"]
    assert speed["steps_per_s"] > 0 and speed["images_per_s"] == pytest.approx(speed["steps_per_s"] * 2 * 4, 0.01)
    assert speed["eval_unlearned_images_per_s"] > 0 and speed["peak_rss_gib"] > 0
    assert rec["versions"]["transformers"]
    for s in SETS:  # the five aspects' entries: detector, references, preservation, efficiency
        for model in ("original", "unlearned"):
            assert 0 <= rec["metrics"][model][s]["detect"]["value"] <= 1
            assert 0 <= rec["metrics"][model][s]["detect_hole"]["value"] <= 1
        assert set(rec["references"]) == {"ground_truth", "zero_fill", "noise_fill"}
        assert set(rec["references"]["ground_truth"][s]) == {"detect", "detect_hole"}
        assert rec["references"]["zero_fill"][s]["fid"]["value"] > 0
    kept = rec["metrics"]["unlearned"]["retain"]
    assert kept["psnr"]["value"] > 0 and 0 < kept["ssim"]["value"] <= 1 and kept["feature_distance"]["value"] >= 0
    change = rec["efficiency"]["weights"]
    assert 0 < change["changed_share"] < 1 and change["encoder"]["changed_share"] > 0.9  # encoder-only loss
    assert change["changed"] == change["encoder"]["changed"] and rec["efficiency"]["wall_s"] > 0
    saved = json.loads((outputs / "runs" / "train" / "unlearned" / "manifest.json").read_text())
    assert saved["sha256"] == rec["models"]["unlearned"]["sha256"] and saved["role"] == "unlearned"
    assert (outputs / "runs" / "train" / "metrics.csv").read_text().count("unlearn") >= 4
    assert (outputs / "runs" / "train" / ".hydra" / "config.yaml").is_file()
    assert (outputs / "runs" / "train" / "samples.png").stat().st_size > 0


def test_same_config_and_seed_give_the_same_numbers(outputs):
    first = record(outputs / "runs" / "train")
    second = record(iguln(outputs, "train", "train-again", "logger=wandb"))
    assert metric_values(second, "unlearned") == metric_values(first, "unlearned")
    assert second["models"]["unlearned"]["sha256"] == first["models"]["unlearned"]["sha256"]
    other_seed = record(iguln(outputs, "train", "train-seed", "seed=1"))  # no pretraining: the original is reused
    assert other_seed["split"]["forget"]["eval_indices"] != first["split"]["forget"]["eval_indices"]
    assert other_seed["models"]["original"]["sha256"] == first["models"]["original"]["sha256"]
    assert other_seed["models"]["unlearned"]["sha256"] != first["models"]["unlearned"]["sha256"]
    assert (
        len(list((outputs / "store" / "original").iterdir())) == 1
        and len(list((outputs / "store" / "judge").iterdir())) == 1
    )


def test_another_cpu_thread_count_is_another_original(outputs, capsys):
    """Pretrained weights differ with the thread count, so the store key holds it: a job with another count does
    not reuse the stored original but asks for its own."""
    (entry,) = (outputs / "store" / "original").iterdir()
    threads = torch.get_num_threads()
    assert json.loads((entry / "manifest.json").read_text())["key"]["cpu_threads"] == threads
    torch.set_num_threads(threads + 1)
    try:
        with pytest.raises(SystemExit) as exit_info:
            iguln(outputs, "train", "other-threads")
    finally:
        torch.set_num_threads(threads)
    assert exit_info.value.code == 2 and "iguln pretrain experiment=smoke" in capsys.readouterr().err


def test_eval_scores_the_unlearned_and_the_original_as_train_did(outputs):
    trained = record(outputs / "runs" / "train")
    unlearned = record(iguln(outputs, "eval", "eval-unlearned", f"checkpoint={outputs / 'runs/train/unlearned'}"))
    assert metric_values(unlearned, "unlearned") == metric_values(trained, "unlearned")
    original = record(iguln(outputs, "eval", "eval-original"))
    assert metric_values(original, "original") == metric_values(trained, "original")


def test_eval_of_a_folder_that_is_no_generator(outputs, capsys):
    with pytest.raises(SystemExit):
        iguln(outputs, "eval", "eval-bad", f"checkpoint={outputs}")
    assert "checkpoint=" in capsys.readouterr().err


def test_report_writes_the_paper_table_of_the_records(outputs, capsys):
    report = outputs / "report"
    main(["report", str(outputs / "runs" / "train"), f"paths.outputs={outputs}", f"out={report}"])
    out = capsys.readouterr().out
    assert "| Original |" in out and "| Ours |" in out and "Backbone: domain-judge" in out
    written = {p.name for p in report.iterdir()}
    assert written >= {"tables.md", "tables.csv", "tables.tex", "tsne_fashion_mnist_vqgan.png"}


def test_a_second_run_into_a_finished_run_dir_is_refused_before_any_work(outputs, capsys, monkeypatch):
    before = (outputs / "runs" / "train" / "results.json").read_bytes()
    monkeypatch.setattr("iguln.jobs.unlearning.unlearn", lambda *a, **k: pytest.fail("no work may start"))
    with pytest.raises(SystemExit) as exit_info:
        iguln(outputs, "train", "train")
    assert exit_info.value.code == 2
    assert "hydra.run.dir=" in capsys.readouterr().err
    assert (outputs / "runs" / "train" / "results.json").read_bytes() == before  # the finished record is kept
    scored = (outputs / "runs" / "eval-original" / "results.json").read_bytes()
    with pytest.raises(SystemExit):  # every command: an eval's record is kept too
        iguln(outputs, "eval", "eval-original")
    assert (outputs / "runs" / "eval-original" / "results.json").read_bytes() == scored


def test_a_run_that_breaks_leaves_a_failed_record(outputs, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr("iguln.jobs.unlearning.unlearn", broken)
    with pytest.raises(SystemExit):
        iguln(outputs, "train", "broken")
    rec = record(outputs / "runs" / "broken")
    assert rec["status"] == "failed" and rec["error"] == "RuntimeError: out of memory (simulated)"
    assert rec["models"]["original"]["sha256"] and "load_data" in rec["timings_s"]


def test_mae_runs_through_the_same_commands(tmp_path):
    outputs = tmp_path / "mae"
    iguln(outputs, "pretrain", "pretrain", "model=mae")
    rec = record(iguln(outputs, "train", "train", "model=mae"))
    assert rec["status"] == "complete" and rec["config"]["model"]["name"] == "mae"
    assert all(isinstance(v, float) for v in metric_values(rec, "unlearned").values())
    assert (outputs / "store" / "original").iterdir().__next__().name.startswith("mae-")


def test_diffusion_runs_through_the_same_commands(tmp_path):
    outputs = tmp_path / "diffusion"
    iguln(outputs, "pretrain", "pretrain", "model=diffusion")
    rec = record(iguln(outputs, "train", "train", "model=diffusion"))
    assert rec["status"] == "complete" and rec["config"]["model"]["name"] == "diffusion"
    assert rec["generation"] == {"sample_steps": 3}
    assert all(isinstance(v, float) for v in metric_values(rec, "unlearned").values())
    assert rec["unlearning"]["trainable_parameters"] < rec["unlearning"]["total_parameters"]
    assert (outputs / "store" / "original").iterdir().__next__().name.startswith("diffusion-")
    evaluated = record(iguln(outputs, "eval", "eval", "model=diffusion", f"checkpoint={outputs}/runs/train/unlearned"))
    assert metric_values(evaluated, "unlearned") == metric_values(rec, "unlearned")  # the same seeded sampling
