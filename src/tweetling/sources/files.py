"""Posts from CSV, JSONL and plain-text files, as exported by twint, snscrape, tweepy or by hand.

CSV columns and JSONL fields are matched by the names those tools use; the least a file needs
is a text column (`id,created_at,text` is the documented minimal form). Records without an id
get one derived from a hash of account, record number and text, so importing a file again
updates the same posts instead of adding copies.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .. import limits
from ..errors import InputError, TweetlingError
from ..paths import checked_name
from ..posts import Kind, Post
from . import Fields, is_set, json_type, load_json, parse_date, shown, text_too_long
from .reading import numbered_lines

# Field names per role, in order of preference.
TEXT_FIELDS = ("full_text", "rawContent", "text", "tweet", "content")
ID_FIELDS = ("id_str", "id")
ACCOUNT_FIELDS = ("username", "screen_name", "user_screen_name", "user")
LANG_FIELDS = ("lang", "language")
RETWEET_FIELDS = ("retweeted_status", "retweetedTweet", "retweet", "is_retweet")
REPLY_FIELDS = (
    "in_reply_to_status_id_str",
    "in_reply_to_status_id",
    "in_reply_to_user_id_str",
    "in_reply_to_user_id",
    "in_reply_to_screen_name",
    "inReplyToTweetId",
    "inReplyToUser",
    "reply_to",
    "is_reply",
)
QUOTE_FIELDS = ("quoted_status_id_str", "quoted_status_id", "is_quote_status", "quotedTweet", "quote_url", "is_quote")
# snscrape writes its user object into a CSV cell as a dict repr or a profile URL.
_MAX_LANG_CHARS = 35  # the longest language tag in use (BCP 47)
_PROFILE_URL = re.compile(r"(?:https?://)?(?:www\.|mobile\.)?(?:twitter|x)\.com/", re.IGNORECASE)
_HANDLE_IN_DICT = re.compile(r"""['"](?:username|screen_name)['"]\s*:\s*['"]([^'"]+)['"]""")


def read_csv(path: Path, account: str | None = None, source: str | None = None) -> Iterator[Post]:
    """Yield one Post per CSV row; quoted fields may span lines, a UTF-8 BOM is skipped."""
    # strict: a quote never closed is an error, not one post swallowing the rest of the file
    reader = csv.DictReader((line for _, line in numbered_lines(path, path.name)), strict=True)
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as error:
        raise InputError(f"{path.name}:1", f"unreadable CSV header ({error})") from None
    reader.fieldnames = header
    _check_header(path.name, header, account)
    yield from _posts_from_records(_csv_records(path.name, reader), account, source, "column")


def _check_header(name: str, header: list[str], account: str | None) -> None:
    repeated = next((field for i, field in enumerate(header) if field and field in header[:i]), None)
    if repeated:  # csv.DictReader would keep the last column's values and silently drop the others
        raise InputError(f"{name}:1", f"column '{repeated}' appears twice in the header")
    if not any(field in header for field in TEXT_FIELDS):
        raise InputError(
            f"{name}:1",
            f"no text column in header ({', '.join(header) or 'empty'}); expected 'text' "
            f"(or {', '.join(f for f in TEXT_FIELDS if f != 'text')}), e.g. 'id,created_at,text'",
        )
    if account is None and not any(field in header for field in ACCOUNT_FIELDS):
        raise InputError(f"{name}:1", "no username column to name the account: pass --account NAME")


def _csv_records(name: str, reader: csv.DictReader) -> Iterator[tuple[str, dict[str, Any]]]:
    line = reader.line_num + 1
    try:
        for row in reader:
            where = f"{name}:{line}"
            if None in row:
                raise InputError(
                    where, f"{len(row) - 1 + len(row[None])} values but the header has {len(row) - 1} columns"
                )
            missing = [field for field, value in row.items() if value is None]
            if missing:
                raise InputError(where, f"column '{missing[0]}': missing value (row too short)")
            yield where, row
            line = reader.line_num + 1
    except csv.Error as error:
        if str(error) == "unexpected end of data":
            raise InputError(f"{name}:{line}", "a quoted field starting in this row is never closed") from None
        raise InputError(f"{name}:{line}", f"malformed CSV ({error})") from None


def read_jsonl(path: Path, account: str | None = None, source: str | None = None) -> Iterator[Post]:
    """Yield one Post per JSON object line; blank lines are skipped."""
    yield from _posts_from_records(_jsonl_records(path), account, source, "field")


def _jsonl_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for number, line in _filled_lines(path):
        where = f"{path.name}:{number}"
        record = load_json(line, where, lines=False)
        if not isinstance(record, dict):
            raise InputError(where, "expected a JSON object")
        if limits.too_deep(record, line):  # the store would refuse it, without the line
            raise InputError(where, f"record nested more than {limits.MAX_JSON_DEPTH} levels deep")
        yield where, record


def read_text(path: Path, account: str | None = None, source: str | None = None) -> Iterator[Post]:
    """Yield one Post per non-blank line; ACCOUNT is required as the file names none."""
    if not account:
        raise InputError(path.name, "a text file names no account: pass --account NAME")
    for number, line in _filled_lines(path):
        text = line.strip()
        problem = text_too_long(text)
        if problem:
            raise InputError(f"{path.name}:{number}", problem)
        yield Post(source or "file", derived_id(account, number, text), account, text, kind_from_text(text))


def _filled_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of each non-blank line."""
    return ((number, line) for number, line in numbered_lines(path, path.name) if line.strip())


def _posts_from_records(
    records: Iterable[tuple[str, dict[str, Any]]], account: str | None, source: str | None, word: str
) -> Iterator[Post]:
    """Posts of one account: a record naming another account than the first is an error."""
    first_handle = None
    seen: dict[str, str] = {}  # post id -> where it was
    for number, (where, record) in enumerate(records, start=1):
        fields = Fields(record, where, word=word)
        handle = account or _record_handle(fields)
        if first_handle is None:
            first_handle = handle
        elif handle != first_handle:
            raise InputError(
                where,
                f"{word} '{_first_key(record, ACCOUNT_FIELDS)}': {handle!r} differs "
                f"from {first_handle!r} above; one account per file, or pass --account",
            )
        post = post_from_record(fields, handle, source, number)
        if post.post_id in seen:  # one would overwrite the other in the store
            key = _first_key(record, ID_FIELDS)
            raise InputError(where, f"{word} '{key}': post {post.post_id} repeats the one at {seen[post.post_id]}")
        seen[post.post_id] = where
        yield post


def post_from_record(fields: Fields, account: str, source: str | None, number: int) -> Post:
    """A Post from one CSV row or JSON object."""
    record = fields.data
    text_key = _first_key(record, TEXT_FIELDS)
    if text_key is None or record[text_key] is None:
        fields.missing("text", f" (or {', '.join(TEXT_FIELDS[:2])}, ...)")
    text = fields.text(text_key)
    id_key = _first_key(record, ID_FIELDS)
    if id_key is None:
        post_id, default_source = derived_id(account, number, text), "file"
    else:
        post_id, default_source = fields.id(id_key, "x"), "x"
    lang = _language(fields)
    return Post(
        source or default_source,
        post_id,
        account,
        text,
        _record_kind(record, text),
        _record_date(fields),
        lang,
        record,
    )


def _language(fields: Fields) -> str | None:
    key = _first_key(fields.data, LANG_FIELDS)
    lang = fields.hint(key) if key else None
    return lang if lang is not None and is_set(lang) and len(lang) <= _MAX_LANG_CHARS else None


def derived_id(account: str, number: int, text: str) -> str:
    """A stable id for a record without one: the same file imported again gives the same ids."""
    return hashlib.sha256(f"{account}\n{number}\n{text}".encode()).hexdigest()[:20]


def _first_key(record: dict[str, Any], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in record), None)


def _record_handle(fields: Fields) -> str:
    key = _first_key(fields.data, ACCOUNT_FIELDS)
    if key is None:
        fields.missing("username", ": pass --account NAME")
    value = fields.get(key)
    if isinstance(value, dict):  # tweepy's user object
        user = fields.child(key)
        value = user.string("username") or user.string("screen_name")
    elif not isinstance(value, str):
        fields.fail(key, f"expected a handle, got {json_type(value)}")
    elif found := _HANDLE_IN_DICT.search(value):
        value = found[1]
    handle = (value or "").strip()
    if _PROFILE_URL.match(handle):  # snscrape's profile link: the handle is its last segment
        handle = handle.rstrip("/").rsplit("/", 1)[-1]
    handle = handle.lstrip("@")
    try:
        return checked_name(handle)
    except TweetlingError as error:
        fields.fail(key, str(error))


def _record_date(fields: Fields) -> str | None:
    """created_at, snscrape's date, or twint's date + time (+ timezone)."""
    record = fields.data
    key: str | None
    value: Any
    if is_set(record.get("date")) and is_set(record.get("time")):
        key = "date"
        value = " ".join(str(record[k]) for k in ("date", "time", "timezone") if is_set(record.get(k)))
    else:
        key = _first_key(record, ("created_at", "date"))
        value = record.get(key) if key else None
    if key is None or not is_set(value):
        return None
    try:
        return parse_date(value)
    except ValueError as problem:
        detail = f" ({problem})" if "range" in str(problem) else ""
        fields.fail(key, f"cannot parse date {shown(str(value) if isinstance(value, str) else value, 60)}{detail}")


def _record_kind(record: dict[str, Any], text: str) -> Kind:
    if any(is_set(record.get(field)) for field in RETWEET_FIELDS) or text.startswith("RT @"):
        return "retweet"
    if any(field in record for field in REPLY_FIELDS):
        if any(is_set(record.get(field)) for field in REPLY_FIELDS):
            return "reply"
    elif text.startswith("@"):
        return "reply"
    if any(is_set(record.get(field)) for field in QUOTE_FIELDS):
        return "quote"
    return "original"


def kind_from_text(text: str) -> Kind:
    """The kind a bare text shows: "RT @" starts a retweet, "@" a reply."""
    if text.startswith("RT @"):
        return "retweet"
    return "reply" if text.startswith("@") else "original"
