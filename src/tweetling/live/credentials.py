"""Secrets of connected accounts: one JSON file in TWEETLING_HOME that only its owner can read.

Tokens and passwords live here and nowhere else: not in the store, tracking, cards, logs or
messages. A `Secret` prints as asterisks, so one that reaches an f-string or a traceback's
locals shows nothing.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import paths
from ..errors import TweetlingError

FILE_NAME = "credentials.json"


class Secret:
    """A token or password; `reveal()` is the only way to its value."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def credentials_path() -> Path:
    return paths.home() / FILE_NAME


def load(target_key: str) -> dict[str, Secret]:
    """The secrets saved for TARGET_KEY when it was connected."""
    entry = _read().get(target_key)
    if entry is None:
        raise TweetlingError(f"{target_key} is not connected: run `tweetling connect {target_key}` first")
    return {name: Secret(value) for name, value in entry.items()}


def save(target_key: str, secrets: dict[str, Secret]) -> None:
    """Replace TARGET_KEY's secrets (a refreshed session, a new token) in one atomic write."""
    with _locked():
        entries = _read()
        entries[target_key] = {name: secret.reveal() for name, secret in secrets.items() if secret}
        _write(entries)


def delete(target_key: str) -> bool:
    with _locked():
        entries = _read()
        if entries.pop(target_key, None) is None:
            return False
        _write(entries)
        return True


def _read() -> dict[str, dict[str, str]]:
    path = credentials_path()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TweetlingError(f"{path} can be read by other users (mode {stat.S_IMODE(mode):o}): run `chmod 600 {path}`")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TweetlingError(f"{path}: not valid JSON ({type(error).__name__}); connect the accounts again") from None
    if not isinstance(entries, dict):
        raise TweetlingError(f"{path}: expected an object of accounts; connect the accounts again")
    return entries


def _write(entries: dict[str, dict[str, str]]) -> None:
    with paths.atomic_path(credentials_path()) as tmp:  # mkstemp creates it 0600
        os.chmod(tmp, 0o600)
        tmp.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@contextmanager
def _locked() -> Iterator[None]:
    """One writer at a time: a runner refreshing a session must not undo a `connect`."""
    import fcntl

    lock = paths.home() / ".credentials.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
