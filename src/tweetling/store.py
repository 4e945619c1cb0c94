"""The embedded SQLite store of accounts and raw posts: nothing downloaded is lost."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import limits, paths
from .errors import InputError, StoreBusyError, TweetlingError
from .posts import Post, Profile

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(function: Migration) -> Migration:
    """Register FUNCTION as the next schema migration; its name must be mNNN_what for version NNN.

    Migrations run in order, each in the transaction that sets PRAGMA user_version to its number,
    one statement per execute (executescript would commit the transaction half-way). To change the
    schema, add the next one at the end of this list; never edit one that has shipped.
    """
    expected = f"m{len(MIGRATIONS) + 1:03d}_"
    if not function.__name__.startswith(expected):
        raise RuntimeError(f"migration {function.__name__} must be named {expected}...: migrations run in order")
    MIGRATIONS.append(function)
    return function


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE accounts (
            name TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            display_name TEXT,
            avatar_url TEXT,
            bio TEXT,
            source_id TEXT,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """
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
        )"""
    )
    db.execute("CREATE INDEX posts_account ON posts (account, created_at)")
    db.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migration
def m002_live(db: sqlite3.Connection) -> None:
    """Bots that post (tweetling.live): the connected accounts (their secrets stay in
    credentials.json) and the queue of drafts, with each send's intent and result."""
    db.execute(
        """
        CREATE TABLE connections (
            target TEXT PRIMARY KEY,
            service TEXT NOT NULL,
            handle TEXT NOT NULL,
            base_url TEXT NOT NULL,
            account_id TEXT,
            max_chars INTEGER NOT NULL,
            bot_flag INTEGER NOT NULL,
            bio_line TEXT,
            connected_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE drafts (
            id INTEGER PRIMARY KEY,
            bot TEXT NOT NULL,
            target TEXT,
            text TEXT NOT NULL,
            status TEXT NOT NULL,
            prompt TEXT,
            reply_to TEXT,
            reply_key TEXT,
            note TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            send_target TEXT,
            send_key TEXT,
            send_started_at TEXT,
            remote_id TEXT,
            remote_url TEXT,
            posted_at TEXT
        )"""
    )
    db.execute("CREATE INDEX drafts_queue ON drafts (bot, status, id)")
    db.execute("CREATE UNIQUE INDEX drafts_reply ON drafts (bot, reply_key)")


def schema_version() -> int:
    return len(MIGRATIONS)


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

    def __init__(self, path: Path | str | None = None, *, busy_timeout: float | None = None):
        self.path = Path(path) if path else paths.db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A write waits this long for another process's write (an import, a fetch, the web app).
        self.busy_timeout = limits.BUSY_TIMEOUT_S if busy_timeout is None else busy_timeout
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout)
        self.db.row_factory = sqlite3.Row
        self._depth = 0
        try:
            with self._busy_is_an_error():
                self.db.execute("PRAGMA journal_mode=WAL")
                self._migrate()
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        """Bring the schema up to date under the write lock, so two processes creating the same
        new store both succeed: the second finds the version the first wrote."""
        if self.db.execute("PRAGMA user_version").fetchone()[0] == schema_version():
            return
        with self.transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > schema_version():
                raise TweetlingError(
                    f"{self.path} has schema version {version}, newer than this tweetling's"
                    f" {schema_version()}: upgrade tweetling"
                )
            for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
                step(self.db)
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
        with self._busy_is_an_error():
            self.db.execute("BEGIN IMMEDIATE")  # takes the write lock now, waiting up to busy_timeout
        self._depth = 1
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            with self._busy_is_an_error():
                self.db.execute("COMMIT")
        finally:
            self._depth = 0

    @contextmanager
    def _busy_is_an_error(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            raise StoreBusyError(
                f"{self.path} is busy: another tweetling process kept writing to it for"
                f" {self.busy_timeout:g} s; try again when it has finished"
            ) from None

    # posts

    def upsert_posts(self, posts: Iterable[Post]) -> UpsertResult:
        """Insert new posts and refresh known ones (same source and post id) in one transaction."""
        added = updated = 0
        now = _now()
        with self.transaction():
            for post in posts:
                row: tuple[str | None, ...] = (
                    post.account,
                    post.created_at,
                    post.text,
                    post.kind,
                    post.lang,
                    _raw_json(post),
                )
                try:
                    inserted = self._insert_post(post, row, now)
                except UnicodeEncodeError:  # a lone UTF-16 surrogate, half an emoji: keep the post, mark the gap
                    row = tuple(_repaired(value) for value in row)
                    inserted = self._insert_post(post, row, now)
                if inserted:
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

    def _insert_post(self, post: Post, row: tuple[str | None, ...], now: str) -> bool:
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO posts (source, post_id, account, created_at, text, kind,"
            " lang, raw, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (post.source, post.post_id, *row, now),
        )
        return bool(cursor.rowcount)

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
        values = (
            profile.name,
            profile.source,
            _repaired(profile.display_name),
            _repaired(profile.avatar_url),
            _repaired(profile.bio),
            _repaired(profile.source_id),
            _now(),
        )
        with self.transaction():
            self.db.execute(
                "INSERT INTO accounts (name, source, display_name, avatar_url, bio, source_id, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
                " source = excluded.source,"
                " display_name = COALESCE(excluded.display_name, display_name),"
                " avatar_url = COALESCE(excluded.avatar_url, avatar_url),"
                " bio = COALESCE(excluded.bio, bio),"
                " source_id = COALESCE(excluded.source_id, source_id),"
                " updated_at = excluded.updated_at",
                values,
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
        with self.transaction():
            if value is None:
                self.db.execute("DELETE FROM state WHERE key = ?", (key,))
            else:
                self.db.execute(
                    "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value)),
                )


def _raw_json(post: Post) -> str | None:
    """The post's raw record as JSON; one nested deeper than limits.MAX_JSON_DEPTH is refused, so
    that every stored record can be read back wherever it is read."""
    if post.raw is None:
        return None
    try:
        text = json.dumps(post.raw, ensure_ascii=False)
    except (RecursionError, ValueError, TypeError) as error:
        raise InputError(f"{post.source} post {post.post_id}", f"raw record cannot be stored ({error})") from None
    # Nesting needs an opening bracket per level: counting them is a cheap test that spares the walk.
    if text.count("{") + text.count("[") > limits.MAX_JSON_DEPTH and _depth(post.raw) > limits.MAX_JSON_DEPTH:
        raise InputError(
            f"{post.source} post {post.post_id}", f"raw record nested more than {limits.MAX_JSON_DEPTH} levels deep"
        )
    return text


def _depth(value: Any) -> int:
    """How deeply VALUE's containers nest (without recursion, so any depth can be measured)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _repaired(value: str | None) -> str | None:
    """VALUE with each lone UTF-16 surrogate (which UTF-8 cannot hold) replaced by U+FFFD; a pair
    split in two is joined back into its character."""
    if value is None or value.isascii():
        return value
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


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
