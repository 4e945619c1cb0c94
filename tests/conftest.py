"""Shared fixtures: an isolated TWEETLING_HOME and the real tweet data, when present."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_TWEETS = REPO.parent / "shared" / "data" / "tweets"
SAMPLE_ARCHIVE = REPO / "examples" / "sample-archive.zip"


@pytest.fixture
def tweetling_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TWEETLING_HOME", str(home))
    return home


@pytest.fixture
def shared_tweets() -> Path:
    if not SHARED_TWEETS.exists():
        pytest.skip("../shared/data/tweets is absent")
    return SHARED_TWEETS


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random GPT-2 (2 layers, 32 dims) and its tokenizer; build once per session."""
    from tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def tiny_bot(tiny_model: Path, tweetling_home: Path) -> Path:
    """The bot "jack" (the tiny model as training leaves it) in an isolated TWEETLING_HOME."""
    from tiny_bot import build_tiny_bot

    return build_tiny_bot(tiny_model, tweetling_home / "bots" / "jack")


def store_fingerprint(path: Path) -> tuple[dict[str, int], str]:
    """Row counts per table and a hash of every row of the SQLite store at PATH (read-only)."""
    import hashlib
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        digest = hashlib.sha256()
        counts = {}
        for table in tables:
            rows = db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            counts[table] = len(rows)
            digest.update(repr((table, rows)).encode("utf-8", "surrogatepass"))
        return counts, digest.hexdigest()
    finally:
        db.close()
