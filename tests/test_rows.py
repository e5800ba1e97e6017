"""The rows beside the method: Retrain (a fresh generator that never sees a forget image) and the proxy retain set
(unlearning that never sees a retain image), through the real command line."""

import json
from pathlib import Path

import pytest
import torch

import iguln.jobs.pretraining as pretraining_module
import iguln.unlearn.unlearning as unlearning_module
from iguln.cli import main
from iguln.core.errors import ConfigError
from iguln.data.batches import Indexed
from iguln.data.split import make_split
from tests.conftest import compose_config

FORGET, RETAIN = ["trouser", "bag"], ["tshirt_top", "pullover"]


class LabelSpy:
    """Stands in for BatchStream and remembers the labels of every data set a stream is made over."""

    def __init__(self, real):
        self.real, self.labels = real, []

    def __call__(self, dataset, *args, **kwargs):
        labelled = dataset.dataset if isinstance(dataset, Indexed) else dataset  # Indexed: items (image, index)
        self.labels.append({int(labelled[i][1]) for i in range(len(labelled))})
        return self.real(dataset, *args, **kwargs)


def iguln(outputs: Path, run: str, *args: str) -> dict:
    run_dir = outputs / "runs" / run
    main(["train", "experiment=smoke", f"paths.outputs={outputs}", f"hydra.run.dir={run_dir}", *args])
    return json.loads((run_dir / "results.json").read_text())


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    outputs = tmp_path_factory.mktemp("rows")
    main(["pretrain", "experiment=smoke", f"paths.outputs={outputs}", f"hydra.run.dir={outputs}/runs/pretrain"])
    return outputs


def test_retrain_never_sees_a_forget_image_and_is_kept_in_the_store(outputs, monkeypatch):
    spy = LabelSpy(pretraining_module.BatchStream)
    monkeypatch.setattr(pretraining_module, "BatchStream", spy)
    rec = iguln(outputs, "retrain", "loss=retrain")
    assert rec["status"] == "complete" and rec["method"]["loss"] == "retrain"
    assert len(spy.labels) == 2  # the vqgan tokenizer stage, then the transformer stage
    forget = set(rec["split"]["forget"]["class_indices"])
    assert all(labels and not labels & forget for labels in spy.labels)
    assert set(rec["retraining"]["classes"]) == set(range(10)) - forget
    assert Path(rec["models"]["unlearned"]["path"]).parent == outputs / "store" / "retrain"
    assert rec["metrics"]["unlearned"]["forget"]["fid"]["value"] is not None
    again = iguln(outputs, "retrain-again", "loss=retrain")  # reused: same weights, features from the store
    assert again["models"]["unlearned"]["sha256"] == rec["models"]["unlearned"]["sha256"]
    assert "unlearned/forget" in again["features_reused"] and "real/retain" in again["features_reused"]
    assert again["metrics"] == rec["metrics"]


def test_proxy_retain_never_sees_a_retain_image_and_is_scored_on_the_true_retain_set(outputs, monkeypatch):
    spy = LabelSpy(unlearning_module.BatchStream)
    monkeypatch.setattr(unlearning_module, "BatchStream", spy)
    split = [f"split.forget=[{','.join(FORGET)}]", f"split.retain=[{','.join(RETAIN)}]"]
    rec = iguln(outputs, "proxy", *split, "split.retain_source=proxy")
    forget, retain = (set(rec["split"][s]["class_indices"]) for s in ("forget", "retain"))
    proxy = set(rec["split"]["proxy"]["class_indices"])
    assert rec["split"]["retain_source"] == "proxy" and rec["method"]["retain_source"] == "proxy"
    assert proxy == set(range(10)) - forget - retain
    forget_seen, retain_seen = spy.labels
    assert forget_seen == forget and retain_seen and retain_seen <= proxy
    assert rec["metrics"]["unlearned"]["retain"]["fid"]["n_real"] == 2 * 12  # the true retain classes' test images


def test_a_proxy_needs_classes_left_over():
    cfg = compose_config("train", ["split.retain_source=proxy"]).split
    names = compose_config("train").data.classes
    labels = torch.arange(10).repeat(30)
    with pytest.raises(ConfigError, match="split.retain_source.*none is left"):
        make_split(cfg, names, labels, labels)
    cfg = compose_config(
        "train", ["split.retain_source=proxy", "split.retain=[0]", "split.forget=[1]", "split.proxy=[1,2]"]
    )
    with pytest.raises(ConfigError, match="split.proxy"):
        make_split(cfg.split, names, labels, labels)
    cfg = compose_config("train", ["split.retain_source=nearby"])
    with pytest.raises(ConfigError, match="split.retain_source.*proxy"):
        make_split(cfg.split, names, labels, labels)
