"""Errors that speak to the user: which key, which value, what is allowed, what to run next."""

from __future__ import annotations

import math
from collections.abc import Iterable


class ConfigError(Exception):
    """A bad config value, found before any work starts.

    The message names the key and the value, then what is allowed and, when known, what to run instead.
    """

    def __init__(self, key: str, value: object, allowed: str | Iterable[object], hint: str | None = None):
        self.key, self.value = key, value
        if not isinstance(allowed, str):
            allowed = ", ".join(str(a) for a in allowed)
        self.allowed, self.hint = allowed, hint
        message = f"{key}={value!r} is not valid. Allowed: {allowed}."
        if hint:
            message += f" {hint}"
        super().__init__(message)

    def __reduce__(self):  # picklable: a sweep launcher sends a job's error back to the sweep's process
        return type(self), (self.key, self.value, self.allowed, self.hint)


def positive_int(key: str, value: object) -> int:
    """value if it is an integer >= 1 (not a bool); else a ConfigError naming `key`."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(key, value, "a positive integer")
    return value


def number_in(key: str, value: object, low: float, high: float, open_ends: bool = False) -> float:
    """value if it is a number in [low, high] ((low, high) with open_ends); else a ConfigError naming `key`."""
    inside = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    inside = inside and (low < value < high if open_ends else low <= value <= high)
    if not inside:
        left, right = "()" if open_ends else "[]"
        raise ConfigError(key, value, f"a number in {left}{low}, {high}{right}")
    return float(value)


class MissingArtefactError(Exception):
    """Something the job needs (data, an original model, weights) is not there; the message says how to get it."""


class StorageError(Exception):
    """A file or folder could not be written (a full disk, no permission): the message names the path, and
    nothing half-written was left there."""

    def __init__(self, path: object, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(
            f"could not write {self.path} ({self.reason}); nothing was left half-written. Free some space (or "
            "choose another paths.outputs) and run the command again."
        )

    def __reduce__(self):  # picklable, as ConfigError
        return type(self), (self.path, self.reason)


USER_ERROR_STATUS = 2  # the exit status of every user error: bad input, something missing, a write that failed
USER_ERRORS = (ConfigError, MissingArtefactError, StorageError)
