"""The registry of data sources (`data.source`): how a data set's images are read. Loading checks the root first
and says how to get missing data.

Each entry owns its metadata: the loader, whether it needs `data.root`, and whether the root is part of what
identifies the data (a folder tree is whatever its folder holds). A data set config names its source
(conf/data/*.yaml: `source: fashion_mnist`; imagenet and places365 are `imagefolder` trees); a source from
elsewhere registers with `register_source` (iguln/extend.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from iguln.core.errors import ConfigError
from iguln.core.registry import Registry
from iguln.data import cifar10, fashion_mnist, folder
from iguln.data.source import ImageSource


@dataclass(frozen=True)
class DataSource:
    """load(data cfg, image size, downloads dir) -> ImageSource."""

    name: str
    load: Callable[[DictConfig, int, str], ImageSource]
    needs_root: bool = False
    root_in_key: bool = False


SOURCES: Registry[DataSource] = Registry("data source", "data.source")


def register_source(source: DataSource) -> DataSource:
    return SOURCES.register(source.name, source)


for _source in (
    DataSource("fashion_mnist", fashion_mnist.load),
    DataSource("cifar10", cifar10.load),
    DataSource("imagefolder", folder.load, needs_root=True, root_in_key=True),
):
    register_source(_source)


def source_of(cfg: DictConfig) -> DataSource:
    return SOURCES.get(cfg.get("source", cfg.name))


def check_data_config(cfg: DictConfig) -> None:
    """Fail before any work on an unknown data source or a required root that was not given."""
    source = source_of(cfg)
    if OmegaConf.is_missing(cfg, "root") or (source.needs_root and cfg.root is None):
        raise ConfigError(
            "data.root",
            "???",
            f"a folder holding {cfg.train_dir}/<class>/<image> and {cfg.eval_dir}/<class>/<image>",
            f"data={cfg.name} needs its location: add data.root=/path/to/{cfg.name}.",
        )


def data_identity(cfg: DictConfig, source: ImageSource) -> dict:
    """What identifies the images a generator was trained or scored on (part of store keys)."""
    identity = {"name": cfg.name, "classes": source.classes, "channels": source.channels}
    if source_of(cfg).root_in_key:
        identity["root"] = str(cfg.root)
    return {**identity, "image_size": source.image_size}


def load_source(cfg: DictConfig, image_size: int, downloads: str) -> ImageSource:
    """The data set the `data` config names, with images at `image_size` px."""
    check_data_config(cfg)
    return source_of(cfg).load(cfg, image_size, downloads)
