"""The command line: help, and bad input that stops before any work with one clear line and status 2."""

import subprocess
import sys

import pytest

from iguln.cli import main


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr()


def test_top_level_help_lists_the_commands(capsys):
    main(["--help"])
    out = capsys.readouterr().out
    assert all(c in out for c in ("pretrain", "train", "eval", "report"))


@pytest.mark.parametrize("command", ["pretrain", "train", "eval", "report"])
def test_command_help_is_hydra_help_with_groups(command, capsys):
    code, out = run_cli([command, "--help"], capsys)
    assert code == 0 and f"iguln {command}" in out.out
    if command != "report":
        assert "model: diffusion, mae, vqgan" in out.out and "loss: l2_noise" in out.out


def test_unknown_command(capsys):
    code, out = run_cli(["forget"], capsys)
    assert code == 2 and "unknown command 'forget'" in out.err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["model=vae"], "model='vae' is not valid. Allowed: diffusion, mae, vqgan"),
        (["loss=forget_all"], "loss='forget_all' is not valid. Allowed: l2_noise"),
        (["data=mnist"], "data='mnist' is not valid. Allowed: cifar10, fashion_mnist"),
        (["split.forget=[scarf]"], "split.forget='scarf' is not valid. Allowed: tshirt_top, trouser"),
        (["split.forget=[bag,coat]", "split.retain=[coat]"], "split.retain=['coat'] is not valid"),
        (["split.forget=[]"], "split.forget=[] is not valid. Allowed: at least one class"),
        (["split.eval_per_class=1001"], "split.eval_per_class=1001 is not valid. Allowed: at most 1000"),
        (["loss.alpha=-0.5"], "loss.alpha=-0.5 is not valid. Allowed: a finite number >= 0"),
        (["data=imagenet"], "data.root='???' is not valid"),
        (["data=imagenet", "data.root=/no/such/dir"], "data.root=/no/such/dir does not exist"),
        (["model.name=vae"], "model.name='vae' is not valid. Allowed: diffusion, mae, vqgan"),
        (["model.preset=huge"], "model.preset='huge' is not valid. Allowed: mage_base, micro, tiny"),
        (["trainer.device=cuda"], "No CUDA device is visible"),
    ],
)
def test_bad_input_fails_before_any_work(args, expected, capsys, tmp_path):
    code, out = run_cli(["train", f"paths.outputs={tmp_path}", *args], capsys)
    assert code == 2
    assert expected in out.err
    assert "Traceback" not in out.err + out.out
    assert not (tmp_path / "store").exists()  # no judge, no original: nothing was trained


def test_the_real_console_script_exits_with_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "iguln", "train", "loss.alpha=-1", f"paths.outputs={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=600,  # a guard against a hang; a loaded machine takes minutes to import
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("iguln train: error: loss.alpha=-1 is not valid")
    assert "Traceback" not in result.stderr
