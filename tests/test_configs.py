"""Every config group option and every experiment composes and passes the config checks."""

import pytest
from omegaconf import OmegaConf

from iguln.config.checks import check_config
from iguln.config.groups import options
from iguln.core.errors import ConfigError
from iguln.models.families import weights_key
from tests.conftest import compose_config

GROUPS = ["model", "data", "split", "task", "loss", "trainer", "eval", "logger", "experiment", "paths"]
NEEDS_ROOT = {"imagefolder", "imagenet", "places365"}


@pytest.mark.parametrize("group", GROUPS)
def test_every_option_composes_and_checks(group):
    for option in options(group):
        overrides = [f"{group}={option}"]
        if (group == "data" and option in NEEDS_ROOT) or option.startswith("paper/"):
            overrides.append("data.root=/data")
        for command in ("train", "pretrain", "eval"):
            cfg = compose_config(command, overrides)
            check_config(cfg, command)
            assert OmegaConf.to_container(cfg, resolve=True)


def test_report_config_composes():
    assert list(compose_config("report", ["inputs=[a,b]"]).inputs) == ["a", "b"]


@pytest.mark.parametrize(
    ("model", "preset", "size"),
    [
        ("mae", "micro", 32),
        ("mae", "tiny", 32),
        ("mae", "base", 224),
        ("mae", "large", 224),
        ("vqgan", "micro", 32),
        ("vqgan", "tiny", 32),
        ("vqgan", "mage_base", 256),
        ("diffusion", "micro", 32),
        ("diffusion", "tiny", 32),
        ("diffusion", "palette", 256),
    ],
)
def test_presets_fill_the_architecture(model, preset, size):
    cfg = compose_config("train", [f"model={model}", f"model.preset={preset}"])
    check_config(cfg, "train")
    assert cfg.model.arch.num_channels == 1 and cfg.model.arch.image_size == size


def test_arch_overrides_are_kept_and_unknown_keys_refused():
    cfg = compose_config("train", ["model=mae", "+model.arch.hidden_size=64"])
    check_config(cfg, "train")
    assert cfg.model.arch.hidden_size == 64
    with pytest.raises(ConfigError, match=r"model.arch.depth=3.*Allowed: .*hidden_size"):
        check_config(compose_config("train", ["model=mae", "+model.arch.depth=3"]), "train")


def test_nested_arch_overrides_merge_key_by_key():
    cfg = compose_config("train", ["+model.arch.transformer.depth=5"])
    check_config(cfg, "train")
    assert cfg.model.name == "vqgan" and cfg.model.arch.transformer.depth == 5
    assert cfg.model.arch.transformer.hidden_size == 128  # the rest of the tiny preset is kept
    with pytest.raises(ConfigError, match=r"model.arch.transformer.width=5.*Allowed: .*hidden_size"):
        check_config(compose_config("train", ["+model.arch.transformer.width=5"]), "train")


def test_weights_key_leaves_out_generation_settings_and_unset_options():
    cfg = compose_config("train", [])
    check_config(cfg, "train")
    key = weights_key(cfg.model)
    assert "decode" not in key and "pretrained" not in key and key["arch"]["transformer"]["depth"] == 3
    changed = compose_config("train", ["model.decode.iterations=2"])
    check_config(changed, "train")
    assert weights_key(changed.model) == key
    pretrained = compose_config("train", ["model.pretrained=/weights/mage.pth"])
    check_config(pretrained, "train")
    assert weights_key(pretrained.model)["pretrained"] == "/weights/mage.pth"


def test_an_experiment_adds_its_per_family_part_only_for_that_family():
    vqgan = compose_config("train", ["experiment=demo"])
    assert vqgan.loss.noise == "uniform" and vqgan.model.decode.temperature == 0.25
    mae = compose_config("train", ["experiment=demo", "model=mae"])
    assert mae.loss.noise == "gaussian" and mae.trainer.lr == compose_config("train", []).trainer.lr
    assert vqgan.split.unlearn_per_class is None and mae.split.unlearn_per_class is None  # the shared part
    overridden = compose_config("train", ["experiment=demo", "loss.alpha=1.0"])
    assert overridden.loss.alpha == 1.0  # the command line still wins


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.sample_steps=0", "model.sample_steps=0 is not valid. Allowed: a positive integer"),
        ("model.schedule.beta_end=2", r"model.schedule.beta_end=2 is not valid. Allowed: a number in \(0.0, 1.0\)"),
        ("model.schedule.steps=1", "model.schedule.steps=1 is not valid. Allowed: an integer >= 2"),
    ],
)
def test_diffusion_options_are_checked(override, message):
    with pytest.raises(ConfigError, match=message):
        check_config(compose_config("train", ["model=diffusion", override]), "train")


def test_vqgan_options_are_checked():
    with pytest.raises(ConfigError, match=r"model.decode.temperature=0 is not valid. Allowed: a number in \[0.001"):
        check_config(compose_config("train", ["model.decode.temperature=0"]), "train")
    with pytest.raises(ConfigError, match="model.decode.iterations=0 is not valid. Allowed: a positive integer"):
        check_config(compose_config("train", ["model.decode.iterations=0"]), "train")


@pytest.mark.parametrize(("reference", "model"), [("mage", "vqgan"), ("palette", "diffusion")])
def test_every_reference_protocol_composes_and_checks_with_its_family(reference, model):
    assert sorted(options("reference")) == ["mage", "palette"]
    cfg = compose_config("train", [f"+reference={reference}", f"model={model}"])
    check_config(cfg, "train")
    assert cfg.trainer.batches == "mixed" and cfg.trainer.masks == "family" and cfg.loss.form == "reference"
