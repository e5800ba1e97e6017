"""Errors that speak to the user: which key, which value, what is allowed, what to run next."""

from __future__ import annotations

from collections.abc import Iterable


class ConfigError(Exception):
    """A bad config value, found before any work starts.

    The message names the key and the value, then what is allowed and, when known, what to run instead.
    """

    def __init__(self, key: str, value: object, allowed: str | Iterable[object], hint: str | None = None):
        self.key, self.value = key, value
        if not isinstance(allowed, str):
            allowed = ", ".join(str(a) for a in allowed)
        message = f"{key}={value!r} is not valid. Allowed: {allowed}."
        if hint:
            message += f" {hint}"
        super().__init__(message)


class MissingArtefactError(Exception):
    """Something the job needs (data, an original model, weights) is not there; the message says how to get it."""
