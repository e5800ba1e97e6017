"""The GPU-path switches: checked before any work, and speed-only (the same numbers up to rounding)."""

import copy

import pytest
import torch
from omegaconf import OmegaConf

from iguln.cli import main
from iguln.core.accel import accelerate, check_accel, peak_memory
from iguln.core.errors import ConfigError
from iguln.data.masks import center_square
from iguln.models.mae import MAE, mae_micro

CPU = torch.device("cpu")


@pytest.mark.parametrize("key", ["tf32", "channels_last", "compile"])
def test_a_switch_that_is_not_a_bool_names_its_key(key):
    cfg = OmegaConf.create({"tf32": True, "channels_last": False, "compile": False, key: "yes"})
    with pytest.raises(ConfigError, match=f"^trainer.{key}='yes' is not valid. Allowed: true or false"):
        check_accel(cfg)


def test_the_command_line_refuses_it_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "experiment=smoke", f"paths.outputs={tmp_path}", "trainer.compile=maybe"])
    assert exit_info.value.code == 2 and "trainer.compile='maybe'" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


def test_compile_changes_speed_not_the_outputs_or_the_weights_layout():
    torch.manual_seed(0)
    model = MAE({**mae_micro(), "num_channels": 1}).eval()
    compiled = accelerate(copy.deepcopy(model), CPU, OmegaConf.create({"channels_last": False, "compile": True}))
    assert list(compiled.state_dict()) == list(model.state_dict()) and compiled._iguln_compiled_blocks >= 2
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        mask = center_square(32, 0.5)
        expected, got = model.encode(x, mask), compiled.encode(x, mask)
    assert torch.allclose(expected, got, atol=1e-5)


def test_peak_memory_is_reported():
    assert peak_memory(CPU)["peak_rss_gib"] > 0.01


def test_every_family_has_blocks_to_compile():
    from iguln.core.accel import compile_blocks
    from iguln.models.diffusion import Diffusion

    schedule = {"steps": 100, "beta_start": 1e-4, "beta_end": 0.02}
    diffusion = Diffusion({**Diffusion.presets["micro"], "num_channels": 1}, schedule)  # its lists hold None too
    assert compile_blocks(diffusion) >= 4
    assert compile_blocks(MAE({**mae_micro(), "num_channels": 1})) >= 2
