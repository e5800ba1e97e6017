"""Released MAE weights (model.pretrained): a small ViTMAEForPreTraining saved by transformers loads through iguln's
path with its own architecture and pixel scale; contradictions and absent weights fail before any work."""

import json
import time
from pathlib import Path

import huggingface_hub
import pytest
import torch
from safetensors.torch import save_file
from transformers import ViTMAEConfig, ViTMAEForPreTraining

from iguln.cli import main
from iguln.core.errors import ConfigError, MissingArtefactError
from iguln.core.io import sha256_file
from iguln.data.masks import center_square
from iguln.models import mae_hub
from iguln.models.families import build_generator, resolve_model_config
from iguln.models.mae import MAE
from tests.conftest import compose_config

# The shape of iguln's micro preset: 32 px, 4 px patches, one 32-wide block in encoder and decoder.
SMALL = dict(
    image_size=32,
    patch_size=4,
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=128,
    decoder_hidden_size=32,
    decoder_num_hidden_layers=1,
    decoder_num_attention_heads=2,
    decoder_intermediate_size=128,
)


def save_checkpoint(folder: Path, channels: int = 3, **changes) -> ViTMAEForPreTraining:
    """A small ViTMAEForPreTraining with random weights (positions included), written by save_pretrained."""
    torch.manual_seed(0)
    net = ViTMAEForPreTraining(ViTMAEConfig(**{**SMALL, **changes}, num_channels=channels))
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.05)
    net.save_pretrained(folder)
    return net


def model_config(pretrained, *overrides: str):
    return compose_config("train", ["model=mae", f"model.pretrained={pretrained}", *overrides]).model


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, ViTMAEForPreTraining]:
    folder = tmp_path_factory.mktemp("vit-mae-small")
    return folder, save_checkpoint(folder)


@pytest.fixture
def checkpoint(saved) -> Path:
    return saved[0]


def test_loaded_weights_are_the_saved_ones_and_generation_keeps_visible_pixels(saved):
    checkpoint, net = saved
    cfg = resolve_model_config(model_config(checkpoint), channels=3)
    generator = build_generator(cfg)
    loaded = generator.load_pretrained(cfg)
    # transformers writes its own file layout (older tensor names), so compare with the model that was saved
    state, reference = generator.net.state_dict(), net.state_dict()
    assert set(state) == set(reference) and all(torch.equal(state[k], reference[k]) for k in reference)
    assert loaded == {"net": {"path": str(checkpoint / "model.safetensors")}}
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    mask = center_square(32, 0.5)
    with torch.no_grad():
        y = generator.eval().generate(x, mask)
    keep = ~mask.bool().expand_as(x)
    assert torch.equal(y[keep], x[keep]) and not torch.equal(y[~keep], x[~keep])
    assert y.min() >= -1 and y.max() <= 1


def test_the_checkpoint_fixes_architecture_preset_and_pixel_scale(checkpoint):
    cfg = resolve_model_config(model_config(checkpoint, "model.preset=large"), channels=3)
    assert cfg.arch.image_size == 32 and cfg.arch.patch_size == 4 and cfg.arch.layer_norm_eps == 1e-12
    assert cfg.preset == "micro"  # the preset it matches, whatever was asked
    assert cfg.pixel_norm == {"mean": list(mae_hub.IMAGENET[0]), "std": list(mae_hub.IMAGENET[1])}
    again = resolve_model_config(cfg, channels=3)  # a resolved config resolves to itself
    assert again.arch == cfg.arch and again.preset == "micro"


def test_the_pixel_scale_comes_from_the_image_processor_when_there_is_one(tmp_path):
    save_checkpoint(tmp_path, channels=1)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.5], "image_std": [0.25]}))
    generator = build_generator(resolve_model_config(model_config(tmp_path), channels=1))
    assert generator.option_values["pixel_norm"] == {"mean": [0.5], "std": [0.25]}
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    assert torch.allclose(generator._to_net(x), x * 2)  # ((x + 1) / 2 - 0.5) / 0.25
    assert torch.allclose(generator._from_net(generator._to_net(x)), x)


def test_an_arch_override_that_contradicts_the_checkpoint_names_the_key(checkpoint):
    with pytest.raises(ConfigError, match=r"model.arch.hidden_size=64 is not valid. Allowed: 32\. model.pretrained="):
        resolve_model_config(model_config(checkpoint, "+model.arch.hidden_size=64"), channels=3)
    with pytest.raises(ConfigError, match=r"model.arch.image_size=224 is not valid. Allowed: 32\."):
        resolve_model_config(model_config(checkpoint, "+model.arch.image_size=224"), channels=3)
    agreeing = resolve_model_config(model_config(checkpoint, "+model.arch.image_size=32"), channels=3)
    assert agreeing.arch.image_size == 32


def test_grey_data_with_a_colour_checkpoint_is_refused(checkpoint):
    with pytest.raises(ConfigError, match=r"data.channels=1 is not valid. Allowed: 3\. .*3-channel images"):
        resolve_model_config(model_config(checkpoint), channels=1)


def test_an_offline_hub_id_fails_fast_saying_how_to_give_the_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # an empty cache
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    started = time.perf_counter()
    with pytest.raises(MissingArtefactError) as err:
        resolve_model_config(model_config("facebook/vit-mae-large"), channels=3)
    assert time.perf_counter() - started < 20  # no network attempts (each would wait for a timeout)
    message = str(err.value)
    assert message.startswith("model.pretrained=facebook/vit-mae-large: no such folder, and the hub could not")
    assert "HF_HUB_OFFLINE=1" in message and "save_pretrained" in message


def test_a_hub_checkpoint_in_the_local_cache_is_known_by_id_and_commit(tmp_path, monkeypatch):
    commit, repo = "0123456789abcdef0123456789abcdef01234567", tmp_path / "hub" / "models--facebook--vit-mae-small"
    save_checkpoint(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert mae_hub.on_this_machine("facebook/vit-mae-small") and not mae_hub.on_this_machine("facebook/other")
    cfg = resolve_model_config(model_config("facebook/vit-mae-small"), channels=3)
    assert MAE.released_identity(cfg) == {"hub": {"id": "facebook/vit-mae-small", "revision": commit}}
    loaded = build_generator(cfg).load_pretrained(cfg)["net"]
    assert loaded == {
        "path": str(repo / "snapshots" / commit / "model.safetensors"),
        "hub_id": "facebook/vit-mae-small",
        "revision": commit,
    }


def test_a_missing_folder_or_another_model_type_is_one_clear_error(tmp_path):
    with pytest.raises(MissingArtefactError, match=r"model.pretrained=/no/such/dir: no such folder\. Give"):
        resolve_model_config(model_config("/no/such/dir"), channels=3)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "vit", "hidden_size": 32}))
    with pytest.raises(ConfigError, match=r"Allowed: a ViTMAEForPreTraining checkpoint .*model_type='vit'"):
        resolve_model_config(model_config(tmp_path), channels=3)


def test_per_patch_normalised_targets_are_refused(tmp_path):
    save_checkpoint(tmp_path, norm_pix_loss=True)
    with pytest.raises(ConfigError, match="norm_pix_loss false"):
        resolve_model_config(model_config(tmp_path), channels=3)


def test_a_pickled_checkpoint_is_read_as_tensors_only(tmp_path):
    net = save_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save(net.state_dict(), tmp_path / "pytorch_model.bin")
    cfg = resolve_model_config(model_config(tmp_path), channels=3)
    generator = build_generator(cfg)
    assert generator.load_pretrained(cfg)["net"]["path"].endswith("pytorch_model.bin")
    assert torch.equal(generator.net.decoder.decoder_pred.weight, net.decoder.decoder_pred.weight)
    torch.save({**net.state_dict(), "extra": Path("anything")}, tmp_path / "pytorch_model.bin")  # not a tensor
    with pytest.raises(MissingArtefactError, match="transformers could not read pytorch_model.bin"):
        build_generator(cfg).load_pretrained(cfg)


def test_an_encoder_without_its_decoder_is_refused(tmp_path):
    net = save_checkpoint(tmp_path)
    encoder_only = {k: v for k, v in net.state_dict().items() if not k.startswith("decoder.")}
    save_file(encoder_only, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    cfg = resolve_model_config(model_config(tmp_path), channels=3)
    with pytest.raises(MissingArtefactError, match="an encoder alone cannot fill images"):
        build_generator(cfg).load_pretrained(cfg)


def test_train_imports_the_checkpoint_as_the_original_and_records_its_source(tmp_path):
    weights = tmp_path / "weights"
    save_checkpoint(weights, channels=1)
    outputs, run_dir = tmp_path / "outputs", tmp_path / "run"
    main(["train", "experiment=smoke", "model=mae", f"model.pretrained={weights}", "trainer.steps=2",
          "eval.judge.steps=2", f"paths.outputs={outputs}", f"hydra.run.dir={run_dir}"])  # fmt: skip
    record = json.loads((run_dir / "results.json").read_text())
    assert record["status"] == "complete"
    source = record["models"]["original"]["pretrained"]["net"]
    assert source == {"path": str(weights / "model.safetensors"), "sha256": sha256_file(weights / "model.safetensors")}
    assert record["config"]["model"]["preset"] == "micro" and record["config"]["model"]["pixel_norm"] is None
    (entry,) = (outputs / "store" / "original").iterdir()
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["source"] == "released weights" and manifest["key"]["files"][0][0] == source["path"]
    assert "training" not in manifest  # imported, not trained
