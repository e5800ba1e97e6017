"""trainer.select (unlearn/selection.py): the unlearned weights of the check with the widest margin on both targets,
scored on train images held out of unlearning; refused before any work when it cannot run; resumable."""

import copy
import json
import math
from pathlib import Path

import pytest
import torch

import iguln.unlearn.unlearning as unlearning_module
from iguln.cli import main
from iguln.core.errors import ConfigError
from iguln.data.masks import center_square
from iguln.data.split import SETS, make_split
from iguln.training.recipe import Recipe
from iguln.unlearn.l2_noise import L2Noise
from iguln.unlearn.selection import Selection, read_selection
from iguln.unlearn.unlearning import unlearn
from tests.conftest import compose_config
from tests.test_resume import killing_fit
from tests.test_reuse import micro
from tests.test_split import NAMES, TEST, TRAIN, split_cfg

SELECT = ["trainer.select={every:2}", "split.val_per_class=6"]


def test_the_margin_is_that_of_the_nearer_target():
    rule = Selection(every=1, forget_target=3.0, retain_target=1.10)
    assert rule.margin({"forget": 6.0, "retain": 1.0}) == pytest.approx(1.10)  # retain is the nearer one
    assert rule.margin({"forget": 1.5, "retain": 1.0}) == pytest.approx(0.5)
    assert rule.margin({"forget": 4.5, "retain": 1.21}) == pytest.approx(1.10 / 1.21)
    assert rule.margin({"forget": float("nan"), "retain": 1.0}) == -math.inf


@pytest.mark.parametrize(
    ("value", "val", "key"),
    [
        ({"every": 0}, 5, "trainer.select.every"),
        ({"every": 2, "after": 1}, 5, "trainer.select"),
        ({"every": 2, "targets": {"forget": -1}}, 5, "trainer.select.targets.forget"),
        ({"every": 2}, None, "split.val_per_class"),
        ({"every": 2, "at": [3]}, 5, "trainer.select"),
        ({"at": []}, 5, "trainer.select.at"),
        ({"at": [0, 2]}, 5, "trainer.select.at"),
    ],
)
def test_bad_selections_name_the_key(value, val, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        read_selection(value, val)


def test_validation_images_are_held_out_of_unlearning_and_recorded():
    base = ["split.unlearn_per_class=null", "split.eval_per_class=4"]
    plain = make_split(split_cfg(*base), NAMES, TRAIN, TEST)
    split = make_split(split_cfg(*base, "split.val_per_class=5"), NAMES, TRAIN, TEST)
    for s in ("forget", "retain"):
        assert len(split.validate[s]) == 5 * len(split.classes[s])
        assert not set(split.validate[s]) & set(split.unlearn[s])
        assert sorted(split.validate[s] + split.unlearn[s]) == plain.unlearn[s]  # every train image, once
        assert split.record(NAMES)[s]["val_indices"] == split.validate[s]
    assert plain.validate == {} and "val_indices" not in plain.record(NAMES)["forget"]


def run_unlearning(score, steps=4, every=1, at=(), family="mae", select=True):
    """Unlearn a copy of a micro original of `family` for `steps` steps on 8 random images, with checks every
    `every` steps (or at `at`) scored by score(student); select=False: no checks. Returns (student, history)."""
    original = micro(family)
    student = copy.deepcopy(original)
    x = torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    data = torch.utils.data.TensorDataset(x, torch.zeros(8))
    recipe = Recipe(steps, batch_size=4, lr=1e-2, betas=(0.9, 0.95), weight_decay=0.0, warmup_steps=0, grad_clip=None)
    torch.manual_seed(5)
    history = unlearn(
        student, original, L2Noise(1.0, "gaussian"), data, data, center_square(32, 0.5), recipe,
        torch.device("cpu"), seed=0, select=(Selection(every, at=at), lambda: score(student)) if select else None,
    )  # fmt: skip
    return student, history


def test_the_run_ends_with_the_weights_of_the_best_check():
    seen = []

    def score(student):  # the second check is the only one that meets both targets
        seen.append({k: v.clone() for k, v in student.state_dict().items()})
        assert not student.training  # scored in eval mode
        return {"forget": 4.0, "retain": 1.0} if len(seen) == 2 else {"forget": 1.0, "retain": 1.0}

    student, history = run_unlearning(score)
    selection = history["selection"]
    assert [c["step"] for c in selection["checks"]] == [1, 2, 3, 4]
    assert selection["chosen"]["step"] == 2 and selection["chosen"]["margin"] == pytest.approx(1.10)
    final = student.state_dict()
    assert all(torch.equal(final[k], seen[1][k]) for k in final)
    assert not all(torch.equal(final[k], seen[3][k]) for k in final)  # not the last step's weights


def test_checks_come_every_n_steps_and_after_the_last():
    _, history = run_unlearning(lambda s: {"forget": 1.0, "retain": 1.0}, steps=5, every=2)
    assert [c["step"] for c in history["selection"]["checks"]] == [2, 4, 5]
    assert history["selection"]["chosen"]["step"] == 2  # equal margins: the first
    _, history = run_unlearning(lambda s: {"forget": 1.0, "retain": 1.0}, steps=5, every=None, at=(1, 3))
    assert [c["step"] for c in history["selection"]["checks"]] == [1, 3, 5]
    assert read_selection({"at": [3, 1, 3]}, 5).at == (1, 3)


@pytest.mark.parametrize("family", ["vqgan", "mae"])
def test_checks_leave_the_steps_of_the_run_as_they_were(family):
    calls = []

    def score():  # draws from torch's global generator, as a data loader does; each check better than the last
        torch.rand(3)
        calls.append(1)
        return {"forget": float(len(calls)), "retain": 1.0}

    plain, _ = run_unlearning(None, steps=3, family=family, select=False)
    checked, history = run_unlearning(lambda student: score(), steps=3, family=family)
    weights = [plain.state_dict(), checked.state_dict()]
    assert history["selection"]["chosen"]["step"] == 3  # the last step's weights are kept
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def iguln(outputs: Path, run: str, *args: str) -> dict:
    run_dir = outputs / "runs" / run
    main(["train", "experiment=smoke", "trainer.checkpoint_every=2", f"paths.outputs={outputs}",
          f"hydra.run.dir={run_dir}", *args])  # fmt: skip
    return json.loads((run_dir / "results.json").read_text())


def test_select_without_validation_images_is_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        iguln(tmp_path, "refused", "trainer.select={every:2}")
    assert exit_info.value.code == 2
    assert "split.val_per_class" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


def test_a_selecting_job_records_its_checks_and_resumes_to_the_same_choice(tmp_path, monkeypatch):
    main(["pretrain", "experiment=smoke", f"paths.outputs={tmp_path}", f"hydra.run.dir={tmp_path}/runs/pretrain"])
    whole = iguln(tmp_path, "whole", *SELECT, "trainer.steps=5", "resume=false")
    selection = whole["unlearning"]["selection"]
    assert [c["step"] for c in selection["checks"]] == [2, 4, 5] and selection["chosen"] in selection["checks"]
    assert all(c["forget_fid_original"] > 0 for c in selection["checks"])
    assert len(whole["split"]["forget"]["val_indices"]) == 6 * len(whole["split"]["forget"]["class_indices"])
    assert "validation_original" in whole["timings_s"]
    stored = {p: p.stat().st_mtime_ns for p in (tmp_path / "store" / "features").glob("val-*/features.pt")}
    assert sorted(p.parent.name.rsplit("-", 1)[0] for p in stored) == [
        f"val-{m}-{s}" for m in ("original", "real") for s in SETS
    ]
    again = iguln(tmp_path, "again", *SELECT, "trainer.steps=5", "resume=false")
    assert {p: p.stat().st_mtime_ns for p in stored} == stored  # the validation features were reused
    assert again["unlearning"]["selection"] == selection
    assert again["models"]["unlearned"]["sha256"] == whole["models"]["unlearned"]["sha256"]
    killing_fit(monkeypatch, unlearning_module, after=3)  # after the checkpoint of step 2, with one check in it
    with pytest.raises(SystemExit):
        iguln(tmp_path, "killed", *SELECT, "trainer.steps=5")
    monkeypatch.undo()
    resumed = iguln(tmp_path, "resumed", *SELECT, "trainer.steps=5")
    assert resumed["unlearning"]["resumed_from_step"] == 2
    assert resumed["unlearning"]["selection"] == selection
    assert resumed["metrics"] == whole["metrics"]


def test_select_with_retrain_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        iguln(tmp_path, "retrain", *SELECT, "loss=retrain")
    assert exit_info.value.code == 2 and "trainer.select" in capsys.readouterr().err
    assert compose_config("train").trainer.select is None  # off unless asked for
