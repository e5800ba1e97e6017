"""The paper's metric backbones, loaded from weights the tests make: open_clip, ResNet50-Places365, LPIPS; choosing
a backbone per metric; eval.backbone=auto falling back to the domain judge offline."""

import json

import pytest
import torch
from omegaconf import OmegaConf

from iguln.core.errors import ConfigError, MissingArtefactError
from iguln.metrics.backbones import Backbone, clip_backbone, inception_backbone
from iguln.metrics.choice import load_metric_backbone, metric_choices
from iguln.metrics.evaluate import extract_features, metric_entries
from iguln.metrics.places import places_backbone
from iguln.metrics.preservation import Lpips, OriginalPass, load_lpips

CPU = torch.device("cpu")
EVAL = {
    "backbone": "domain",
    "auto": {"fid": "inception", "is": "inception", "clip": "clip"},
    "inception_weights": None,
    "clip_model": "open_clip:ViT-H-14@laion2b_s32b_b79k",
    "places_weights": None,
    "lpips": "auto",
    "lpips_weights": None,
}


def eval_cfg(**overrides):
    return OmegaConf.create({**EVAL, **overrides})


def images(n=3, channels=1, size=32):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    """No torch.hub downloads in the cache, and downloads off."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(previous)


def fake_judge(calls: list):
    def extract(x):
        flat = x.flatten(1)
        return {"pool": flat[:, :8], "logits": flat[:, :10], "embed": flat[:, :6]}

    def load():
        calls.append(1)
        return Backbone("domain-judge", "0" * 64, extract, ("pool", "logits", "embed"), {"judge_test_accuracy": 0.9})

    return load


def tiny_open_clip_dir(path):
    import open_clip
    from safetensors.torch import save_file

    model_cfg = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 16, "heads": 2, "layers": 1},
    }
    model = open_clip.model.CLIP(**model_cfg)
    path.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path / "open_clip_model.safetensors")
    (path / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": {}}))
    return model


def test_open_clip_loads_a_local_dir_and_embeds_with_its_weights(tmp_path):
    model = tiny_open_clip_dir(tmp_path / "clip").eval()
    backbone = clip_backbone(f"open_clip:local-dir:{tmp_path / 'clip'}", CPU)
    x = images()
    out = backbone.extract(x)
    assert out["embed"].shape == (3, 16) and backbone.provides == ("pool", "embed")
    assert backbone.name == f"clip:open_clip:local-dir:{tmp_path / 'clip'}" and len(backbone.weights) == 64
    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)
    expected = model.encode_image((((x.expand(-1, 3, -1, -1) + 1) / 2).clamp(0, 1) - mean) / std)
    assert torch.allclose(out["embed"], expected, atol=1e-5)  # the saved weights, not a fresh model


def test_open_clip_dir_without_weights_is_refused(tmp_path):
    (tmp_path / "clip").mkdir()
    (tmp_path / "clip" / "open_clip_config.json").write_text("{}")
    with pytest.raises(MissingArtefactError, match="needs open_clip_config.json and a weights file"):
        clip_backbone(f"open_clip:local-dir:{tmp_path / 'clip'}", CPU)


def test_the_papers_open_clip_fails_at_once_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingArtefactError, match="ViT-H-14 laion2b_s32b_b79k and HF_HUB_OFFLINE is set"):
        clip_backbone("open_clip:ViT-H-14@laion2b_s32b_b79k", CPU)


def test_inception_is_not_downloaded_offline(empty_hub_cache):
    with pytest.raises(MissingArtefactError, match="not in torch.hub's cache.*eval.inception_weights"):
        inception_backbone(None, CPU)


def places_file(path, wrap=True):
    from torchvision.models import resnet50

    net = resnet50(weights=None, num_classes=365).eval()
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    torch.save({"epoch": 90, "arch": "resnet50", "state_dict": state} if wrap else state, path)
    return net


def test_places365_resnet50_loads_a_checkpoint_in_the_released_layout(tmp_path):
    net = places_file(tmp_path / "resnet50_places365.pth.tar")
    backbone = places_backbone(str(tmp_path / "resnet50_places365.pth.tar"), CPU)
    x = images(2, 3, 32)
    out = backbone.extract(x)
    assert out["logits"].shape == (2, 365) and out["pool"].shape == (2, 2048)
    assert backbone.name == "resnet50-places365" and len(backbone.weights) == 64
    pixels = torch.nn.functional.interpolate((x + 1) / 2, size=(224, 224), mode="bilinear", align_corners=False)
    mean, std = (
        torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1),
        torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1),
    )
    assert torch.allclose(out["logits"], net((pixels - mean) / std), atol=1e-4)


def test_places365_refuses_another_network(tmp_path):
    from torchvision.models import resnet18

    torch.save(resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    with pytest.raises(MissingArtefactError, match="does not fit ResNet50 with 365 classes"):
        places_backbone(str(tmp_path / "resnet18.pth"), CPU)
    with pytest.raises(MissingArtefactError, match="eval.places_weights is not set"):
        places_backbone(None, CPU)


@pytest.mark.parametrize(
    "value, key",
    [
        ("inceptoin", "eval.backbone"),
        ({"fid": "inception"}, "eval.backbone"),
        ({"fid": "x", "is": "domain", "clip": "domain"}, "eval.backbone.fid"),
    ],
)
def test_a_bad_backbone_choice_names_the_key(value, key):
    with pytest.raises(ConfigError, match=f"^{key}="):
        metric_choices(eval_cfg(backbone=value))


def test_lpips_takes_auto_or_off():
    from iguln.metrics.choice import check_backbone_name

    with pytest.raises(ConfigError, match="^eval.lpips='on' is not valid. Allowed: auto, off"):
        check_backbone_name(eval_cfg(lpips="on"))


def test_per_metric_backbones_name_themselves_in_each_entry(tmp_path):
    places_file(tmp_path / "places.pth")
    calls = []
    cfg = eval_cfg(
        backbone={"fid": "domain", "is": "places365", "clip": "domain"}, places_weights=str(tmp_path / "places.pth")
    )
    backbone = load_metric_backbone(cfg, CPU, fake_judge(calls))
    assert calls == [1]  # the judge is loaded once and runs once per batch for two metrics
    real, fake = backbone.extract(images(4, 1, 32)), backbone.extract(images(4, 1, 32) * 0.5)
    entries = metric_entries(real, fake, backbone, splits=2, seed=0)
    assert entries["fid"]["backbone"] == "domain-judge" and entries["clip"]["backbone"] == "domain-judge"
    assert entries["is"]["backbone"] == "resnet50-places365" and entries["is"]["value"] is not None


def test_auto_offline_falls_back_to_the_domain_judge_and_says_why(empty_hub_cache):
    calls = []
    backbone = load_metric_backbone(eval_cfg(backbone="auto"), CPU, fake_judge(calls))
    assert calls == [1]
    entries = metric_entries(backbone.extract(images()), backbone.extract(images() * 0.5), backbone, 2, 0)
    for metric, tried in (("fid", "inception"), ("is", "inception"), ("clip", "clip")):
        assert entries[metric]["backbone"] == "domain-judge" and entries[metric]["value"] is not None
        assert entries[metric]["auto"].startswith(f"eval.backbone=auto: {tried} could not be loaded")
        assert "HF_HUB_OFFLINE" in entries[metric]["auto"]


def test_auto_uses_a_network_whose_weights_load(tmp_path, empty_hub_cache):
    tiny_open_clip_dir(tmp_path / "clip")
    calls = []
    cfg = eval_cfg(backbone="auto", clip_model=f"open_clip:local-dir:{tmp_path / 'clip'}")
    backbone = load_metric_backbone(cfg, CPU, fake_judge(calls))
    assert backbone.describe("embed")["backbone"].startswith("clip:open_clip:local-dir:")
    assert backbone.describe("embed")["auto"] == "eval.backbone=auto chose clip for clip"
    assert backbone.describe("pool")["backbone"] == "domain-judge"
    assert set(backbone.extract(images())) == {"pool", "logits", "embed"}


def test_a_named_backbone_that_cannot_load_stops_the_job(empty_hub_cache):
    with pytest.raises(MissingArtefactError, match="eval.inception_weights"):
        load_metric_backbone(eval_cfg(backbone="inception"), CPU, fake_judge([]))


class Shift(torch.nn.Module):
    """A stand-in generator: fills the masked region with a constant, and counts its batches."""

    def __init__(self, value):
        super().__init__()
        self.value, self.batches = value, 0

    def generate(self, x, mask, rng):
        self.batches += 1
        return torch.where(mask.bool(), torch.full_like(x, self.value), x)


def lpips_entry(cfg, original, model, mask):
    """Score `model` on 4 images (batches of 2) with LPIPS to `original` watching, as iguln train does."""
    lpips = Lpips(cfg, mask, CPU)
    if lpips.available:
        flat = Backbone("flat", "none", lambda x: {"pool": x.flatten(1)}, ("pool",))
        dataset = torch.utils.data.TensorDataset(images(4), torch.zeros(4))
        extract_features(flat, dataset, 2, CPU, "fp32", model, mask, 0, observe=OriginalPass(original, mask, CPU,
                         "fp32", 0, [lpips]))  # fmt: skip
    return lpips.entry()


def test_lpips_is_missing_with_its_reason_offline(empty_hub_cache):
    module, reason = load_lpips(eval_cfg())
    assert module is None and "HF_HUB_OFFLINE" in reason and "eval.lpips_weights" in reason
    entry = lpips_entry(eval_cfg(), Shift(0.0), Shift(0.5), torch.ones(32, 32))
    assert entry["value"] is None and entry["missing"] == reason
    assert load_lpips(eval_cfg(lpips="off")) == (None, "eval.lpips=off")
    assert load_lpips(eval_cfg(lpips=False)) == (None, "eval.lpips=off")  # `lpips: off` in a YAML file


def test_lpips_loads_alexnet_weights_from_a_file_and_is_zero_for_the_same_outputs(tmp_path, empty_hub_cache):
    from torchvision.models import alexnet

    torch.save(alexnet(weights=None).state_dict(), tmp_path / "alexnet.pth")
    cfg = eval_cfg(lpips_weights=str(tmp_path / "alexnet.pth"))
    module, weights = load_lpips(cfg)
    assert module is not None and len(weights) == 64
    mask = torch.zeros(32, 32)
    mask[8:24, 8:24] = 1
    original, model = Shift(0.0), Shift(0.0)
    same = lpips_entry(cfg, original, model, mask)
    assert same["value"] == pytest.approx(0.0, abs=1e-6) and same["n_generated"] == 4
    assert model.batches == 2 and original.batches == 2  # the scored outputs are not generated a second time
    other = lpips_entry(cfg, Shift(0.0), Shift(0.9), mask)
    assert other["value"] > 1e-4 and other["backbone"] == "lpips-alex-v0.1"
