"""Forget / retain class splits and the seeded choice of images per class."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from omegaconf import DictConfig, ListConfig

from iguln.core.errors import ConfigError
from iguln.core.registry import Registry
from iguln.core.seeding import make_generator

SETS = ("forget", "retain")
RETAIN_SOURCES = ("retain", "proxy")
VAL_SEED = 10_000  # offset of the seed that chooses the validation images


@dataclass
class Split:
    """Which classes are forgotten or retained, and which images of them each phase uses.

    `unlearn[s]` indexes the train part, `evaluate[s]` the test part, for s in ("forget", "retain"). With
    retain_source "proxy", unlearning sees `unlearn["proxy"]` (images of classes neither forgotten nor retained)
    in place of the retain images, and evaluation still scores the true retain set.
    """

    classes: dict[str, list[int]]
    unlearn: dict[str, list[int]]
    evaluate: dict[str, list[int]]
    retain_source: str = "retain"
    validate: dict[str, list[int]] = field(default_factory=dict)  # train images held out of unlearning (may be {})

    @property
    def unlearn_retain(self) -> list[int]:
        """The train images unlearning uses as its retain set: the retain images, or the proxy images."""
        return self.unlearn[self.retain_source]

    def record(self, names: Sequence[str]) -> dict:
        """The split as written into results.json: class names, class indices and image indices."""
        record: dict = {
            s: {
                "classes": [names[c] for c in self.classes[s]],
                "class_indices": self.classes[s],
                "unlearn_indices": self.unlearn[s],
                "eval_indices": self.evaluate[s],
            }
            for s in SETS
        }
        for s, indices in self.validate.items():
            record[s]["val_indices"] = indices
        record["retain_source"] = self.retain_source
        if self.retain_source == "proxy":
            proxy = self.classes["proxy"]
            record["proxy"] = {
                "classes": [names[c] for c in proxy],
                "class_indices": proxy,
                "unlearn_indices": self.unlearn["proxy"],
            }
        return record


def _normalise(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def resolve_classes(values: object, names: Sequence[str], key: str) -> list[int]:
    """Class names or indices -> indices into `names`; names match ignoring case and punctuation."""
    if values is None or not isinstance(values, (list, tuple, ListConfig)):
        raise ConfigError(key, values, "a list of class names or indices", f"The classes are: {', '.join(names)}.")
    lookup = {_normalise(n): i for i, n in enumerate(names)}
    indices = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < len(names):
                raise ConfigError(key, value, f"class indices 0..{len(names) - 1}")
            index = value
        elif isinstance(value, str) and _normalise(value) in lookup:
            index = lookup[_normalise(value)]
        else:
            raise ConfigError(key, value, names)
        if index in indices:
            raise ConfigError(key, value, "each class once", "This class is listed twice.")
        indices.append(index)
    if not indices:
        raise ConfigError(key, [], "at least one class", f"The classes are: {', '.join(names)}.")
    return indices


def named_classes(cfg: DictConfig, names: Sequence[str]) -> dict[str, list[int]]:
    """split=classes: split.forget and split.retain, by name or index."""
    forget = resolve_classes(cfg.forget, names, "split.forget")
    retain = resolve_classes(cfg.retain, names, "split.retain")
    overlap = [names[c] for c in forget if c in retain]
    if overlap:
        raise ConfigError("split.retain", overlap, "classes that are not in split.forget")
    return {"forget": forget, "retain": retain}


def random_classes(cfg: DictConfig, names: Sequence[str]) -> dict[str, list[int]]:
    """split=random: split.k forget and split.k retain classes drawn with split.seed."""
    k = cfg.k
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= 2 * k <= len(names):
        raise ConfigError("split.k", k, f"an integer from 1 to {len(names) // 2} ({len(names)} classes)")
    order = torch.randperm(len(names), generator=make_generator(cfg.seed)).tolist()
    return {"forget": sorted(order[:k]), "retain": sorted(order[k : 2 * k])}


SPLITS: Registry[Callable[[DictConfig, Sequence[str]], dict[str, list[int]]]] = Registry(
    "split", "split.name", group="split"
)
SPLITS.register("classes", named_classes)
SPLITS.register("random", random_classes)


def choose_classes(cfg: DictConfig, names: Sequence[str]) -> dict[str, list[int]]:
    """The forget and retain class indices that the split config asks for."""
    return SPLITS.get(cfg.name)(names=names, cfg=cfg)


def _check_count(value: object, key: str) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigError(key, value, "a positive integer, or null for every image")


def select_images(
    targets: torch.Tensor,
    classes: list[int],
    per_class: int | None,
    seed: int,
    key: str,
    names: Sequence[str],
    exclude: Sequence[int] = (),
) -> list[int]:
    """`per_class` images of each class (all if None), chosen by a generator seeded with `seed`, none of `exclude`."""
    chosen, excluded = [], torch.as_tensor(list(exclude), dtype=torch.long)
    for c in classes:
        pool = torch.nonzero(targets == c).flatten()
        if len(excluded):
            pool = pool[~torch.isin(pool, excluded)]
        if per_class is not None and per_class > len(pool):
            raise ConfigError(
                key, per_class, f"at most {len(pool)}", f"Class {names[c]!r} has only {len(pool)} images here."
            )
        order = torch.randperm(len(pool), generator=make_generator(seed + c))
        chosen += pool[order[:per_class]].sort().values.tolist()
    return chosen


def proxy_classes(cfg: DictConfig, names: Sequence[str], classes: dict[str, list[int]]) -> list[int]:
    """The proxy retain classes: split.proxy, or (null) every class that is neither forgotten nor retained."""
    used = classes["forget"] + classes["retain"]
    if cfg.get("proxy") is not None:
        proxy = resolve_classes(cfg.proxy, names, "split.proxy")
        clash = [names[c] for c in proxy if c in used]
        if clash:
            raise ConfigError("split.proxy", clash, "classes that are neither forgotten nor retained")
        return proxy
    proxy = [c for c in range(len(names)) if c not in used]
    if not proxy:
        raise ConfigError(
            "split.retain_source",
            "proxy",
            "retain (every class is a forget or retain class, so none is left for a proxy retain set)",
            "Retain fewer classes, e.g. split.retain=[...] with some classes left out; they become the proxy.",
        )
    return proxy


def make_split(cfg: DictConfig, names: Sequence[str], train: torch.Tensor, test: torch.Tensor) -> Split:
    """Build the split from the `split` config and the labels of the train ([N]) and test ([M]) parts."""
    _check_count(cfg.unlearn_per_class, "split.unlearn_per_class")
    _check_count(cfg.eval_per_class, "split.eval_per_class")
    _check_count(cfg.get("val_per_class"), "split.val_per_class")
    source = cfg.get("retain_source", "retain")
    if source not in RETAIN_SOURCES:
        raise ConfigError("split.retain_source", source, RETAIN_SOURCES)
    classes = choose_classes(cfg, names)
    if source == "proxy":
        classes["proxy"] = proxy_classes(cfg, names, classes)
    validate = {}
    if cfg.get("val_per_class") is not None:  # held out of unlearning first, with a seed of their own
        validate = {
            s: select_images(train, classes[s], cfg.val_per_class, cfg.seed + VAL_SEED, "split.val_per_class", names)
            for s in SETS
        }
    held_out = [i for s in SETS for i in validate.get(s, [])]
    unlearn = {
        s: select_images(train, classes[s], cfg.unlearn_per_class, cfg.seed, "split.unlearn_per_class", names, held_out)
        for s in classes
    }
    if source == "proxy":  # the proxy set has as many images as the retain set would have had
        unlearn["proxy"] = _spread(unlearn["proxy"], len(unlearn["retain"]))
    evaluate = {
        s: select_images(test, classes[s], cfg.eval_per_class, cfg.seed, "split.eval_per_class", names) for s in SETS
    }
    return Split(classes, unlearn, evaluate, source, validate)


def _spread(indices: list[int], count: int) -> list[int]:
    """At most `count` of `indices`, evenly spaced (all of them when there are fewer)."""
    if len(indices) <= count:
        return indices
    return [indices[i * len(indices) // count] for i in range(count)]


def pretrain_indices(targets: torch.Tensor, classes: Sequence[int]) -> list[int]:
    """Every train image of the given classes (the original generator's training set)."""
    return torch.nonzero(torch.isin(targets, torch.as_tensor(list(classes)))).flatten().tolist()
