import pytest
import torch

from iguln.core.errors import MissingArtefactError
from iguln.data.masks import border, center_square
from iguln.models.mae import MAE, mae_micro
from iguln.models.storage import load_generator, save_generator


@pytest.fixture
def mae():
    torch.manual_seed(0)
    return MAE({**mae_micro(), "num_channels": 1}).eval()


def images(n=3, channels=1):
    return torch.rand(n, channels, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("mask", [center_square(32, 0.5), border(32, 0.125), center_square(32, 0.3)])
def test_generate_keeps_unmasked_pixels_and_fills_the_rest(mae, mask):
    x = images()
    with torch.no_grad():
        y = mae.generate(x, mask)
    keep = ~mask.bool().expand_as(x)
    assert torch.equal(y[keep], x[keep])
    assert not torch.equal(y[~keep], x[~keep])
    assert y.min() >= -1 and y.max() <= 1


def test_the_task_mask_chooses_the_patches(mae):
    mask = center_square(32, 0.5)  # 4x4 of the 8x8 patches
    patches = mae.patch_mask(mask, 2)
    assert patches.shape == (2, 64) and int(patches[0].sum()) == 16
    features = mae.encode(images(2), mask)
    assert features.shape == (2, 1 + 48, 32)


def test_widened_mask_covers_every_touched_patch(mae):
    mask = center_square(32, 0.3)  # 10 px square at 11..20: touches patches 2..5
    assert int(mae.patch_mask(mask, 1).sum()) == 16


def test_masked_pixels_do_not_reach_the_encoder(mae):
    mask = center_square(32, 0.5)
    x = images(2)
    changed = x.clone()
    changed[..., 8:24, 8:24] = 0.7
    assert torch.equal(mae.encode(x, mask), mae.encode(changed, mask))


def test_generation_is_deterministic(mae):
    mask = center_square(32, 0.5)
    assert torch.equal(mae.generate(images(), mask), mae.generate(images(), mask))


def test_native_loss_with_own_and_task_masks(mae):
    g = torch.Generator().manual_seed(0)
    for _ in range(4):  # both kinds of pretraining mask
        loss = mae.native_loss(images(4), None, g)
        assert torch.isfinite(loss) and loss > 0
    assert torch.isfinite(mae.native_loss(images(4), center_square(32, 0.5)))


def test_encoder_is_the_vit_and_not_the_decoder(mae):
    encoder = {id(p) for p in mae.encoder_parameters()}
    assert all(id(p) not in encoder for p in mae.net.decoder.parameters())
    assert id(mae.net.vit.embeddings.patch_embeddings.projection.weight) in encoder
    assert id(mae.net.vit.embeddings.position_embeddings) not in encoder  # fixed sin-cos positions


def test_save_load_round_trip(mae, tmp_path):
    manifest = save_generator(mae, tmp_path / "m", role="original")
    loaded, read = load_generator(tmp_path / "m")
    assert read["sha256"] == manifest["sha256"] and read["role"] == "original"
    mask = center_square(32, 0.5)
    assert torch.equal(loaded.eval().generate(images(), mask), mae.generate(images(), mask))
    with pytest.raises(FileExistsError):
        save_generator(mae, tmp_path / "m")


def test_changed_weights_fail_to_load(mae, tmp_path):
    save_generator(mae, tmp_path / "m")
    with open(tmp_path / "m" / "weights.safetensors", "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(MissingArtefactError, match="sha256"):
        load_generator(tmp_path / "m")


def test_a_folder_without_weights_is_not_a_generator(tmp_path):
    with pytest.raises(
        MissingArtefactError, match="not a generator folder: config.json, weights.safetensors, manifest.json missing"
    ):
        load_generator(tmp_path)


def test_fixed_positions_tell_patches_apart(mae):
    table = mae.net.vit.embeddings.position_embeddings[0, 1:]
    assert table.shape == (64, 32) and not table.requires_grad
    assert torch.cdist(table, table).fill_diagonal_(1.0).min() > 0.1  # every patch position is distinct
    assert mae.net.decoder.decoder_pos_embed.abs().sum() > 0
