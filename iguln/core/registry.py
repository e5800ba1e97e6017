"""Registries: one per kind (model families, losses, metrics, backbones, data sources, ...), each entry owning its
metadata, so that every other part of iguln (config checks, the report, reproduce, the tests) reads the names from
one place.

An unknown name is a ConfigError naming the config key, the value and every registered name. An entry may bring its
Hydra config: it becomes an option of the registry's config group (stored in Hydra's ConfigStore), so that a
plug-in (a loss, a metric, a family) is one Python file; see iguln/extend.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from hydra.core.config_store import ConfigStore

from iguln.core.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind by name, in the order they were registered.

    kind: what an entry is ("loss"); key: the config key whose value names an entry ("loss.name"); group: the
    config group whose options are entries ("loss"), when there is one.
    """

    def __init__(self, kind: str, key: str, group: str | None = None):
        self.kind, self.key, self.group = kind, key, group
        self._entries: dict[str, T] = {}
        self._configs: set[str] = set()

    def register(self, name: str, entry: T, config: dict | None = None) -> T:
        """Add `entry` as `name`; with `config`, also the config group option `<group>=<name>` holding
        {"name": name, **config}. A name can be registered once."""
        if name in self._entries:
            raise ValueError(f"a {self.kind} named {name!r} is registered already")
        if config is not None:
            if self.group is None:
                raise ValueError(f"{self.kind} entries have no config group; register {name!r} without config")
            ConfigStore.instance().store(group=self.group, name=name, node={"name": name, **config})
            self._configs.add(name)
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove an entry (and the config option it brought): for tests that register their own."""
        self._entries.pop(name, None)
        if name in self._configs:
            self._configs.discard(name)
            ConfigStore.instance().repo.get(self.group, {}).pop(f"{name}.yaml", None)

    def get(self, name: object) -> T:
        if not isinstance(name, str) or name not in self._entries:
            hint = f"Pick one with {self.group}=NAME." if self.group else None
            raise ConfigError(self.key, name, sorted(self.names()), hint)
        return self._entries[name]

    def names(self) -> list[str]:
        return list(self._entries)

    def values(self) -> list[T]:
        return list(self._entries.values())

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
