"""The embedded SQLite store of accounts and raw posts: nothing downloaded is lost."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from . import limits, paths
from .errors import InputError, StoreBusyError, TweetlingError
from .posts import Post, Profile
from .provenance import Origin
from .terminal import whole_characters

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


@migration
def m003_data_rights(db: sqlite3.Connection) -> None:
    """Content warnings, deletion marks, how each account's posts came in, and forgotten posts."""
    db.execute("ALTER TABLE posts ADD COLUMN content_warning INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE posts ADD COLUMN deleted_at TEXT")  # when the source stopped returning it
    db.execute("ALTER TABLE posts ADD COLUMN seen_at TEXT")  # the walk or archive that last returned it
    # Posts stored before: Mastodon spoilers and sensitive flags, Bluesky self-labels.
    db.execute(
        "UPDATE posts SET content_warning = 1 WHERE raw IS NOT NULL AND json_valid(raw) AND ("
        " (source = 'mastodon' AND (coalesce(json_extract(raw, '$.spoiler_text'), '') != ''"
        " OR json_extract(raw, '$.sensitive') = 1))"
        " OR (source = 'bluesky' AND json_type(raw, '$.post.record.labels.values') = 'array'"
        " AND json_array_length(raw, '$.post.record.labels.values') > 0))"
    )
    # Only public posts are kept: followers-only and direct statuses a token fetched earlier go.
    db.execute(
        "DELETE FROM posts WHERE source = 'mastodon' AND raw IS NOT NULL AND json_valid(raw)"
        " AND coalesce(json_extract(raw, '$.visibility'), 'public') NOT IN ('public', 'unlisted')"
    )
    db.execute(
        """
        CREATE TABLE origins (
            account TEXT NOT NULL,
            source TEXT NOT NULL,
            how TEXT NOT NULL,
            host TEXT,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            opt_out_checked_at TEXT,
            opt_outs TEXT,
            owner TEXT,
            deletions_checked_at TEXT,
            PRIMARY KEY (account, source, how)
        )"""
    )
    # Ids only: a post forgotten on request is not stored again by a later fetch or import.
    db.execute(
        "CREATE TABLE forgotten (source TEXT NOT NULL, post_id TEXT NOT NULL, account TEXT NOT NULL,"
        " forgotten_at TEXT NOT NULL, PRIMARY KEY (source, post_id))"
    )


def schema_version() -> int:
    return len(MIGRATIONS)


@dataclass(frozen=True)
class UpsertResult:
    added: int
    updated: int  # known posts whose stored fields changed
    forgotten: int = 0  # posts skipped because they were forgotten on request
    moved_from: dict[str, int] = field(default_factory=dict)  # account -> its posts now stored under another


# SQLite's words for a store it cannot use, and what to do about it.
_DAMAGE = {
    "file is not a database": "not a tweetling store: move it aside",
    "database disk image is malformed": "a damaged tweetling store: restore it from a backup or move it aside",
    "unable to open database file": "cannot open the store",
    "attempt to write a readonly database": "the store is read-only",
    "disk I/O error": "cannot read or write the store (is the disk full?)",
    "database or disk is full": "the disk is full",
}
_ACCESS_DENIED = {_DAMAGE["unable to open database file"], _DAMAGE["attempt to write a readonly database"]}


def _access_problem(path: Path) -> str | None:
    """Why SQLite cannot open or write PATH, which its messages do not say; None if not found."""
    if path.is_dir():
        return "it is a folder"
    if not os.access(path.parent, os.W_OK | os.X_OK):  # a read-only file system too
        return f"its folder {path.parent} is not writable, and SQLite keeps its journal there"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "no permission to read and write it"
    return None


@cache
def _expected_tables() -> frozenset[str]:
    """The tables a current store has: those the migrations make."""
    db = sqlite3.connect(":memory:")
    try:
        for step in MIGRATIONS:
            step(db)
        return frozenset(row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    finally:
        db.close()


def moved_note(moved_from: dict[str, int]) -> str:
    """One line on posts that moved from another account (the same post ids), or ''."""
    if not moved_from:
        return ""
    parts = [f"{count:,} from {account}" for account, count in sorted(moved_from.items())]
    return f"posts already stored under another account moved here: {', '.join(parts)}"


def _id_order(post_id: str) -> tuple[int, str]:
    """Ids that are numbers (or fixed-length flake ids) in the order of their values."""
    return len(post_id), post_id


def _is_busy(error: Exception) -> bool:
    return isinstance(error, StoreBusyError) or "locked" in str(error) or "busy" in str(error)


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
        with self._busy_is_an_error():
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout)
        self.db.row_factory = sqlite3.Row
        self._depth = 0
        try:
            with self._busy_is_an_error():
                self._open_in_wal_mode()
                self._check_tables()
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_in_wal_mode(self) -> None:
        """Switch to WAL and migrate, retrying until busy_timeout: processes opening a new store at
        once can deadlock on the switch, and SQLite then answers "locked" at once, without waiting."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                self._migrate()
                return
            except (sqlite3.OperationalError, StoreBusyError) as error:
                if not _is_busy(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

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

    def _check_tables(self) -> None:
        """Refuse a store whose schema version is current but which lacks one of its tables."""
        have = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = sorted(_expected_tables() - have)
        if missing:
            raise TweetlingError(
                f"{self.path}: a damaged tweetling store (table {', '.join(missing)} missing):"
                " restore it from a backup or move it aside"
            )

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
            with self._busy_is_an_error():
                yield
        except BaseException:
            with suppress(sqlite3.OperationalError):  # SQLite has rolled back already after some errors
                self.db.execute("ROLLBACK")
            raise
        else:
            with self._busy_is_an_error():
                self.db.execute("COMMIT")
        finally:
            self._depth = 0

    @contextmanager
    def _busy_is_an_error(self) -> Iterator[None]:
        """SQLite's busy, damage and disk errors as one line naming the store."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            reason = next((why for message, why in _DAMAGE.items() if message in str(error)), None)
            why = _access_problem(self.path) if reason in _ACCESS_DENIED else None
            if why:
                reason = f"{reason}: {why}"
            if reason:
                raise TweetlingError(f"{self.path}: {reason} ({error})") from None
            if not isinstance(error, sqlite3.OperationalError) or not _is_busy(error):
                raise
            raise StoreBusyError(
                f"{self.path} is busy: another tweetling process kept writing to it for"
                f" {self.busy_timeout:g} s; try again when it has finished"
            ) from None

    # posts

    def upsert_posts(self, posts: Iterable[Post], *, seen_at: str | None = None, revive: bool = False) -> UpsertResult:
        """Insert new posts and refresh known ones (same source and post id) in one transaction.

        SEEN_AT stamps every post given (a deletion check compares stamps: `mark_unseen_deleted`);
        REVIVE clears their deletion marks (a live source returning a post shows it exists). Posts
        forgotten on request (`forget_posts`) are skipped.
        """
        added = updated = skipped = 0
        moved_from: Counter[str] = Counter()
        now = _now()
        with self.transaction():
            forgotten = {(row[0], row[1]) for row in self.db.execute("SELECT source, post_id FROM forgotten")}
            for post in posts:
                if forgotten and (post.source, post.post_id) in forgotten:
                    skipped += 1
                    continue
                row: tuple[str | int | None, ...] = (
                    post.account,
                    post.created_at,
                    post.text,
                    post.kind,
                    post.lang,
                    _raw_json(post),
                    int(post.content_warning),
                )
                try:
                    inserted = self._insert_post(post, row, now, seen_at)
                except UnicodeEncodeError:  # a lone UTF-16 surrogate, half an emoji: keep the post, mark the gap
                    row = tuple(_repaired(value) if isinstance(value, str) else value for value in row)
                    inserted = self._insert_post(post, row, now, seen_at)
                if inserted:
                    added += 1
                    continue
                # The same post under another account: an account renamed, or a file imported under
                # the wrong name. The post follows the newest import, and the caller says so.
                holder = self.db.execute(
                    "SELECT account FROM posts WHERE source = ? AND post_id = ?", (post.source, post.post_id)
                ).fetchone()[0]
                if holder != post.account:
                    moved_from[holder] += 1
                cursor = self.db.execute(
                    "UPDATE posts SET account = ?1, created_at = COALESCE(?2, created_at), text = ?3,"
                    " kind = ?4, lang = COALESCE(?5, lang), raw = COALESCE(?6, raw), content_warning = ?7"
                    " WHERE source = ?8 AND post_id = ?9 AND (account IS NOT ?1"
                    " OR created_at IS NOT COALESCE(?2, created_at) OR text IS NOT ?3 OR kind IS NOT ?4"
                    " OR lang IS NOT COALESCE(?5, lang) OR raw IS NOT COALESCE(?6, raw) OR content_warning IS NOT ?7)",
                    (*row, post.source, post.post_id),
                )
                updated += cursor.rowcount
                if seen_at:
                    self.db.execute(
                        "UPDATE posts SET seen_at = ?, deleted_at = CASE WHEN ? THEN NULL ELSE deleted_at END"
                        " WHERE source = ? AND post_id = ?",
                        (seen_at, revive, post.source, post.post_id),
                    )
        return UpsertResult(added, updated, skipped, dict(moved_from))

    def _insert_post(self, post: Post, row: tuple[object, ...], now: str, seen_at: str | None) -> bool:
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO posts (source, post_id, account, created_at, text, kind,"
            " lang, raw, content_warning, imported_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (post.source, post.post_id, *row, now, seen_at),
        )
        return bool(cursor.rowcount)

    def posts(self, account: str, *, include_deleted: bool = False) -> list[Post]:
        """The posts of ACCOUNT, oldest first; those deleted at their source only with INCLUDE_DELETED."""
        rows = self.db.execute(
            "SELECT * FROM posts WHERE account = ?"
            f"{'' if include_deleted else ' AND deleted_at IS NULL'}"
            " ORDER BY created_at, length(post_id), post_id",
            (account,),
        )
        return [_post_from_row(row) for row in rows]

    def count_posts(self, account: str | None = None) -> int:
        """Posts not deleted at their source: of ACCOUNT, or of every account."""
        if account is None:
            return self.db.execute("SELECT count(*) FROM posts WHERE deleted_at IS NULL").fetchone()[0]
        return self.db.execute(
            "SELECT count(*) FROM posts WHERE account = ? AND deleted_at IS NULL", (account,)
        ).fetchone()[0]

    def count_deleted(self, account: str) -> int:
        """Posts of ACCOUNT marked deleted at their source."""
        return self.db.execute(
            "SELECT count(*) FROM posts WHERE account = ? AND deleted_at IS NOT NULL", (account,)
        ).fetchone()[0]

    def mark_unseen_deleted(
        self, source: str, account: str, seen_at: str, *, newest_only: int | None = None, until_newest: bool = False
    ) -> int:
        """Mark deleted the posts of ACCOUNT from SOURCE that the walk or archive stamped SEEN_AT
        did not return, within the window it covered; return how many were newly marked.

        A walk of a source that serves an account's whole history covers every post. One that
        serves only the newest NEWEST_ONLY posts (X: 3,200) and returned that many covers the
        posts from the oldest it returned on: older ones are not judged. UNTIL_NEWEST (an archive,
        made at some past moment) also ends the window at the newest post returned. Both bounds
        compare ids as numbers, as X's grow with time.
        """
        where = "source = ? AND account = ?"
        seen = [
            row[0]
            for row in self.db.execute(
                f"SELECT post_id FROM posts WHERE {where} AND seen_at = ?", (source, account, seen_at)
            )
        ]
        unseen = [
            row[0]
            for row in self.db.execute(
                f"SELECT post_id FROM posts WHERE {where} AND seen_at IS NOT ? AND deleted_at IS NULL",
                (source, account, seen_at),
            )
        ]
        if until_newest and not seen:  # an archive without posts spans no time
            return 0
        if newest_only is not None and len(seen) >= newest_only:
            oldest = min(map(_id_order, seen))
            unseen = [post_id for post_id in unseen if _id_order(post_id) >= oldest]
        if until_newest:
            newest = max(map(_id_order, seen))
            unseen = [post_id for post_id in unseen if _id_order(post_id) <= newest]
        now = _now()
        with self.transaction():
            self.db.executemany(
                "UPDATE posts SET deleted_at = ? WHERE source = ? AND post_id = ?",
                [(now, source, post_id) for post_id in unseen],
            )
        return len(unseen)

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

    # where posts came from

    def record_origin(self, account: str, origin: Origin) -> None:
        """Note that ACCOUNT's posts came in by ORIGIN now; an origin known before keeps its
        first time, and the fields ORIGIN leaves empty keep their values."""
        now = _now()
        checked = origin.opt_out_checked_at is not None
        with self.transaction():
            self.db.execute(
                "INSERT INTO origins (account, source, how, host, first_at, last_at, opt_out_checked_at, opt_outs,"
                " owner, deletions_checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(account, source, how) DO UPDATE SET host = COALESCE(excluded.host, host),"
                " last_at = excluded.last_at,"
                " opt_out_checked_at = CASE WHEN ?11 THEN excluded.opt_out_checked_at ELSE opt_out_checked_at END,"
                " opt_outs = CASE WHEN ?11 THEN excluded.opt_outs ELSE opt_outs END,"
                " owner = CASE WHEN ?11 THEN excluded.owner ELSE owner END,"
                " deletions_checked_at = COALESCE(excluded.deletions_checked_at, deletions_checked_at)",
                (
                    account,
                    origin.source,
                    origin.how,
                    origin.host,
                    now,
                    now,
                    origin.opt_out_checked_at,
                    json.dumps(list(origin.opt_outs)) if checked else None,
                    origin.owner,
                    origin.deletions_checked_at,
                    checked,
                ),
            )

    def origins(self, account: str) -> list[Origin]:
        """How ACCOUNT's posts came in, oldest way first."""
        rows = self.db.execute("SELECT * FROM origins WHERE account = ? ORDER BY first_at, source, how", (account,))
        return [
            Origin(
                source=row["source"],
                how=row["how"],
                host=row["host"],
                first_at=row["first_at"],
                last_at=row["last_at"],
                opt_out_checked_at=row["opt_out_checked_at"],
                opt_outs=tuple(json.loads(row["opt_outs"] or "[]")),
                owner=row["owner"],
                deletions_checked_at=row["deletions_checked_at"],
            )
            for row in rows
        ]

    # forgetting

    def forget_account(self, account: str) -> int:
        """Remove every post of ACCOUNT (text and raw record), its profile, origins and fetch
        state; return how many posts went. The file is rewritten (`compact`) so that the text
        does not linger in it."""
        with self._secure_delete(), self.transaction():
            removed = self.db.execute("DELETE FROM posts WHERE account = ?", (account,)).rowcount
            self.db.execute("DELETE FROM accounts WHERE name = ?", (account,))
            self.db.execute("DELETE FROM origins WHERE account = ?", (account,))
            self.db.execute("DELETE FROM forgotten WHERE account = ?", (account,))
            keys = [row[0] for row in self.db.execute("SELECT key FROM state WHERE key LIKE 'fetch:%'")]
            self.db.executemany(
                "DELETE FROM state WHERE key = ?", [(key,) for key in keys if key.split(":", 2)[-1] == account]
            )
        return removed

    def find_posts(self, account: str, post_ids: Iterable[str]) -> list[tuple[str, str]]:
        """The (source, post id) of ACCOUNT's posts with these ids, from any source; an id that
        names no post of ACCOUNT is an error."""
        found: list[tuple[str, str]] = []
        for post_id in dict.fromkeys(post_ids):
            rows = self.db.execute(
                "SELECT source, post_id FROM posts WHERE account = ? AND post_id = ?", (account, post_id)
            ).fetchall()
            if not rows:
                raise TweetlingError(f"account {account!r} has no post with id {post_id!r} in the store")
            found += [(row[0], row[1]) for row in rows]
        return found

    def deleted_posts(self, account: str) -> list[tuple[str, str]]:
        """The (source, post id) of ACCOUNT's posts marked deleted at their source."""
        rows = self.db.execute(
            "SELECT source, post_id FROM posts WHERE account = ? AND deleted_at IS NOT NULL", (account,)
        )
        return [(row[0], row[1]) for row in rows]

    def forget_posts(self, account: str, keys: Iterable[tuple[str, str]]) -> int:
        """Remove the posts KEYS (source, post id) of ACCOUNT as `forget_account` does, keeping
        only their ids so that no later fetch or import stores them again; return how many went."""
        now = _now()
        removed = 0
        with self._secure_delete(), self.transaction():
            for source, post_id in keys:
                removed += self.db.execute(
                    "DELETE FROM posts WHERE source = ? AND post_id = ? AND account = ?", (source, post_id, account)
                ).rowcount
                self.db.execute(
                    "INSERT OR REPLACE INTO forgotten (source, post_id, account, forgotten_at) VALUES (?, ?, ?, ?)",
                    (source, post_id, account, now),
                )
        return removed

    @contextmanager
    def _secure_delete(self) -> Iterator[None]:
        """Overwrite what the block deletes, then rewrite the file (`compact`)."""
        before = self.db.execute("PRAGMA secure_delete").fetchone()[0]  # some SQLite builds have it on
        self.db.execute("PRAGMA secure_delete = ON")
        try:
            yield
        finally:
            self.db.execute(f"PRAGMA secure_delete = {int(before)}")
        self.compact()

    def compact(self) -> None:
        """Rewrite the file without free space and empty the write-ahead log, so that no deleted
        text lingers in either (leftovers of earlier page splits included)."""
        with self._busy_is_an_error():
            self.db.execute("VACUUM")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
    if limits.too_deep(post.raw, text):
        raise InputError(
            f"{post.source} post {post.post_id}", f"raw record nested more than {limits.MAX_JSON_DEPTH} levels deep"
        )
    return text


def _repaired(value: str | None) -> str | None:
    """VALUE (which may be missing) with its lone UTF-16 surrogates replaced, as SQLite needs."""
    return None if value is None else whole_characters(value)


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
        content_warning=bool(row["content_warning"]),
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
