"""Bad input of every kind stops cleanly: one line naming the key, the value and what is allowed, exit status 2, no
traceback, and no work done (nothing in the store); a record that cannot be read is named and skipped; a write
that fails leaves nothing half-written."""

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError

import iguln.store.folders as folders
from iguln.cli import main
from iguln.core.errors import StorageError
from iguln.core.io import atomic_dir, atomic_write_text
from iguln.store.folders import write_folder
from tests.test_report import record

LONG_KEY = "k" * 300


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["loss.alpha=nan"], "loss.alpha=nan is not valid. Allowed: a finite number"),
        (["trainer.lr=inf"], "trainer.lr=inf is not valid. Allowed: a finite number"),
        (["model.pretrain.lr=-inf"], "model.pretrain.lr=-inf is not valid. Allowed: a finite number"),
        (
            ["loss.alpah=0.3"],
            "Allowed: the keys of loss: alpha, features, forget_norm, name, noise, noise_draw, noise_seed, target. "
            "Did you mean loss.alpha?",
        ),
        (["+loss.alpah=0.3"], "loss.alpah='0.3' is not valid. Allowed: the keys of loss: alpha, features, "),
        (["++trainer.lrr=0.1"], "Did you mean trainer.lr?"),
        (["losss.alpha=0.3"], "Allowed: the top-level keys: data, eval, logger, loss, model"),
        (["+loss.alpha=0.3"], "loss.alpha='0.3' is not valid. Allowed: loss.alpha=... without +"),
        (["split.forget=[träuser]"], "split.forget='[träuser]' is not valid. Allowed: Hydra's override syntax"),
        (["split.forget=[bag"], "split.forget='[bag' is not valid. Allowed: Hydra's override syntax"),
        (["split.forget='[träuser]'"], "split.forget='[träuser]' is not valid. Allowed: a list of class names"),
        (["split.forget=['träuser']"], "split.forget='träuser' is not valid. Allowed: tshirt_top, trouser"),
        ([f"{LONG_KEY}=1"], f"{LONG_KEY[:80]}… (300 characters)='1' is not valid"),
        ([f"loss.{LONG_KEY}=1"], f"loss.{LONG_KEY[:75]}… (305 characters)='1' is not valid"),
        (["model=vqgan,vae"], "model='vqgan,vae' is not valid. Allowed: one value, or -m to sweep"),
        (["-m", "model=vqgan,vae"], "model='vae' is not valid. Allowed: diffusion, mae, vqgan"),
        (["loss.alpha=0.1,0.5"], "Allowed: one value, or -m to sweep over several"),
    ],
)
def test_bad_input_stops_with_one_line_and_no_work(args, expected, capsys, tmp_path):
    code, out = run_cli(["train", *args, f"paths.outputs={tmp_path}"], capsys)
    assert code == 2
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iguln train: error: "), out.err
    assert expected in lines[0]
    assert "Traceback" not in out.err + out.out
    assert not (tmp_path / "store").exists()


def test_the_console_script_refuses_a_did_you_mean_key_before_hydra_starts(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "iguln", "train", "loss.alpah=0.3", f"paths.outputs={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "iguln train: error: loss.alpah='0.3' is not valid. Allowed: the keys of loss: alpha, features, forget_norm, "
        "name, noise, noise_draw, noise_seed, target. Did you mean loss.alpha?"
    )
    assert not any(tmp_path.iterdir())  # no run dir either: Hydra never started


def test_nan_alpha_never_trains_or_saves(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "iguln", "train", "experiment=smoke", "pretrain_if_missing=true", "loss.alpha=nan",
         f"paths.outputs={tmp_path}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "iguln train: error: loss.alpha=nan is not valid. Allowed: a finite number."
    )
    assert not (tmp_path / "store").exists()
    (record_path,) = (tmp_path / "train").rglob("results.json")
    assert json.loads(record_path.read_text())["status"] == "failed"


def test_report_names_a_truncated_record_lists_it_and_goes_on(tmp_path, capsys):
    for name, rec in {"ours": record("l2_noise", 40.0), "max": record("max_loss", 20.0)}.items():
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "results.json").write_text(json.dumps(rec))
    broken = tmp_path / "runs" / "cut" / "results.json"
    broken.parent.mkdir()
    broken.write_text(json.dumps(record("noisy_label", 30.0))[:100])  # a write cut short
    main(["report", str(tmp_path / "runs"), f"paths.outputs={tmp_path}", f"out={tmp_path / 'report'}", "tsne=false"])
    out = capsys.readouterr()
    assert f"iguln report: skipped {broken}: unreadable (JSONDecodeError" in out.err
    assert "| Ours |" in out.out and "| MAX LOSS |" in out.out and "2 records (1 unreadable, skipped)" in out.out
    assert f"- UNREADABLE: {broken}: unreadable" in (tmp_path / "report" / "tables.md").read_text()


def io_error(*args, **kwargs):
    """What safetensors raises when the disk fills up while it writes."""
    Path(args[1]).write_bytes(b"\0" * 64)  # it had begun writing
    raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


def test_a_full_disk_while_saving_the_original_stops_with_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(folders, "save_model", io_error)
    code, out = run_cli(["pretrain", "experiment=smoke", f"paths.outputs={tmp_path}"], capsys)
    assert code == 2 and "Traceback" not in out.err + out.out
    (line,) = [line for line in out.err.splitlines() if "error" in line]
    original = tmp_path / "store" / "original"
    assert line.startswith(f"iguln pretrain: error: could not write {original}/vqgan-")
    assert "No space left on device" in line and "nothing was left half-written" in line
    assert not any(original.iterdir()) if original.exists() else True  # no folder, no temporary copy
    assert not list((tmp_path / "store").rglob("*.tmp"))


def test_atomic_writes_leave_nothing_when_the_write_fails(tmp_path):
    def fail(f):
        f.write("partial")
        raise OSError(28, "No space left on device")

    from iguln.core.io import atomic_write

    with pytest.raises(StorageError, match=f"could not write {tmp_path / 'a.json'}.*No space left"):
        atomic_write(tmp_path / "a.json", fail)
    with pytest.raises(StorageError, match="could not write"), atomic_dir(tmp_path / "folder") as tmp:
        atomic_write_text(tmp / "x", "y")
        raise OSError(28, "No space left on device")
    assert not any(tmp_path.iterdir())


def test_a_real_file_size_limit_is_a_storage_error_with_nothing_left(tmp_path):
    """The operating system refuses the write (RLIMIT_FSIZE; Python ignores SIGXFSZ), as a full disk would."""

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))

    code = (
        "import sys, torch; from iguln.store.folders import write_folder; from iguln.core.errors import StorageError\n"
        "try:\n    write_folder(sys.argv[1], torch.nn.Linear(200, 200), {'role': 'test'})\n"
        "except StorageError as err:\n    print(err)\n"
    )
    target = tmp_path / "folder"
    result = subprocess.run(
        [sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=120, preexec_fn=limit,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )  # fmt: skip
    assert f"could not write {target}" in result.stdout and "File too large" in result.stdout, result.stderr
    assert not any(tmp_path.iterdir())
    write_folder(target, torch.nn.Linear(2, 2), {"role": "test"})  # without the limit it works
    with pytest.raises(FileExistsError):
        write_folder(target, torch.nn.Linear(2, 2), {"role": "test"})
