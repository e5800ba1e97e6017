import gzip

import numpy as np
import pytest
import torch
from PIL import Image

from iguln.core.errors import ConfigError, MissingArtefactError
from iguln.data.folder import load as load_folder
from iguln.data.idx import read_idx
from iguln.data.source import resize_uint8, to_unit_range
from iguln.data.sources import check_data_config, load_source
from tests.conftest import compose_config


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    write_idx(tmp_path / "x-idx3-ubyte.gz", array)
    assert (read_idx(tmp_path / "x-idx3-ubyte.gz") == array).all()


def test_truncated_idx_is_refused(tmp_path):
    (tmp_path / "bad").write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 9, 1, 2]))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "bad")


def test_pixel_range_and_resize():
    images = torch.tensor([[[[0, 255], [255, 0]]]], dtype=torch.uint8)
    assert to_unit_range(images).min() == -1 and to_unit_range(images).max() == 1
    assert resize_uint8(images, 4).shape == (1, 1, 4, 4)


def test_fashion_mnist_from_a_folder_of_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    cfg = compose_config("train", [f"data.root={tmp_path}", "data.download=false"])
    source = load_source(cfg.data, 32, str(tmp_path / "downloads"))
    assert source.classes[1] == "trouser" and len(source.targets("test")) == 10
    image, label = source.subset("train", [3])[0]
    assert image.shape == (1, 32, 32) and label == 3 and image.min() >= -1 and image.max() <= 1


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    cfg = compose_config("train", [f"data.root={tmp_path}", "data.download=false"])
    with pytest.raises(MissingArtefactError, match="apt-get install dataset-fashion-mnist"):
        load_source(cfg.data, 32, str(tmp_path))


def test_folder_data_needs_a_root():
    for name in ("imagefolder", "imagenet", "places365"):
        with pytest.raises(ConfigError, match=f"data.root=.*data={name} needs its location"):
            check_data_config(compose_config("train", [f"data={name}"]).data)


def test_missing_root_folder(tmp_path):
    cfg = compose_config("train", ["data=imagenet", f"data.root={tmp_path / 'nowhere'}"])
    with pytest.raises(MissingArtefactError, match="does not exist. Expected layout"):
        load_source(cfg.data, 32, "")


def test_image_folder_tree(tmp_path):
    for part, n in (("train", 3), ("val", 2)):
        for c, colour in (("cat", 200), ("dog", 40)):
            (tmp_path / part / c).mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (40, 30), (colour, i, 0)).save(tmp_path / part / c / f"{i}.png")
    cfg = compose_config("train", ["data=imagefolder", f"data.root={tmp_path}"])
    source = load_folder(cfg.data, 16, "")
    assert source.classes == ["cat", "dog"] and source.targets("train").tolist() == [0, 0, 0, 1, 1, 1]
    image, label = source.subset("test", [3])[0]
    assert image.shape == (3, 16, 16) and label == 1
    assert image[0].mean() == pytest.approx(40 / 127.5 - 1, abs=0.02)
