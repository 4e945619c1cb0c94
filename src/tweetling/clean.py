"""Cleaning rules and the data table; the defaults reproduce huggingtweets exactly."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields

from .errors import InsufficientDataError, TweetlingError
from .posts import Post
from .terminal import terminal_safe

# huggingtweets' thresholds, in characters of kept text per account.
MIN_CHARS = 6_000
WARN_CHARS = 40_000

_URL = re.compile(r"\s?https?:\S+")
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w+)+\s*")
_BORING_MARKS = ("http", "@", "#")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")  # BCP 47, as the services write them
_ISO_DATE = re.compile(r"\d{4}-\d\d-\d\dT")


@dataclass(frozen=True)
class CleanOptions:
    """What to keep and how to clean it. Defaults match huggingtweets."""

    keep_replies: bool = True  # huggingtweets kept replies
    strip_reply_mentions: bool = False  # drop the leading "@a @b" of replies
    keep_newlines: bool = False  # huggingtweets joined lines with spaces
    drop_duplicates: bool = False  # drop exact repeats of an already kept post
    languages: tuple[str, ...] = ()  # keep only these languages (posts without one are kept)
    include_cw: bool = False  # keep posts shown behind a content warning (left out by default)

    def __post_init__(self) -> None:
        bad = next((code for code in self.languages if not _LANGUAGE_TAG.fullmatch(code)), None)
        if bad is not None:
            raise TweetlingError(f"invalid language code {bad[:40]!r}: expected one like en, pt-BR or zh-Hant")
        object.__setattr__(self, "languages", tuple(code.lower() for code in self.languages))

    def to_dict(self) -> dict:
        return {**asdict(self), "languages": list(self.languages)}

    @classmethod
    def from_dict(cls, data: dict) -> CleanOptions:
        """Options as `to_dict` wrote them; keys of options this version does not have are left out."""
        known = _known_fields(cls, data)
        return cls(**{**known, "languages": tuple(known.get("languages", ()))})


@dataclass
class Table:
    """The per-account counts of huggingtweets' model card, plus one row per option turned on."""

    downloaded: int = 0
    retweets: int = 0
    content_warnings: int = 0  # posts behind a content warning, left out (a row only when some were)
    replies: int | None = None  # dropped replies, when keep_replies is off
    other_language: int | None = None
    short: int = 0
    duplicates: int | None = None
    kept: int = 0
    kept_chars: int = 0

    def rows(self) -> list[tuple[str, int]]:
        """(label, count) in the order huggingtweets shows them, options included when on."""
        labels = [
            ("Posts downloaded", self.downloaded),
            ("Retweets", self.retweets),
            ("Content warnings", self.content_warnings or None),
            ("Replies dropped", self.replies),
            ("Other languages", self.other_language),
            ("Short posts", self.short),
            ("Duplicates", self.duplicates),
            ("Posts kept", self.kept),
        ]
        return [(label, count) for label, count in labels if count is not None]

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict) -> Table:
        """Counts as `to_dict` wrote them; counts this version does not keep are left out."""
        return cls(**_known_fields(cls, data))


def data_table(tables: Mapping[str, Table]) -> list[tuple[str, list[int]]]:
    """huggingtweets' data table with one column per account, as (label, counts) rows; a row that
    only some accounts have (an option counted for part of a blend) shows 0 for the others."""
    labels = dict.fromkeys(label for table in tables.values() for label, _ in table.rows())
    return [(label, [dict(table.rows()).get(label, 0) for table in tables.values()]) for label in labels]


def _known_fields(cls, data: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}


@dataclass
class Cleaned:
    """The kept texts of one account and how every downloaded post was accounted for."""

    account: str
    texts: list[str] = field(default_factory=list)
    post_ids: list[str] = field(default_factory=list)  # "source:post_id" of each kept text
    table: Table = field(default_factory=Table)
    first_post: str | None = None  # the date of the oldest kept post (ISO 8601)
    last_post: str | None = None  # ... and of the newest


def fix_text(text: str) -> str:
    """Undo the HTML escaping of post texts (&amp; &lt; &gt; and the rest)."""
    return html.unescape(text)


def strip_urls(text: str) -> str:
    return _URL.sub("", text)


def clean_text(text: str, keep_newlines: bool = False) -> str:
    """huggingtweets' clean_tweet: remove URLs, squeeze spaces, join lines unless kept."""
    # Escape sequences, controls and bidi overrides: the store keeps them as downloaded, but a
    # bot must not learn them, nor write them to a terminal or a post.
    text = strip_urls(terminal_safe(text, " "))
    text = re.sub(" +", " ", text)
    if keep_newlines:
        text = "\n".join(line.strip() for line in text.splitlines())
        text = re.sub(r"\n{3,}", "\n\n", text)
    else:
        text = " ".join(text.split())
    return text.strip()


def is_retweet(post: Post) -> bool:
    return post.kind == "retweet" or post.text.startswith("RT @")


def is_short(text: str) -> bool:
    """huggingtweets' boring_tweet: fewer than 3 words free of http, @ and #."""
    plain_words = [w for w in text.split() if not any(mark in w.lower() for mark in _BORING_MARKS)]
    return len(plain_words) < 3


def strip_leading_mentions(text: str) -> str:
    return _LEADING_MENTIONS.sub("", text)


def clean_posts(account: str, posts: Iterable[Post], options: CleanOptions = CleanOptions()) -> Cleaned:
    """Apply the rules to one account's posts, counting each post where it was dropped."""
    table = Table(
        replies=None if options.keep_replies else 0,
        other_language=0 if options.languages else None,
        duplicates=0 if options.drop_duplicates else None,
    )
    result = Cleaned(account, table=table)
    seen: set[str] = set()
    for post in posts:
        table.downloaded += 1
        if is_retweet(post):
            table.retweets += 1
            continue
        if post.content_warning and not options.include_cw:
            table.content_warnings += 1
            continue
        if post.kind == "reply" and not options.keep_replies:
            table.replies = (table.replies or 0) + 1  # counted only with the option on
            continue
        if options.languages and post.lang and post.lang.lower() not in options.languages:
            table.other_language = (table.other_language or 0) + 1
            continue
        text = fix_text(post.text)
        if options.strip_reply_mentions and post.kind == "reply":
            text = strip_leading_mentions(text)
        if is_short(text):
            table.short += 1
            continue
        text = clean_text(text, options.keep_newlines)
        if options.drop_duplicates:
            if text in seen:
                table.duplicates = (table.duplicates or 0) + 1
                continue
            seen.add(text)
        result.texts.append(text)
        result.post_ids.append(f"{post.source}:{post.post_id}")
        if post.created_at and _ISO_DATE.match(post.created_at):  # servers' free-form dates are not compared
            result.first_post = min(result.first_post or post.created_at, post.created_at)
            result.last_post = max(result.last_post or post.created_at, post.created_at)
    table.kept = len(result.texts)
    table.kept_chars = sum(len(text) for text in result.texts)
    return result


def check_sufficient(cleaned: Cleaned) -> str | None:
    """Raise when an account has too little text to train on; return a warning when it is thin."""
    chars = cleaned.table.kept_chars
    if chars < MIN_CHARS:
        raise InsufficientDataError(
            f"account {cleaned.account!r} has {chars:,} characters of kept text "
            f"({cleaned.table.kept} posts); at least {MIN_CHARS:,} are needed to train"
        )
    if chars < WARN_CHARS:
        return (
            f"account {cleaned.account!r} has only {chars:,} characters of kept text "
            f"({cleaned.table.kept} posts); {WARN_CHARS:,} or more give better bots"
        )
    return None
