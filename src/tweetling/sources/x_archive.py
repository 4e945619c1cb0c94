"""The X (Twitter) account archive: a zip, its extracted folder, or a bare tweets.js.

An archive keeps its data as JavaScript files, each a JSON array behind an assignment such as
`window.YTD.tweets.part0 = [...]`: `data/tweets.js` (more parts as `tweets-part1.js`, ...;
older archives say `tweet.js`), `data/account.js` (handle, display name, id) and
`data/profile.js` (bio, avatar).
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, TweetlingError
from ..paths import checked_name
from ..posts import Kind, Post, Profile
from . import is_set, parse_date

SOURCE = "x"
_TWEET_PART = re.compile(r"^tweets?(?:-part(\d+))?\.js$")
_REPLY_FIELDS = ("status_id_str", "user_id_str", "status_id", "user_id")
_WRAPPER = re.compile(r"^\s*window\.YTD\.\w+\.part\d+\s*=\s*")


@dataclass(frozen=True)
class DataFile:
    """One archive data file: the name errors show and how to read its text."""

    name: str
    read: Callable[[], bytes]


@dataclass(frozen=True)
class Archive:
    """The data files of one archive; account and profile are None when absent."""

    name: str
    tweet_parts: list[DataFile]
    account: DataFile | None
    profile: DataFile | None


@dataclass(frozen=True)
class ArchiveImport:
    """What an archive holds: the account's profile and a generator of its posts."""

    profile: Profile
    posts: Iterator[Post]


def read_archive(path: Path, account: str | None = None) -> ArchiveImport:
    """Open the archive at PATH; ACCOUNT overrides the handle of data/account.js."""
    archive = open_archive(path)
    profile = read_profile(archive, account)
    return ArchiveImport(profile, read_posts(archive, profile.name))


def open_archive(path: Path) -> Archive:
    """Find the data files of a zip, an extracted folder (or its data/) or a bare tweets.js."""
    if path.is_dir():
        folder = path / "data" if (path / "data").is_dir() else path
        return _archive_from_names(
            path.name,
            {p.name: p for p in folder.iterdir() if p.is_file()},
            lambda target: target.read_bytes,
            prefix=f"{path.name}/data/" if folder != path else f"{path.name}/",
        )
    if zipfile.is_zipfile(path):
        return _open_zip(path)
    account, profile = (path.parent / "account.js", path.parent / "profile.js")
    return Archive(
        path.name,
        [DataFile(path.name, path.read_bytes)],
        DataFile(account.name, account.read_bytes) if account.is_file() else None,
        DataFile(profile.name, profile.read_bytes) if profile.is_file() else None,
    )


def _open_zip(path: Path) -> Archive:
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    data_files = [n for n in names if _TWEET_PART.match(n.rsplit("/", 1)[-1]) and "/data/" in f"/{n}"]
    if not data_files:
        raise InputError(path.name, "no data/tweets.js inside: is this an X account archive?")
    folder = data_files[0].rsplit("/", 1)[0] + "/"
    members = {n[len(folder) :]: n for n in names if n.startswith(folder) and "/" not in n[len(folder) :]}

    def reader(member: str) -> Callable[[], bytes]:
        def read() -> bytes:
            with zipfile.ZipFile(path) as zf:
                return zf.read(member)

        return read

    return _archive_from_names(path.name, members, reader, prefix=f"{path.name}/{folder}")


def _archive_from_names(
    name: str, members: dict[str, Any], reader: Callable[[Any], Callable[[], bytes]], prefix: str
) -> Archive:
    def data_file(member: str) -> DataFile:
        return DataFile(prefix + member, reader(members[member]))

    parts = sorted(
        (m for m in members if _TWEET_PART.match(m)),
        key=lambda m: (m.startswith("tweets"), int(_TWEET_PART.match(m).group(1) or 0)),
    )
    if not parts:
        raise InputError(name, "no data/tweets.js found: is this an X account archive?")
    return Archive(
        name,
        [data_file(m) for m in parts],
        data_file("account.js") if "account.js" in members else None,
        data_file("profile.js") if "profile.js" in members else None,
    )


def read_profile(archive: Archive, account: str | None = None) -> Profile:
    """The account's Profile from account.js and profile.js; ACCOUNT (already checked) overrides the handle."""
    details = _first_item(archive.account, "account") if archive.account else {}
    handle = account or details.get("username")
    if not handle:
        where = archive.account.name if archive.account else archive.name
        raise InputError(where, "no account.js with a username beside the tweets: pass --account NAME")
    if not account:
        try:
            checked_name(handle)
        except TweetlingError as error:
            raise InputError(archive.account.name, f"field 'username': {error}") from None
    profile = _first_item(archive.profile, "profile") if archive.profile else {}
    avatar = profile.get("avatarMediaUrl")
    return Profile(
        name=handle,
        source=SOURCE,
        display_name=details.get("accountDisplayName"),
        # A relative avatar path points into the archive, which may be gone later.
        avatar_url=avatar if isinstance(avatar, str) and avatar.startswith("https://") else None,
        bio=(profile.get("description") or {}).get("bio"),
        source_id=details.get("accountId"),
    )


def _first_item(data_file: DataFile, key: str) -> dict[str, Any]:
    items = load_data_file(data_file)
    if not items or not isinstance(items[0], dict):
        return {}
    item = items[0].get(key, items[0])
    return item if isinstance(item, dict) else {}


def load_data_file(data_file: DataFile) -> list[Any]:
    """The JSON array of an archive data file, its `window.YTD... =` wrapper removed."""
    try:
        text = data_file.read().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(data_file.name, f"not UTF-8 text ({error.reason})") from None
    wrapper = _WRAPPER.match(text)
    if wrapper:  # blank it out in place so JSON error positions still match the file
        text = re.sub(r"[^\n]", " ", wrapper.group()) + text[wrapper.end() :]
    elif not text.lstrip().startswith("["):
        raise InputError(data_file.name, "not an archive data file: expected 'window.YTD.<name>.part0 = ['")
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{data_file.name}:{error.lineno}", f"invalid JSON ({error.msg})") from None
    if not isinstance(items, list):
        raise InputError(data_file.name, "expected a JSON array of records")
    return items


def read_posts(archive: Archive, account: str) -> Iterator[Post]:
    """Yield every tweet of every tweets part as a Post of ACCOUNT."""
    for part in archive.tweet_parts:
        for number, item in enumerate(load_data_file(part), start=1):
            yield post_from_tweet(item, account, f"{part.name}: record {number}")


def post_from_tweet(item: Any, account: str, where: str) -> Post:
    """A Post from one archive record, `{"tweet": {...}}` or the bare tweet object."""
    tweet = item.get("tweet", item) if isinstance(item, dict) else None
    if not isinstance(tweet, dict):
        raise InputError(where, "expected a tweet object")
    post_id = tweet.get("id_str") or tweet.get("id")
    if not is_set(post_id):
        raise InputError(where, "missing field 'id_str'")
    text = tweet.get("full_text", tweet.get("text"))
    if not isinstance(text, str):
        raise InputError(where, "missing field 'full_text'")
    created_at = tweet.get("created_at")
    if created_at is not None:
        try:
            created_at = parse_date(created_at)
        except ValueError:
            raise InputError(where, f"field 'created_at': cannot parse date {created_at!r}") from None
    lang = tweet.get("lang")
    return Post(
        SOURCE,
        str(post_id),
        account,
        text,
        tweet_kind(tweet, text),
        created_at,
        lang if isinstance(lang, str) else None,
        tweet,
    )


def tweet_kind(tweet: dict[str, Any], text: str) -> Kind:
    """Retweet, reply (a thread's reply to oneself too), quote, or original, in that precedence."""
    if "retweeted_status" in tweet or text.startswith("RT @"):
        return "retweet"
    if any(is_set(tweet.get(f"in_reply_to_{field}")) for field in _REPLY_FIELDS):
        return "reply"
    if is_set(tweet.get("is_quote_status")) or is_set(tweet.get("quoted_status_id_str")):
        return "quote"
    return "original"
