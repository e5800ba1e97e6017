import pytest
import torch

from iguln.core.errors import MissingArtefactError
from iguln.metrics.backbones import Backbone, clip_backbone, inception_backbone
from iguln.metrics.evaluate import metric_entries
from iguln.metrics.scores import fid, inception_score, mean_cosine


def features(n=200, d=8, shift=0.0, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + shift


def test_fid_is_near_zero_for_the_same_distribution_and_grows_with_a_shift():
    same = fid(features(seed=0), features(seed=1))
    shifted = fid(features(seed=0), features(seed=1, shift=2.0))
    assert same < 0.5
    assert shifted == pytest.approx(8 * 4.0, rel=0.15)  # |mean difference|^2 = 8 dims * 2^2


def test_inception_score_bounds():
    uniform = torch.zeros(100, 10)
    assert inception_score(uniform, 5, seed=0)[0] == pytest.approx(1.0)
    confident = torch.nn.functional.one_hot(torch.arange(100) % 10, 10).float() * 50
    assert inception_score(confident, 1, seed=0)[0] == pytest.approx(10.0, rel=1e-3)
    assert inception_score(confident, 5, seed=0) == inception_score(confident, 5, seed=0)
    assert inception_score(confident, 5, seed=0) != inception_score(confident, 5, seed=1)  # the seed shuffles


def test_mean_cosine():
    a = features()
    assert mean_cosine(a, a) == pytest.approx(1.0)
    assert mean_cosine(a, -a) == pytest.approx(-1.0)


def test_a_backbone_without_logits_reports_is_as_missing():
    backbone = Backbone("clip:test", "local", lambda x: {}, ("pool", "embed"))
    real = {"pool": features(), "embed": features()}
    fake = {"pool": features(seed=3), "embed": features(seed=3)}
    entries = metric_entries(real, fake, backbone, splits=2, seed=0)
    assert entries["is"]["value"] is None and "no 'logits'" in entries["is"]["missing"]
    assert entries["fid"]["value"] is not None and entries["fid"]["backbone"] == "clip:test"
    assert entries["clip"]["n_generated"] == 200 and entries["clip"]["n_real"] == 200


def test_fid_of_one_image_is_missing_not_invented():
    backbone = Backbone("b", "w", lambda x: {}, ("pool", "logits", "embed"))
    one = {"pool": features(1), "logits": features(1), "embed": features(1)}
    entries = metric_entries(one, one, backbone, 1, 0)
    assert "at least 2" in entries["fid"]["missing"]
    assert entries["is"]["std"] is None  # one split has no spread; NaN never reaches the record


def test_inception_without_weights_fails_clearly(tmp_path):
    with pytest.raises(MissingArtefactError, match="eval.inception_weights=/path/to"):
        inception_backbone(str(tmp_path / "missing.pth"), torch.device("cpu"))


def test_clip_from_the_hub_fails_clearly_offline():
    with pytest.raises(MissingArtefactError, match="eval.backbone=clip.*HF_HUB_OFFLINE"):
        clip_backbone("openai/clip-vit-base-patch32", torch.device("cpu"))


def test_clip_backbone_loads_a_local_model(tmp_path):
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        projection_dim=16,
    )
    CLIPVisionModelWithProjection(config).save_pretrained(tmp_path / "clip")
    backbone = clip_backbone(str(tmp_path / "clip"), torch.device("cpu"))
    out = backbone.extract(torch.rand(2, 1, 28, 28) * 2 - 1)
    assert out["embed"].shape == (2, 16) and backbone.provides == ("pool", "embed")
    assert backbone.name == f"clip:{tmp_path / 'clip'}"


def test_inception_backbone_loads_a_local_weights_file(tmp_path, monkeypatch):
    import torch_fidelity.feature_extractor_inceptionv3 as fidelity

    # A randomly initialised network in torch-fidelity's own layout, saved as a plain state dict.
    with monkeypatch.context() as patch:
        patch.setattr(fidelity, "load_state_dict_from_url", lambda *a, **k: {})
        patch.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        net = fidelity.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.save(net.state_dict(), tmp_path / "inception.pth")
    backbone = inception_backbone(str(tmp_path / "inception.pth"), torch.device("cpu"))
    out = backbone.extract(torch.rand(2, 1, 32, 32) * 2 - 1)
    assert out["pool"].shape == (2, 2048) and out["logits"].shape == (2, 1008)
    assert backbone.name == "inception-v3" and len(backbone.weights) == 64


def test_inception_refuses_a_pickled_object(tmp_path):
    torch.save({"weights": object()}, tmp_path / "evil.pth")  # not tensors: weights_only loading must refuse it
    with pytest.raises(MissingArtefactError, match="could not be loaded"):
        inception_backbone(str(tmp_path / "evil.pth"), torch.device("cpu"))


def test_the_bootstrap_s_fid_is_torchmetrics_fid_and_its_interval_holds_the_estimate():
    from iguln.metrics.bootstrap import fid_interval, frechet, ratio_interval

    real, fake = features(300, seed=0), features(300, shift=0.5, seed=1)
    assert frechet(real, fake) == pytest.approx(fid(real, fake), rel=1e-6)
    low, high = fid_interval(real, fake, 100, seed=0)
    assert low < fid(real, fake) < high and fid_interval(real, fake, 100, seed=0) == [low, high]
    assert ratio_interval(real, fake, fake, 50, seed=0) == [1.0, 1.0]  # paired: the same model, the same draws
    farther = features(300, shift=1.5, seed=2)
    r_low, r_high = ratio_interval(real, fake, farther, 100, seed=0)
    assert 1 < r_low < fid(real, farther) / fid(real, fake) < r_high


def test_fid_entries_carry_a_paired_interval_unless_it_is_off():
    backbone = Backbone("b", "w", lambda x: {}, ("pool", "logits", "embed"))
    real = {"pool": features(), "logits": features(), "embed": features()}
    fake = {"pool": features(seed=2, shift=0.3), "logits": features(seed=2), "embed": features(seed=2)}
    entry = metric_entries(real, fake, backbone, 2, 0, bootstrap=50)["fid"]
    assert entry["bootstrap"] == {"draws": 50, "level": 0.95, "paired": True, "seed": 0}
    assert entry["ci95"][0] < entry["value"] < entry["ci95"][1]
    assert "ci95" not in metric_entries(real, fake, backbone, 2, 0, bootstrap=0)["fid"]
