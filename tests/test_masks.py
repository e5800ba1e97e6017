import pytest
import torch

from iguln.core.errors import ConfigError
from iguln.data.masks import apply_mask, border, center_square, task_mask
from tests.conftest import compose_config


def test_center_square_is_centred_and_sized():
    mask = center_square(32, 0.5)
    assert mask.shape == (1, 1, 32, 32)
    assert mask.sum() == 16 * 16
    assert mask[0, 0, 8:24, 8:24].all() and mask[0, 0, :8].sum() == 0 and mask[0, 0, 24:].sum() == 0


def test_paper_mask_at_256_px_is_the_8x8_patch_centre():
    mask = center_square(256, 0.5)
    assert mask[0, 0, 64:192, 64:192].all() and mask.sum() == 128 * 128


def test_border_covers_all_four_sides():
    mask = border(32, 0.125)
    assert mask[0, 0, 4:28, 4:28].sum() == 0
    assert mask[0, 0, :4].all() and mask[0, 0, -4:].all() and mask[0, 0, :, :4].all() and mask[0, 0, :, -4:].all()


@pytest.mark.parametrize("fraction", [0, 1.0, -0.1, "half", 0.001])
def test_bad_center_fraction_names_the_key(fraction):
    with pytest.raises(ConfigError, match="task.fraction"):
        center_square(32, fraction)


def test_border_must_leave_a_centre():
    with pytest.raises(ConfigError, match="task.fraction"):
        border(32, 0.5)


def test_task_configs_build_masks():
    for task in ("inpaint_center", "outpaint"):
        cfg = compose_config("train", [f"task={task}"])
        assert task_mask(cfg.task, 32).shape == (1, 1, 32, 32)


def test_apply_mask_blanks_only_the_masked_pixels():
    x = torch.rand(2, 3, 8, 8)
    mask = center_square(8, 0.5)
    shown = apply_mask(x, mask, fill=-1.0)
    assert torch.equal(shown[..., :2, :], x[..., :2, :])
    assert (shown[..., 2:6, 2:6] == -1).all()
