"""Registry of data sets by `data.name`; loading checks the root first and says how to get missing data."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from iguln.core.errors import ConfigError
from iguln.data import cifar10, fashion_mnist, folder
from iguln.data.source import ImageSource

LOADERS = {
    "fashion_mnist": fashion_mnist.load,
    "cifar10": cifar10.load,
    "imagefolder": folder.load,
    "imagenet": folder.load,
    "places365": folder.load,
}


def check_data_config(cfg: DictConfig) -> None:
    """Fail before any work on an unknown data set or a required root that was not given."""
    if cfg.name not in LOADERS:
        raise ConfigError("data.name", cfg.name, sorted(LOADERS), "Pick one with data=NAME.")
    if OmegaConf.is_missing(cfg, "root") or ("train_dir" in cfg and cfg.root is None):
        raise ConfigError(
            "data.root",
            "???",
            f"a folder holding {cfg.train_dir}/<class>/<image> and {cfg.eval_dir}/<class>/<image>",
            f"data={cfg.name} needs its location: add data.root=/path/to/{cfg.name}.",
        )


def load_source(cfg: DictConfig, image_size: int, downloads: str) -> ImageSource:
    """The data set named by data.name, with images at `image_size` px."""
    check_data_config(cfg)
    return LOADERS[cfg.name](cfg, image_size, downloads)
