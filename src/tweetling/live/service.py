"""What posting needs from a service, and the records that cross between the queue and the
service clients (one module per service: mastodon, bluesky, x)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from ..errors import SourceError
from ..sources.http import HttpClient, HttpStatusError, OnWait, RetryPolicy, server_text
from ..terminal import whole_characters
from .compose import plain
from .credentials import Secret

log = logging.getLogger("tweetling")


@dataclass(frozen=True)
class Mention:
    """A post that mentions the bot, as the runner needs it to decide and to reply."""

    notification_id: str  # where polling resumes (Mastodon's notification id, Bluesky's indexedAt + uri)
    post_id: str  # Mastodon status id, Bluesky post URI
    author: str  # acct or handle, to address the reply
    author_is_bot: bool  # the account says it is automated (Mastodon bot flag, Bluesky bot label)
    text: str  # plain text
    created_at: str  # ISO 8601 UTC
    cid: str | None = None  # Bluesky: the post's content id, for the reply reference
    root_id: str | None = None  # Bluesky: the thread's first post, URI and cid
    root_cid: str | None = None
    parent_id: str | None = None  # X: the post it replies to, so the thread walk starts above it
    visibility: str | None = None  # Mastodon: a reply is never more public than the mention
    is_self: bool = False  # the bot's own post
    author_opt_outs: tuple[str, ...] = ()  # opt-out tags on the author's profile, e.g. "#nobot in the bio"

    def __post_init__(self) -> None:
        # Half a UTF-16 pair ("\ud800") from a server: the tokenizer, UTF-8 and SQLite refuse it.
        for name, value in vars(self).items():
            if isinstance(value, str):
                object.__setattr__(self, name, whole_characters(value))
            elif isinstance(value, tuple):
                object.__setattr__(self, name, tuple(whole_characters(v) for v in value))


@dataclass(frozen=True)
class Outgoing:
    """One post as sent: fixed when the intent is recorded, so a retry sends the same request."""

    text: str
    key: str  # Mastodon Idempotency-Key, Bluesky record key, X: where the check starts
    created_at: str  # when the intent was recorded (Bluesky's createdAt)
    visibility: str = "unlisted"
    content_warning: str | None = None
    reply_to: Mention | None = None


@dataclass(frozen=True)
class Sent:
    remote_id: str  # status id, post URI or tweet id ("" when the service did not say which)
    url: str | None = None


def sent(remote_id: object, url: object, service: str) -> Sent:
    """What a service answered to a post it made: an id or URL that is no string (nor a web
    address) is left out with a warning, since the post was made all the same."""
    if not isinstance(remote_id, str) or not remote_id.strip() or len(remote_id) > 500:
        log.warning("%s made the post but answered no usable id: recorded as posted without it", service)
        remote_id = ""
    if url is not None and not (isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) <= 2000):
        log.warning("%s answered a post URL that is no web address: recorded without it", service)
        url = None
    return Sent(whole_characters(remote_id), whole_characters(url) if url else None)


@dataclass(frozen=True)
class Connection:
    """A connected account as the store keeps it (its secrets are in credentials.json)."""

    target: str  # Target.key
    service: str
    handle: str
    base_url: str
    account_id: str | None  # Mastodon account id, Bluesky DID, X user id
    max_chars: int  # in the service's own count
    bot_flag: bool  # the account is marked automated (Mastodon bot flag, Bluesky self-label)
    bio_line: str | None  # the disclosure line added to the profile, if any
    connected_at: str


@dataclass(frozen=True)
class ClientOptions:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    on_wait: OnWait | None = None
    sleep: Callable[[float], None] | None = None


class Service(Protocol):
    """A connected account's client: one per service module."""

    connection: Connection

    def length(self, text: str) -> int: ...

    def status_text(self, post: Outgoing) -> str: ...

    def new_key(self, created_at: str) -> str: ...

    def send(self, post: Outgoing) -> Sent: ...

    def find_sent(self, post: Outgoing) -> Sent | None: ...

    def mentions(self, since: str | None, oldest: str) -> list[Mention]: ...

    def thread_depth(self, mention: Mention, limit: int) -> int: ...

    def close(self) -> None: ...


def open_service(connection: Connection, options: ClientOptions = ClientOptions()) -> Service:
    """The client of CONNECTION's service, with the credentials saved when it was connected."""
    from . import bluesky, mastodon, x

    module = {"mastodon": mastodon, "bluesky": bluesky, "x": x}[connection.service]
    return module.open_account(connection, options)


@dataclass(frozen=True)
class Connected:
    """What connecting an account yields: the record to store, the secrets to keep, and notes
    for the operator (what was disclosed, what they must do by hand)."""

    connection: Connection
    secrets: dict[str, Secret]
    notes: list[str]


class RefusedPost(SourceError):
    """The service refused this post for good (invalid, too long): sending it again cannot help."""


class NoReadAccess(SourceError):
    """The account's keys may post but not read (X's free tier): it cannot answer mentions."""


class DuplicatePost(RefusedPost):
    """The service refuses the text as one it already has (X): a resumed send arrived before."""


def http_client(base_url: str, options: ClientOptions, token: Secret | None = None) -> HttpClient:
    return HttpClient(
        base_url,
        token=token.reveal() if token else None,
        policy=options.retry,
        on_wait=options.on_wait,
        sleep=options.sleep or time.sleep,
    )


def parse_time(value: object) -> datetime:
    """An ISO 8601 time from a service; one it cannot read sorts before every other."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00") if isinstance(value, str) else "")
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def readable_mention(read: Callable[[dict], Mention | None], item: object) -> Mention | None:
    """READ(ITEM), or None for a notification of a shape the service should never send: one
    odd notification must not stop a bot that answers mentions (a restart would meet it again)."""
    if not isinstance(item, dict):
        return None
    try:
        return read(item)
    except (AttributeError, TypeError, KeyError, ValueError) as error:
        log.warning("a notification of an unexpected shape was skipped (%s: %s)", type(error).__name__, error)
        return None


def id_order(post_id: str) -> tuple[int, str]:
    """A sort key for ids that are numbers in strings (Mastodon's, X's): numeric order."""
    return len(post_id), post_id


def error_detail(error: HttpStatusError) -> str:
    """': the service's own words' for an error reply, or '' (never a header, so never a token)."""
    body = error.body if isinstance(error.body, dict) else {}
    parts = [body.get(k) for k in ("error", "error_description", "message", "title", "detail")]
    texts = (server_text(plain(part)) for part in parts if isinstance(part, str))
    text = ": ".join(dict.fromkeys(t for t in texts if t))
    return f": {text[:200]}" if text else ""
