"""The embedded SQLite store of accounts and raw posts: nothing downloaded is lost."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import paths
from .posts import Post, Profile

# Each entry migrates the schema from version i to i + 1; never edit one that has shipped.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        display_name TEXT,
        avatar_url TEXT,
        bio TEXT,
        source_id TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE posts (
        source TEXT NOT NULL,
        post_id TEXT NOT NULL,
        account TEXT NOT NULL,
        created_at TEXT,
        text TEXT NOT NULL,
        kind TEXT NOT NULL,
        lang TEXT,
        raw TEXT,
        imported_at TEXT NOT NULL,
        PRIMARY KEY (source, post_id)
    );
    CREATE INDEX posts_account ON posts (account, created_at);
    CREATE TABLE state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class UpsertResult:
    added: int
    updated: int  # known posts whose stored fields changed


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """Accounts, posts and source cursors in one SQLite file (default: TWEETLING_HOME/tweetling.db).

    Writes made inside `transaction()` commit together or not at all; outside one, each
    write method commits on its own.
    """

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else paths.db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self._depth = 0
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in filter(str.strip, script.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:  # nested: the outermost transaction commits
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._depth = 0

    # posts

    def upsert_posts(self, posts: Iterable[Post]) -> UpsertResult:
        """Insert new posts and refresh known ones (same source and post id) in one transaction."""
        added = updated = 0
        now = _now()
        with self.transaction():
            for post in posts:
                row = (
                    post.account,
                    post.created_at,
                    post.text,
                    post.kind,
                    post.lang,
                    json.dumps(post.raw, ensure_ascii=False) if post.raw is not None else None,
                )
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO posts (source, post_id, account, created_at, text, kind,"
                    " lang, raw, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (post.source, post.post_id, *row, now),
                )
                if cursor.rowcount:
                    added += 1
                    continue
                cursor = self.db.execute(
                    "UPDATE posts SET account = ?1, created_at = COALESCE(?2, created_at), text = ?3,"
                    " kind = ?4, lang = COALESCE(?5, lang), raw = COALESCE(?6, raw)"
                    " WHERE source = ?7 AND post_id = ?8 AND (account IS NOT ?1"
                    " OR created_at IS NOT COALESCE(?2, created_at) OR text IS NOT ?3 OR kind IS NOT ?4"
                    " OR lang IS NOT COALESCE(?5, lang) OR raw IS NOT COALESCE(?6, raw))",
                    (*row, post.source, post.post_id),
                )
                updated += cursor.rowcount
        return UpsertResult(added, updated)

    def posts(self, account: str) -> list[Post]:
        """All posts of ACCOUNT, oldest first."""
        rows = self.db.execute(
            "SELECT * FROM posts WHERE account = ? ORDER BY created_at, length(post_id), post_id",
            (account,),
        )
        return [_post_from_row(row) for row in rows]

    def count_posts(self, account: str | None = None) -> int:
        if account is None:
            return self.db.execute("SELECT count(*) FROM posts").fetchone()[0]
        return self.db.execute("SELECT count(*) FROM posts WHERE account = ?", (account,)).fetchone()[0]

    def newest_post(self, source: str, account: str) -> Post | None:
        """The most recent post of ACCOUNT from SOURCE, for incremental fetches."""
        row = self.db.execute(
            "SELECT * FROM posts WHERE source = ? AND account = ?"
            " ORDER BY created_at DESC, length(post_id) DESC, post_id DESC LIMIT 1",
            (source, account),
        ).fetchone()
        return _post_from_row(row) if row else None

    # accounts

    def upsert_account(self, profile: Profile) -> None:
        """Create the account or refresh what is known of it (unknown fields keep their values)."""
        self.db.execute(
            "INSERT INTO accounts (name, source, display_name, avatar_url, bio, source_id, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
            " source = excluded.source,"
            " display_name = COALESCE(excluded.display_name, display_name),"
            " avatar_url = COALESCE(excluded.avatar_url, avatar_url),"
            " bio = COALESCE(excluded.bio, bio),"
            " source_id = COALESCE(excluded.source_id, source_id),"
            " updated_at = excluded.updated_at",
            (
                profile.name,
                profile.source,
                profile.display_name,
                profile.avatar_url,
                profile.bio,
                profile.source_id,
                _now(),
            ),
        )

    def account(self, name: str) -> Profile | None:
        row = self.db.execute("SELECT * FROM accounts WHERE name = ?", (name,)).fetchone()
        return _profile_from_row(row) if row else None

    def accounts(self) -> list[Profile]:
        return [_profile_from_row(r) for r in self.db.execute("SELECT * FROM accounts ORDER BY name")]

    # source cursors (e.g. paging position of an interrupted fetch)

    def get_state(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_state(self, key: str, value: Any) -> None:
        if value is None:
            self.db.execute("DELETE FROM state WHERE key = ?", (key,))
        else:
            self.db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )


def _post_from_row(row: sqlite3.Row) -> Post:
    return Post(
        source=row["source"],
        post_id=row["post_id"],
        account=row["account"],
        text=row["text"],
        kind=row["kind"],
        created_at=row["created_at"],
        lang=row["lang"],
        raw=json.loads(row["raw"]) if row["raw"] else None,
    )


def _profile_from_row(row: sqlite3.Row) -> Profile:
    return Profile(
        name=row["name"],
        source=row["source"],
        display_name=row["display_name"],
        avatar_url=row["avatar_url"],
        bio=row["bio"],
        source_id=row["source_id"],
    )
