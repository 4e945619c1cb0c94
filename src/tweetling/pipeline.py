"""The steps a user runs, composed from the modules below: what the CLI and the web app call."""

from __future__ import annotations

from . import track
from .dataset import Dataset, PrepareConfig, prepare
from .store import Store


def prepare_dataset(accounts: list[str], config: PrepareConfig = PrepareConfig(),
                    track_backend: str | None = None) -> Dataset:
    """Clean ACCOUNTS' stored posts into a versioned dataset, recorded once per dataset version."""
    with Store() as store:
        dataset = prepare(store, accounts, config)
    if track.backend_name(track_backend) != "mlflow" or track.prepare_run_id(dataset.manifest) is None:
        track.record_prepare(dataset.manifest, track_backend)
    return dataset
