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

from .. import limits
from ..errors import InputError, TweetlingError
from ..paths import checked_name
from ..posts import Kind, Post, Profile
from . import Fields, is_set
from .reading import check_zip_member, read_file, read_zip_member, starts_with

SOURCE = "x"
_TWEET_PART = re.compile(r"^tweets?(?:-part(\d+))?\.js$")
_REPLY_FIELDS = ("status_id_str", "user_id_str", "status_id", "user_id")
_WRAPPER = re.compile(r"^\s*window\.YTD\.\w+\.part\d+\s*=\s*")
DATA_FILE_STARTS = (b"window.YTD.", b"[")  # what a data file starts with, after blanks
_PEEK_BYTES = 64 * 1024  # as much as read_data looks at
_NOT_A_DATA_FILE_START = "expected 'window.YTD.<name>.part0 = ['"
_NOT_A_DATA_FILE = f"not an archive data file: {_NOT_A_DATA_FILE_START}"


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
        archive = _archive_from_names(
            path.name,
            {p.name: p for p in folder.iterdir() if p.is_file()},
            lambda target, where: lambda: read_file(target, where, DATA_FILE_STARTS, _NOT_A_DATA_FILE),
            prefix=f"{path.name}/data/" if folder != path else f"{path.name}/",
        )
        _check_total(archive, {f.name: p.stat().st_size for f, p in _members(archive, folder)})
        return archive
    if path.is_file():  # a pipe is read once, by read_file: peeking here would lose its first bytes
        if zipfile.is_zipfile(path):  # is_zipfile reads a device such as /dev/zero forever
            return _open_zip(path)
        with open(path, "rb") as handle:
            head = handle.read(_PEEK_BYTES)
        if path.suffix.lower() == ".zip" or head.startswith(b"PK\x03\x04"):
            raise InputError(path.name, "corrupt zip (no zip directory at its end: truncated or not a zip file)")
        if not starts_with(head, DATA_FILE_STARTS):
            raise InputError(path.name, f"not an X archive, nor one of its data files: {_NOT_A_DATA_FILE_START}")
    account, profile = (path.parent / "account.js", path.parent / "profile.js")

    def data_file(file: Path) -> DataFile:
        return DataFile(file.name, lambda: read_file(file, file.name, DATA_FILE_STARTS, _NOT_A_DATA_FILE))

    return Archive(
        path.name,
        [data_file(path)],
        data_file(account) if account.is_file() else None,
        data_file(profile) if profile.is_file() else None,
    )


def _members(archive: Archive, folder: Path) -> list[tuple[DataFile, Path]]:
    files = [*archive.tweet_parts, archive.account, archive.profile]
    return [(f, folder / f.name.rsplit("/", 1)[-1]) for f in files if f is not None]


def _check_total(archive: Archive, sizes: dict[str, int]) -> None:
    """Refuse an archive whose data files add up to more than limits.MAX_ARCHIVE_BYTES, before reading."""
    total = sum(sizes.values())
    if total > limits.MAX_ARCHIVE_BYTES:
        raise InputError(
            archive.name,
            f"its data files hold {limits.size(total)}, more than the {limits.size(limits.MAX_ARCHIVE_BYTES)} one archive may",
        )


def _open_zip(path: Path) -> Archive:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {info.filename: info for info in zf.infolist() if not info.is_dir()}
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise InputError(path.name, f"corrupt zip ({error})") from None
    names = list(infos)
    data_files = [n for n in names if _TWEET_PART.match(n.rsplit("/", 1)[-1]) and "/data/" in f"/{n}"]
    if not data_files:
        raise InputError(path.name, "no data/tweets.js inside: is this an X account archive?")
    folders = sorted({n.rsplit("/", 1)[0] + "/" for n in data_files})
    if len(folders) > 1:  # two accounts' archives zipped together: which to import is the user's call
        shown_folders = ", ".join(folders[:3]) + (", …" if len(folders) > 3 else "")
        raise InputError(path.name, f"holds more than one archive ({shown_folders}): zip or import each on its own")
    folder = folders[0]
    # Members are only ever looked up by name and read into memory, never extracted to disk.
    members = {n[len(folder) :]: n for n in names if n.startswith(folder) and "/" not in n[len(folder) :]}

    def reader(member: str, where: str) -> Callable[[], bytes]:
        return lambda: read_zip_member(path, member, where, DATA_FILE_STARTS, _NOT_A_DATA_FILE)

    archive = _archive_from_names(path.name, members, reader, prefix=f"{path.name}/{folder}")
    by_name = {f"{path.name}/{name}": info for name, info in infos.items()}
    read = [f for f in (*archive.tweet_parts, archive.account, archive.profile) if f is not None]
    for data_file in read:
        check_zip_member(by_name[data_file.name], data_file.name)
    _check_total(archive, {f.name: by_name[f.name].file_size for f in read})
    return archive


def _archive_from_names(
    name: str, members: dict[str, Any], reader: Callable[[Any, str], Callable[[], bytes]], prefix: str
) -> Archive:
    def data_file(member: str) -> DataFile:
        return DataFile(prefix + member, reader(members[member], prefix + member))

    numbered = {m: match[1] for m in members if (match := _TWEET_PART.match(m))}
    parts = sorted(numbered, key=lambda m: (m.startswith("tweets"), int(numbered[m] or 0)))
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
    details = _first_item(archive.account, "account")
    handle = account or details.string("username")
    if not handle:
        where = archive.account.name if archive.account else archive.name
        raise InputError(where, "no account.js with a username beside the tweets: pass --account NAME")
    if not account:
        try:
            checked_name(handle)
        except TweetlingError as error:
            details.fail("username", str(error))
    profile = _first_item(archive.profile, "profile")
    description = profile.get("description")
    avatar = profile.hint("avatarMediaUrl")
    return Profile(
        name=handle,
        source=SOURCE,
        display_name=details.hint("accountDisplayName"),
        # A relative avatar path points into the archive, which may be gone later.
        avatar_url=avatar if avatar and avatar.startswith("https://") else None,
        bio=profile.child("description").hint("bio") if isinstance(description, dict) else None,
        source_id=details.id("accountId", "x") if details.get("accountId") is not None else None,
    )


def _first_item(data_file: DataFile | None, key: str) -> Fields:
    """The KEY object of the first record of DATA_FILE (empty when there is none)."""
    if data_file is None:
        return Fields({}, "")
    items = load_data_file(data_file)
    if not items:
        return Fields({}, data_file.name)
    item = items[0].get(key, items[0]) if isinstance(items[0], dict) else items[0]
    return Fields(item, f"{data_file.name}: record 1")


def load_data_file(data_file: DataFile) -> list[Any]:
    """The JSON array of an archive data file, its `window.YTD... =` wrapper skipped."""
    try:
        text = data_file.read().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(data_file.name, f"not UTF-8 text ({error.reason})") from None
    wrapper = _WRAPPER.match(text)
    start = wrapper.end() if wrapper else 0
    if not wrapper and not text.lstrip().startswith("["):
        raise InputError(data_file.name, _NOT_A_DATA_FILE)
    # Parsing from the offset keeps JSON error positions those of the file, without a copy of it.
    try:
        items, end = json.JSONDecoder().raw_decode(text, start if wrapper else len(text) - len(text.lstrip()))
    except json.JSONDecodeError as error:
        raise InputError(f"{data_file.name}:{error.lineno}", f"invalid JSON ({error.msg})") from None
    except RecursionError:
        raise InputError(data_file.name, "JSON nested too deeply to read") from None
    except ValueError as error:
        raise InputError(data_file.name, f"invalid JSON ({error})") from None
    rest = text[end:]
    if rest.strip().strip(";"):
        line = text.count("\n", 0, end + len(rest) - len(rest.lstrip())) + 1
        raise InputError(f"{data_file.name}:{line}", "invalid JSON (extra data after the array)")
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
    if not isinstance(item, dict):
        raise InputError(where, "expected a tweet object")
    tweet = Fields(item.get("tweet", item), where)
    if tweet.get("id_str") is None and tweet.get("id") is None:
        tweet.missing("id_str")
    post_id = tweet.id("id_str", SOURCE) if tweet.get("id_str") is not None else tweet.id("id", SOURCE)
    text_key = "full_text" if tweet.get("full_text") is not None or tweet.get("text") is None else "text"
    text = tweet.text(text_key)
    return Post(
        SOURCE,
        post_id,
        account,
        text,
        tweet_kind(tweet.data, text),
        tweet.date("created_at"),
        tweet.hint("lang"),
        tweet.data,
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
