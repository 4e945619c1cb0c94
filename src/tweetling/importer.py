"""Import a file of posts into the store: all of it in one transaction, or nothing.

An X archive is the account owner's own export: no opt-out check applies. It holds the
account's whole history up to the moment it was made, so the account's stored X posts missing
from it, up to its newest post, were deleted by their author: they are marked deleted (a newer
archive notices what an older one held). A post newer than the archive's newest is not judged,
as it may have been written after the archive was made.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import limits
from .errors import InputError, TweetlingError
from .paths import checked_name
from .posts import KINDS, Post, Profile
from .provenance import ARCHIVE, FILE, Origin
from .sources.files import TEXT_FIELDS, read_csv, read_jsonl, read_text
from .sources.x_archive import read_archive
from .store import Store

FORMATS = ("auto", "x-archive", "csv", "jsonl", "text")
SOURCES = ("x", "mastodon", "bluesky", "file")
_FORMAT_BY_SUFFIX = {
    ".zip": "x-archive",
    ".js": "x-archive",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "text",
}
_FILE_READERS = {"csv": read_csv, "jsonl": read_jsonl, "text": read_text}


@dataclass(frozen=True)
class ImportResult:
    """What one import did: posts added and updated, and the file's posts counted by kind."""

    account: str
    added: int
    updated: int
    kinds: dict[str, int] = field(default_factory=dict)
    deleted: int = 0  # stored posts missing from this archive, newly marked deleted
    moved_from: dict[str, int] = field(default_factory=dict)  # see UpsertResult

    @property
    def total(self) -> int:
        return self.added + self.updated


def detect_format(path: Path) -> str:
    """The format of PATH from its suffix, else from its first bytes; plain text otherwise."""
    if path.is_dir():
        return "x-archive"
    if path.suffix.lower() in _FORMAT_BY_SUFFIX:
        return _FORMAT_BY_SUFFIX[path.suffix.lower()]
    if not path.is_file():  # a pipe such as <(…): what is peeked at would be lost to the reader
        raise InputError(path.name, "cannot tell the format of a stream: pass --format csv, jsonl, text or x-archive")
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PK\x03\x04"):
        return "x-archive"
    text = head.decode("utf-8", "ignore").lstrip("\ufeff").lstrip()
    if text.startswith("window.YTD"):
        return "x-archive"
    if text.startswith("{"):
        return "jsonl"
    header = {name.strip().strip('"') for name in text.partition("\n")[0].split(",")}
    return "csv" if header & set(TEXT_FIELDS) else "text"


def import_path(
    store: Store, path: Path | str, account: str | None = None, source: str | None = None, fmt: str = "auto"
) -> ImportResult:
    """Import every post of the file at PATH, or none if any record is broken.

    ACCOUNT overrides the account the file names (required when it names none); SOURCE
    overrides the source of CSV, JSONL and text posts ("x" when they carry tweet ids, else "file").
    """
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "no such file or folder")
    if account is not None:
        checked_name(account)
    if source is not None and source not in SOURCES:
        raise TweetlingError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    if fmt not in FORMATS:
        raise TweetlingError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    kinds: Counter[str] = Counter()
    first: list[Post] = []

    def counted(items: Iterable[Post]) -> Iterator[Post]:
        for number, post in enumerate(items, start=1):
            if number > limits.MAX_POSTS_PER_IMPORT:
                raise InputError(
                    path.name, f"more than {limits.MAX_POSTS_PER_IMPORT:,} posts, the most one import may add"
                )
            kinds[post.kind] += 1
            if not first:
                first.append(post)
            yield post

    seen_at = datetime.now(timezone.utc).isoformat()  # to the microsecond: no earlier import used it
    deleted = 0
    try:
        profile, posts = _read(path, account, source, fmt)
        with store.transaction():
            # An archive stamps its posts to find the ones missing from it.
            upserted = store.upsert_posts(counted(posts), seen_at=seen_at if fmt == "x-archive" else None)
            if profile is None:
                if not first:
                    raise InputError(path.name, "no posts found")
                profile = Profile(first[0].account, first[0].source)
                if store.account(profile.name) is None:  # keep what a richer source knows
                    store.upsert_account(profile)
            else:
                store.upsert_account(profile)
            if fmt == "x-archive":
                deleted = store.mark_unseen_deleted("x", profile.name, seen_at, until_newest=True)
            origin_source = profile.source if fmt == "x-archive" or not first else first[0].source
            store.record_origin(profile.name, Origin(origin_source, ARCHIVE if fmt == "x-archive" else FILE))
    except InputError as error:
        if error.where.startswith(path.name):
            raise
        raise InputError(f"{path.name}: {error.where}", error.problem) from None  # the store names only the post
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(path.name, f"cannot read ({error})") from None
    return ImportResult(
        profile.name,
        upserted.added,
        upserted.updated,
        {kind: kinds[kind] for kind in KINDS if kinds[kind]},
        deleted,
        upserted.moved_from,
    )


def _read(path: Path, account: str | None, source: str | None, fmt: str) -> tuple[Profile | None, Iterator[Post]]:
    """The profile the file gives (archives only) and a generator of its posts."""
    if fmt == "x-archive":
        if source not in (None, "x"):
            raise TweetlingError(f"--source {source}: X archive posts are always source 'x'")
        archive = read_archive(path, account)
        return archive.profile, archive.posts
    return None, _FILE_READERS[fmt](path, account, source)
