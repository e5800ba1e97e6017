"""Command-line overrides, checked before Hydra runs anything, so that a bad one stops with one line naming the key,
the value and what is allowed (exit status 2), instead of Hydra's multi-line error or a silently added key:

- an override Hydra cannot parse (an unclosed list, characters its grammar does not take unquoted);
- a config group option that does not exist (`model=vae`), also inside a sweep (`model=vqgan,vae`);
- a key no config has (`loss.alpah=0.3`: did you mean loss.alpha?), also when added with `+` or `++`, which would
  otherwise put a key into the config that nothing reads. Under `model.arch` `+` adds preset values
  (`+model.arch.transformer.depth=6`), which the family checks against its preset;
- `+key=value` for a key that exists (Hydra refuses it).

The config is composed once with each sweep's first value to find these; every value is checked later, by
config/checks.py, when the job starts.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import re

from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from iguln.config import CONF_DIR
from iguln.config.groups import groups, options
from iguln.core.errors import ConfigError

SYNTAX = "Hydra's override syntax: key=value, key=[a,b], key=a,b (a sweep), and quotes around other characters: key='…'"
OPEN = ("model.arch.",)  # where `+key=value` adds a key on purpose
HELP_FLAGS = ("-h", "--help", "--hydra-help", "--shell-completion", "-sc")
NOT_OVERRIDABLE = re.compile(r"Could not override '([^']+)'")
ALREADY_THERE = re.compile(r"An item is already at '([^']+)'")
LONG = 80


def shown(text: str) -> str:
    """`text`, cut to LONG characters for a message."""
    return text if len(text) <= LONG else f"{text[:LONG]}… ({len(text)} characters)"


def _key_and_value(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return shown(key), shown(value)


def _parse(text: str) -> Override:
    try:
        return OverridesParser.create().parse_override(text)
    except HydraException as err:
        key, value = _key_and_value(text)
        raise ConfigError(key, value, SYNTAX, f"It could not be parsed: {str(err).splitlines()[0]}") from err


def _first(override: Override) -> str | None:
    """The override with a sweep's first value (None when it cannot be written so, e.g. a glob)."""
    if not override.is_sweep_override():
        return override.input_line
    try:
        first = next(iter(override.sweep_string_iterator()))
    except (HydraException, StopIteration, TypeError, ValueError):
        return None
    prefix = "++" if override.is_force_add() else "+" if override.is_add() else ""
    return f"{prefix}{override.key_or_group}={first}"


def _check_choices(override: Override, group: str) -> None:
    """Every option a group override names (each of a sweep's) must exist; globs and null are Hydra's."""
    if override.is_delete():
        return
    try:
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [override.value()]
    except HydraException:  # glob(...) is expanded against the options by Hydra
        return
    allowed = options(group)
    for value in values:
        if value is not None and str(value) not in allowed and str(value) != "null":
            raise ConfigError(group, str(value), allowed)


def _compose(config_name: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name, overrides)


def _closest(config_name: str, overrides: list[str], key: str) -> tuple[str, list[str], str | None]:
    """(the deepest part of `key` that exists, the keys there, the closest key to what `key` names below it, with
    the rest of `key` after it) in the config composed from `overrides`."""
    try:
        cfg = OmegaConf.to_container(_compose(config_name, overrides), resolve=False)
    except (HydraException, OmegaConfBaseException):
        return "", [], None
    parts, node, path = key.split("."), cfg, []
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            break
        node, path = node[part], [*path, part]
    keys = sorted(str(k) for k in node) if isinstance(node, dict) else []
    wanted, rest = parts[len(path)], parts[len(path) + 1 :]
    match = difflib.get_close_matches(wanted, keys, n=1, cutoff=0.6)
    return ".".join(path), keys, ".".join([match[0], *rest]) if match else None


def _unknown_key(config_name: str, base: list[str], text: str, key: str) -> ConfigError:
    where, keys, match = _closest(config_name, base, key)
    allowed = f"the keys of {where}: {', '.join(keys)}" if where else f"the top-level keys: {', '.join(keys)}"
    if text.startswith("+"):
        allowed += " (+ adds no key that iguln would not read)"
    hint = f"Did you mean {where + '.' if where else ''}{match}?" if match else None
    shown_key, value = _key_and_value(text.lstrip("+"))
    return ConfigError(shown_key, value, allowed, hint)


def user_overrides(args: list[str]) -> tuple[list[str], bool] | None:
    """(the overrides among a command's arguments, whether -m sweeps them); None when Hydra only prints help or
    will itself refuse its flags."""
    if any(a in HELP_FLAGS for a in args):
        return None
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # Hydra's parser says it again, when Hydra runs
            parsed = get_args_parser().parse_args(args)
    except SystemExit:  # Hydra's own flags are wrong: Hydra will say so
        return None
    return list(parsed.overrides), bool(parsed.multirun)


def check_overrides(config_name: str, args: list[str]) -> None:
    """Raise ConfigError for the first bad override among `args` of `iguln <command>` (config `config_name`)."""
    found = user_overrides(args)
    if not found:
        return
    texts, multirun = found
    known_groups = set(groups())
    composed, added = [], {}  # overrides to compose with; plain forms of `+key=` overrides -> their text
    for text in texts:
        override = _parse(text)
        name = override.key_or_group
        if name == "hydra" or name.startswith(("hydra.", "hydra/")):
            continue  # Hydra's own settings, checked by Hydra
        if override.is_sweep_override() and not multirun:
            key, value = _key_and_value(text)
            raise ConfigError(key, value, "one value, or -m to sweep over several (iguln <command> -m key=a,b)")
        group = name.split("@")[0]
        if group in known_groups:
            _check_choices(override, group)
        first = _first(override)
        if first is None:
            continue
        adds = override.is_add() or override.is_force_add()
        if adds and group not in known_groups and not name.startswith(OPEN):
            plain = first.lstrip("+")
            added[plain] = text
            first = plain
        composed.append(first)
    try:
        _compose(config_name, composed)
    except MissingConfigException as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        raise ConfigError(
            "overrides", " ".join(shown(c) for c in composed), "existing config options", lines[0]
        ) from err
    except (HydraException, OmegaConfBaseException) as err:
        raise _composition_error(config_name, composed, added, err) from err
    except OSError as err:  # Hydra looks for a config group of each key's name: a name too long for a file
        text = max(composed, key=lambda c: len(c.partition("=")[0]))
        key, value = _key_and_value(text.lstrip("+"))
        raise ConfigError(key, value, "keys of the config", f"No config has this key ({err.strerror}).") from err
    for plain, text in added.items():  # each composed as a plain override, so each key exists
        if not text.startswith("++"):
            key, value = _key_and_value(plain)
            raise ConfigError(
                key, value, f"{key}=... without +", "The key exists; + adds a new one (Hydra refuses it)."
            )


def _composition_error(config_name: str, composed: list[str], added: dict, err: Exception) -> ConfigError:
    message = str(err)
    match = NOT_OVERRIDABLE.search(message) or ALREADY_THERE.search(message)
    if match is None:
        first = message.strip().splitlines()[0] if message.strip() else type(err).__name__
        return ConfigError("overrides", " ".join(shown(c) for c in composed), "overrides of existing keys", first)
    key = match.group(1)
    text = next((c for c in composed if c.lstrip("+").partition("=")[0] == key), key)
    base = [c for c in composed if c != text]
    return _unknown_key(config_name, base, added.get(text, text), key)
