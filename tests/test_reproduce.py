"""iguln reproduce: the paper matrix stops at once listing what is missing; the mini matrix at smoke sizes
produces the paper's table with every row."""

import pytest

from iguln.cli import main
from iguln.commands.reproduce import compose_job
from iguln.jobs.preflight import missing_items


def test_the_paper_matrix_lists_every_missing_item_and_runs_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "paper", "--outputs", str(tmp_path)])
    assert exit_info.value.code == 2
    out = capsys.readouterr().err
    for experiment in ("imagenet_vqgan", "imagenet_diffusion", "places365_vqgan", "places365_mae"):
        assert f"experiment=paper/{experiment}:" in out
    assert "data.root=... (or IGULN_IMAGENET=...): not set" in out
    assert "model.pretrained=... (or IGULN_PALETTE_WEIGHTS=...): not set" in out
    assert "eval.inception_weights=... (or IGULN_INCEPTION_WEIGHTS=...): not set" in out
    assert "eval.places_weights=... (or IGULN_PLACES_RESNET_WEIGHTS=...): not set" in out
    assert "eval.clip_model=... (or IGULN_CLIP_MODEL=...): open_clip:ViT-H-14@laion2b_s32b_b79k is not a local" in out
    assert not (tmp_path / "reproduce").exists()


def test_missing_class_folders_and_weights_files_are_named(tmp_path, monkeypatch):
    root = tmp_path / "imagenet"
    (root / "train" / "n01443537").mkdir(parents=True)
    (root / "val").mkdir()
    weights = tmp_path / "inception.pt"
    weights.write_bytes(b"x")
    monkeypatch.setenv("IGULN_IMAGENET", str(root))
    monkeypatch.setenv("IGULN_INCEPTION_WEIGHTS", str(weights))
    monkeypatch.setenv("IGULN_MAGE_WEIGHTS", str(tmp_path / "absent.pth"))
    items = missing_items(compose_job("paper/imagenet_vqgan", None, []))
    assert any("199 class folders missing under train/" in i for i in items)
    assert any("200 class folders missing under val/" in i for i in items)
    assert any(
        f"model.pretrained=... (or IGULN_MAGE_WEIGHTS=...): {tmp_path / 'absent.pth'} is not a file" in i for i in items
    )
    assert not any("eval.inception_weights" in i or "places_weights" in i for i in items)


def test_a_shrunk_mini_matrix_gives_a_table_with_every_row(tmp_path, capsys):
    main(["reproduce", "mini", "--smoke", "--models", "vqgan", "--outputs", str(tmp_path)])
    table = (tmp_path / "reproduce" / "mini" / "report" / "tables.md").read_text()
    for row in ("Original", "MAX LOSS", "NOISY LABEL", "RETAIN LABEL", "RANDOM ENCODER", "Ours (α=0.1)",
                "Ours (α=0.25)", "Ours (α=1)", "Ours (proxy retain)", "Retrain"):  # fmt: skip
        assert f"| {row} |" in table, row
    assert "FAILED" not in table


def test_mae_weights_are_missing_only_when_not_given_as_a_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("IGULN_MAE_WEIGHTS", raising=False)
    items = missing_items(compose_job("paper/imagenet_mae", None, []))
    assert any(i.startswith("model.pretrained=... (or IGULN_MAE_WEIGHTS=...): not set") for i in items)
    monkeypatch.setenv("IGULN_MAE_WEIGHTS", str(tmp_path / "absent"))
    items = missing_items(compose_job("paper/places365_mae", None, []))
    assert any(f"{tmp_path / 'absent'} is not a folder written by save_pretrained" in i for i in items)
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv("IGULN_MAE_WEIGHTS", str(tmp_path))
    assert not any("model.pretrained" in i for i in missing_items(compose_job("paper/imagenet_mae", None, [])))


def test_overrides_may_follow_the_options(tmp_path, capsys):
    main(["reproduce", "mini", "--models", "mae", "--outputs", str(tmp_path), "seed=3", "--dry-run"])
    out = capsys.readouterr().out
    assert "seed=3" in out and "model=mae" in out and not (tmp_path / "reproduce").exists()
