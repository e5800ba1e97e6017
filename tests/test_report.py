"""iguln report on records the test writes: the paper's rows and cells, failed jobs and missing metrics shown,
the files and figures written."""

import csv
import json
from pathlib import Path

import pytest

from iguln.cli import main
from iguln.report.formats import markdown
from iguln.report.paper import build_blocks

BACKBONE = {"backbone": "domain-judge", "backbone_weights": "abc", "judge_test_accuracy": 0.9}


def entries(fid: float, is_: float | None = 2.0, clip: float = 0.9, n: int = 10) -> dict:
    common = {**BACKBONE, "n_generated": n, "n_real": n}
    entry_is = {"value": is_, **common} if is_ is not None else {"value": None, "missing": "no logits", **common}
    return {"fid": {"value": fid, **common}, "is": entry_is, "clip": {"value": clip, **common}}


def record(loss: str, forget_fid: float, alpha=0.25, source="retain", status="complete", model="vqgan") -> dict:
    rec = {
        "command": "train",
        "status": status,
        "config": {"data": {"name": "fashion_mnist"}, "model": {"name": model}},
        "method": {"loss": loss, "alpha": alpha, "scope": "encoder", "retain_source": source},
    }
    if status != "complete":
        return {**rec, "error": "RuntimeError: out of memory"}
    return {
        **rec,
        "models": {"original": {"sha256": "0" * 64}},
        "metrics": {
            "original": {"forget": entries(10.0), "retain": entries(5.0)},
            "unlearned": {"forget": entries(forget_fid), "retain": entries(5.5, is_=None)},
        },
    }


@pytest.fixture
def runs(tmp_path) -> Path:
    made = {
        "ours": record("l2_noise", 40.0),
        "ours-a1": record("l2_noise", 60.0, alpha=1.0),
        "proxy": record("l2_noise", 30.0, source="proxy"),
        "max": record("max_loss", 20.0),
        "retrain": record("retrain", 12.0, alpha=None),
        "broken": record("noisy_label", 0.0, status="failed"),
        "mae": record("l2_noise", 25.0, model="mae"),
    }
    for name, rec in made.items():
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "results.json").write_text(json.dumps(rec))
    return tmp_path / "runs"


def test_rows_cells_failures_and_missing_metrics(runs):
    paths = sorted(runs.rglob("results.json"))
    blocks = build_blocks([(p, json.loads(p.read_text())) for p in paths])
    assert [(b.data, b.model) for b in blocks] == [("fashion_mnist", "mae"), ("fashion_mnist", "vqgan")]
    vqgan = blocks[1]
    assert [r.label for r in vqgan.rows] == [
        "Original", "MAX LOSS", "Ours (α=0.25)", "Ours (α=1)", "Ours (proxy retain)", "Retrain"
    ]  # fmt: skip
    table = markdown(blocks)
    assert "| Original | 10.000 | 2.000 | 0.900 | 5.000 | 2.000 | 0.900 |" in table
    assert "| Ours (α=1) | 60.000 | 2.000 | 0.900 | 5.500 | missing | 0.900 |" in table
    # the similarity column is named for the network that computed it: the domain judge here, not CLIP
    header = "forget FID ↑ | forget IS ↓ | forget judge similarity ↓ | retain FID ↓ | retain IS ↑ | retain judge simil"
    assert header in table and "CLIP" not in table
    assert "- missing: Ours (α=1) / retain / is: no logits" in table
    assert "FAILED" in table and "broken" in table and "RuntimeError: out of memory" in table
    assert "domain-judge (test accuracy 0.900)" in table and "10 generated vs 10 real" in table


def test_the_command_writes_tables_and_the_sweep_figure(runs, tmp_path, capsys):
    out = tmp_path / "report"
    main(["report", str(runs), f"paths.outputs={tmp_path}", f"out={out}"])
    assert "| Retrain | 12.000 |" in capsys.readouterr().out
    files = {p.name for p in out.iterdir()}
    assert {"tables.md", "tables.csv", "tables.tex", "alpha_fashion_mnist_vqgan_ours.png"} <= files
    rows = list(csv.DictReader((out / "tables.csv").open()))
    failed = [r for r in rows if r["row"] == "FAILED"]
    assert len(failed) == 1 and "out of memory" in failed[0]["missing"]
    assert {r["row"] for r in rows if r["model"] == "vqgan"} >= {"Original", "MAX LOSS", "Retrain"}
    tex = (out / "tables.tex").read_text()
    assert r"\multicolumn{3}{c}{Forget set}" in tex and r"FID $\uparrow$" in tex and r"Ours ($\alpha$=1)" in tex


def test_report_without_train_records_says_so(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.json").write_text(json.dumps({"command": "pretrain", "status": "complete"}))
    with pytest.raises(SystemExit):
        main(["report", str(tmp_path / "r"), f"paths.outputs={tmp_path}"])
    assert "iguln train" in capsys.readouterr().err


def test_runs_of_several_seeds_fold_into_one_row_with_mean_sd_and_n(tmp_path):
    runs = []
    for seed, forget_fid in enumerate((40.0, 44.0, 48.0)):
        rec = record("l2_noise", forget_fid)
        rec["seeds"] = {"seed": seed}
        rec["ratios"] = {"forget": {"value": forget_fid / 10.0, "ci95": [forget_fid / 11.0, forget_fid / 9.0]}}
        runs.append((tmp_path / f"s{seed}" / "results.json", rec))
    twice = record("max_loss", 20.0)
    twice["seeds"] = {"seed": 0}
    runs += [(tmp_path / "a" / "results.json", twice), (tmp_path / "b" / "results.json", twice)]
    (block,) = build_blocks(runs)
    labels = [r.label for r in block.rows]
    assert labels == ["Original", "MAX LOSS (a)", "MAX LOSS (b)", "Ours"]  # one seed twice stays apart
    ours = block.rows[-1]
    assert ours.seeds == [0, 1, 2] and ours.metrics["forget"]["fid"]["n"] == 3
    assert ours.metrics["forget"]["fid"]["value"] == pytest.approx(44.0) and ours.metrics["forget"]["fid"][
        "sd"
    ] == pytest.approx(4.0)
    assert ours.ratios["forget"]["value"] == pytest.approx(4.4) and ours.ratios["forget"]["n"] == 3
    table = markdown([block])
    assert "| Ours | 44.000 ± 4.000 (n=3) |" in table and "4.400 ± 0.400 (n=3)" in table
    assert "Rows run with several seeds (0, 1, 2) show mean ± sd (n) over them." in table
    single = record("l2_noise", 30.0)
    single["metrics"]["unlearned"]["forget"]["fid"]["ci95"] = [28.0, 33.5]
    assert "| Ours | 30.000 [28.000, 33.500] |" in markdown(build_blocks([(tmp_path / "x.json", single)]))
