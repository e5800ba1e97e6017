"""iguln robust end to end at smoke sizes: the mask sweep and the relearning attack of an unlearned generator,
beside the original and Retrain, and the report's robustness section."""

from pathlib import Path

import pytest

from iguln.cli import main
from iguln.robustness.masks import mask_points
from iguln.robustness.relearn import checkpoints
from tests.test_end_to_end import iguln, record


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    outputs = tmp_path_factory.mktemp("robust")
    train = iguln(outputs, "train", "train", "pretrain_if_missing=true")
    return outputs, train


def test_the_sweep_covers_the_papers_outpainting_r_and_the_inpainting_sides():
    from omegaconf import OmegaConf

    points = mask_points(OmegaConf.create({"inpaint": [0.25, 0.5], "outpaint": [1, 13]}))
    assert [(p["name"], p["fraction"]) for p in points] == [
        ("inpaint_center", 0.25), ("inpaint_center", 0.5), ("outpaint", 1 / 32), ("outpaint", 13 / 32)]  # fmt: skip
    assert checkpoints(100, 20) == [0, 20, 40, 60, 80, 100] and checkpoints(7, 3) == [0, 3, 6, 7]


def test_the_mask_sweep_scores_every_model_at_every_mask(trained):
    outputs, train = trained
    rec = record(iguln(outputs, "robust", "masks", f"checkpoint={train}/unlearned", "retrain=true",
                       "robust.inpaint=[0.25,0.5]", "robust.outpaint=[1,5]"))  # fmt: skip
    assert rec["status"] == "complete" and rec["robustness"]["kind"] == "masks"
    points = rec["robustness"]["points"]
    assert [p["task"]["label"] for p in points] == ["inpaint 0.25", "inpaint 0.5", "outpaint r=1", "outpaint r=5"]
    for point in points:
        assert set(point["metrics"]) == {"original", "unlearned", "retrain"}
        for model in point["metrics"].values():
            assert isinstance(model["forget"]["fid"]["value"], float) and 0 <= model["retain"]["detect"]["value"] <= 1
    trained_record = record(train)  # the sweep's point at the job's own mask is the job's own score
    at_half = points[1]["metrics"]["unlearned"]["forget"]["fid"]["value"]
    assert at_half == pytest.approx(trained_record["metrics"]["unlearned"]["forget"]["fid"]["value"], rel=1e-6)
    assert Path(rec["figure"]).stat().st_size > 0


def test_the_relearning_attack_records_a_curve_per_model(trained):
    outputs, train = trained
    rec = record(iguln(outputs, "robust", "relearn", "robust=relearn", f"checkpoint={train}/unlearned",
                       "robust.steps=4", "robust.every=2", "robust.images=8"))  # fmt: skip
    curves = rec["robustness"]["curves"]
    assert set(curves) == {"original", "unlearned", "retrain"}  # retrain=auto: the store's, from the sweep above
    for curve in curves.values():
        assert [p["step"] for p in curve] == [0, 2, 4] and curve[0]["loss"] is None and curve[-1]["loss"] > 0
        assert all(isinstance(p["forget"]["fid"]["value"], float) for p in curve)
    first = curves["unlearned"][0]["forget"]["fid"]["value"]  # before any step: the unlearned model as scored
    assert first == pytest.approx(record(train)["metrics"]["unlearned"]["forget"]["fid"]["value"], rel=1e-6)
    assert curves["unlearned"][-1]["forget"]["fid"]["value"] != first  # the attack moved it


def test_report_adds_the_robustness_section(trained, capsys):
    outputs, _ = trained
    out = outputs / "report"
    main(["report", str(outputs / "runs"), f"out={out}", "tsne=false"])
    text = (out / "robustness.md").read_text()
    assert "### masks" in text and "### relearn" in text and "outpaint r=5" in text
    assert sorted(p.name for p in out.glob("robust_*.png")) == ["robust_1_masks.png", "robust_2_relearn.png"]


def test_robust_without_a_checkpoint_stops_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        iguln(tmp_path, "robust", "none")
    assert exit_info.value.code == 2
    assert "checkpoint=None is not valid" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


def test_an_attack_with_more_images_than_there_are_is_refused(trained, capsys):
    outputs, train = trained
    with pytest.raises(SystemExit):
        iguln(outputs, "robust", "too-many", "robust=relearn", f"checkpoint={train}/unlearned", "robust.images=100000")
    assert "robust.images=100000 is not valid. Allowed: at most" in capsys.readouterr().err
    assert not (outputs / "runs" / "too-many" / "robust_relearn.png").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [("robust.outpaint=[16]", "robust.outpaint=16 is not valid. Allowed: an r in 1..15"),
     ("robust.inpaint=[1.5]", "robust.inpaint=1.5 is not valid. Allowed: a side fraction in (0, 1)")],
)  # fmt: skip
def test_a_sweep_mask_that_gives_no_mask_is_refused(trained, capsys, override, message):
    outputs, train = trained
    with pytest.raises(SystemExit):
        iguln(outputs, "robust", "bad-mask", f"checkpoint={train}/unlearned", override)
    assert message in capsys.readouterr().err
