"""Bots: standard model folders plus `tweetling.json`, the metadata training writes and others read."""

from __future__ import annotations

import json
from pathlib import Path

from . import paths
from .errors import TweetlingError

METADATA_FILE = "tweetling.json"


def default_dir(name: str) -> Path:
    """Where a bot called NAME lives unless told otherwise."""
    return paths.bots_dir() / paths.checked_name(name, "bot name")


def resolve(name_or_path: str | Path) -> Path:
    """A bot folder given as a path, or the folder of a bot name under TWEETLING_HOME/bots."""
    path = Path(name_or_path)
    if (path / "config.json").exists():
        return path
    folder = default_dir(str(name_or_path))
    if not (folder / "config.json").exists():
        raise TweetlingError(f"no bot named {str(name_or_path)!r}; train one with `tweetling train`")
    return folder


def read_metadata(folder: Path) -> dict:
    """The bot's tweetling.json, or {} for a plain model folder."""
    meta_file = Path(folder) / METADATA_FILE
    return json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.exists() else {}


def dataset_folder(meta: dict) -> Path | None:
    """The folder of the dataset the bot was trained on, while it is still on disk."""
    folder = Path(meta.get("dataset", {}).get("path") or "/nonexistent")
    return folder if (folder / "manifest.json").exists() else None


def write_metadata(folder: Path, meta: dict) -> None:
    paths.write_text_atomic(Path(folder) / METADATA_FILE, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
