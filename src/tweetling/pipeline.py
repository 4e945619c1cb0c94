"""The steps a user runs, composed from the modules below: what the CLI and the web app call."""

from __future__ import annotations

from .dataset import Dataset, PrepareConfig, prepare
from .store import Store


def prepare_dataset(accounts: list[str], config: PrepareConfig = PrepareConfig(),
                    track: str | None = None) -> Dataset:
    """Clean ACCOUNTS' stored posts into a versioned dataset."""
    with Store() as store:
        return prepare(store, accounts, config)
