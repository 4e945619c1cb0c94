"""Where posts come from: one module per source, each yields Post.

The helpers here read the field values every source meets: records whose fields may have any
JSON type (`Fields`), post ids (`checked_id`, the one place ids are validated), dates in the
formats exports use, and flags spelled as booleans, strings or empty containers.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, NoReturn

from .. import limits
from ..errors import InputError, ReplyError

# The X API v1.1 and archive format: "Wed Oct 10 20:19:24 +0000 2018".
_X_DATE = "%a %b %d %H:%M:%S %z %Y"
_UTC_SUFFIX = re.compile(r"\s*(?:Z|UTC|GMT)$", re.IGNORECASE)
_OFFSET = re.compile(r"\s*([+-]\d\d):?(\d\d)$")
_NOT_SET = {"", "0", "false", "none", "null", "nan", "[]", "{}"}

# What each kind of id may look like, as documented by its source. Anything else (a float, a
# list, a path such as "../x") is refused, so an id never changes meaning or escapes a URL path.
ID_FORMATS = {
    "x": re.compile(r"[1-9][0-9]{0,19}"),  # a positive 64-bit integer
    "mastodon": re.compile(r"[0-9A-Za-z]{1,64}"),  # a snowflake, or a Pleroma/GoToSocial flake id
    "bluesky": re.compile(r"at://[A-Za-z0-9._:%-]{1,256}/[A-Za-z0-9.-]{1,128}/[A-Za-z0-9._~:-]{1,512}"),
    "did": re.compile(r"did:[a-z]{1,32}:[A-Za-z0-9._:%-]{1,2048}"),  # a Bluesky account
    "derived": re.compile(r"[0-9a-f]{20}"),  # files.derived_id
}
_ID_DESCRIPTIONS = {
    "x": "a positive integer id",
    "mastodon": "an id of letters and digits",
    "bluesky": "an at:// post URI",
    "did": "a did: identifier",
    "derived": "a derived id",
}


def json_type(value: Any) -> str:
    """The JSON name of VALUE's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def shown(value: Any, width: int = 40) -> str:
    """VALUE for an error message: its repr (control characters escaped), cut to WIDTH."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def checked_id(value: Any, kind: str) -> str:
    """VALUE as an id of KIND (a key of ID_FORMATS); ValueError says what was wrong."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"expected {_ID_DESCRIPTIONS[kind]}, got {json_type(value)} {shown(value)}")
    if not ID_FORMATS[kind].fullmatch(text) or (kind == "x" and int(text) >= 2**64):
        got = shown(value) if isinstance(value, str) else f"{json_type(value)} {shown(value)}"
        raise ValueError(f"expected {_ID_DESCRIPTIONS[kind]}, got {got}")
    return text


def text_too_long(text: str) -> str | None:
    """What is wrong with TEXT as a post's text, if it passes limits.MAX_POST_CHARS."""
    if len(text) <= limits.MAX_POST_CHARS:
        return None
    return f"{len(text):,} characters, more than the {limits.MAX_POST_CHARS:,} a post may have"


def load_json(
    text: str | bytes, where: str, error: type[InputError] | type[ReplyError] = InputError, *, lines: bool = True
) -> Any:
    """Parse TEXT as JSON; malformed or too deeply nested JSON raises ERROR naming WHERE (and, with
    LINES, the line of a syntax error)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as problem:
        raise error(f"{where}:{problem.lineno}" if lines else where, f"invalid JSON ({problem.msg})") from None
    except UnicodeDecodeError as problem:
        raise error(where, f"not UTF-8 text ({problem.reason})") from None
    except RecursionError:
        raise error(where, "JSON nested too deeply to read") from None
    except ValueError as problem:  # e.g. a number of more digits than Python converts
        raise error(where, f"invalid JSON ({problem})") from None


class Fields:
    """One JSON object of a file or a server reply, read field by field.

    A missing or null field reads as None (or as nothing); a field of the wrong type is an ERROR
    naming WHERE and the field, never a value passed on.
    """

    def __init__(
        self,
        data: Any,
        where: str,
        error: type[InputError] | type[ReplyError] = InputError,
        prefix: str = "",
        word: str = "field",
    ):
        if not isinstance(data, dict):
            what = f"{word} '{prefix[:-1]}'" if prefix else "record"
            raise error(where, f"{what}: expected an object, got {json_type(data)}")
        self.data = data
        self.where = where
        self.error = error
        self.prefix = prefix
        self.word = word  # how messages name a key: "field", or "column" in a CSV

    def fail(self, key: str, problem: str) -> NoReturn:
        raise self.error(self.where, f"{self.word} '{self.prefix}{key}': {problem}")

    def missing(self, key: str, hint: str = "") -> NoReturn:
        raise self.error(self.where, f"missing {self.word} '{self.prefix}{key}'{hint}")

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.missing(key)
            return None
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {json_type(value)}")
        return value

    def hint(self, key: str) -> str | None:
        """A descriptive string (language, display name, bio, avatar URL): one of the wrong type,
        or longer than a post may be, is left out rather than refused."""
        value = self.data.get(key)
        return value if isinstance(value, str) and text_too_long(value) is None else None

    def url(self, key: str) -> str | None:
        """A descriptive web address (an avatar): a hint that starts with https:// or http://."""
        value = self.hint(key)
        return value if value and value.startswith(("https://", "http://")) else None

    def text(self, key: str, *, required: bool = True) -> str:
        """A post's text: a string of at most limits.MAX_POST_CHARS characters ("" when not REQUIRED and absent)."""
        value = self.string(key, required=required) or ""
        problem = text_too_long(value)
        if problem:
            self.fail(key, problem)
        return value

    def id(self, key: str, kind: str) -> str:
        """A required id of KIND (see ID_FORMATS)."""
        if self.data.get(key) is None:
            self.missing(key)
        try:
            return checked_id(self.data[key], kind)
        except ValueError as problem:
            self.fail(key, str(problem))

    def date(self, key: str, *, keep_unreadable: bool = False) -> str | None:
        """An optional date as ISO 8601 UTC. KEEP_UNREADABLE keeps a string it cannot read as given
        (servers whose clients write free-form dates); otherwise that is an error too."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        try:
            return parse_date(value)
        except ValueError as problem:
            if keep_unreadable and isinstance(value, str):
                return value
            self.fail(key, f"cannot parse date {shown(value)}{f' ({problem})' if 'range' in str(problem) else ''}")

    def count(self, key: str) -> int | None:
        """A count shown as progress: a non-negative integer (digits in a string too), else None."""
        value = self.data.get(key)
        if isinstance(value, str) and value.strip().isdigit() and len(value) < 20:
            return int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    def child(self, key: str) -> Fields:
        """The object in field KEY (an empty one when missing or null)."""
        value = self.data.get(key)
        return Fields({} if value is None else value, self.where, self.error, f"{self.prefix}{key}.", self.word)

    def array(self, key: str) -> list[Any]:
        """The array in field KEY (empty when missing or null)."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"expected an array, got {json_type(value)}")
        return value

    def children(self, key: str) -> list[Fields]:
        """The objects of the array in field KEY."""
        return [
            Fields(item, self.where, self.error, f"{self.prefix}{key}[{number}].", self.word)
            for number, item in enumerate(self.array(key))
        ]


def parse_date(value: Any) -> str:
    """Return VALUE as ISO 8601 in UTC; naive times are taken as UTC. Raise ValueError if unknown.

    Accepts ISO 8601 ("2018-10-10T20:19:24Z", "2015-11-25 18:29:09", "... +0200", "... UTC"),
    the X format ("Wed Oct 10 20:19:24 +0000 2018") and Unix times in seconds or milliseconds.
    A moment outside years 1 to 9999 once in UTC is out of range.
    """
    if isinstance(value, (bool, dict, list)) or value is None:
        raise ValueError(f"not a date: {json_type(value)}")
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
            seconds = float(text) / (1000 if float(text) > 1e11 else 1)
            moment = datetime.fromtimestamp(seconds, timezone.utc)
        else:
            try:
                moment = datetime.strptime(text, _X_DATE)
            except ValueError:
                iso = _UTC_SUFFIX.sub("+00:00", text)
                iso = _OFFSET.sub(r"\1:\2", iso)  # "+0200" and " +02:00" for Python 3.10
                moment = datetime.fromisoformat(iso)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).isoformat(timespec="seconds")
    except (OverflowError, OSError):
        raise ValueError("out of range") from None


def is_set(value: Any) -> bool:
    """Whether a flag or reference field is present: True, "True", "123", [..] but not "", "[]", "False"."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float, list, dict)):
        return bool(value)
    return str(value).strip().lower() not in _NOT_SET
