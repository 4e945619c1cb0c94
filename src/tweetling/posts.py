"""The records every source produces and every later step reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["original", "retweet", "reply", "quote"]
KINDS: tuple[str, ...] = ("original", "retweet", "reply", "quote")


@dataclass(frozen=True)
class Post:
    """One raw post as downloaded; nothing is cleaned here."""

    source: str  # "x", "mastodon", "bluesky" or "file"
    post_id: str  # unique within the source
    account: str  # the tweetling account name the post belongs to
    text: str
    kind: Kind = "original"
    created_at: str | None = None  # ISO 8601, UTC
    lang: str | None = None
    raw: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    content_warning: bool = False  # shown behind a content warning (Mastodon spoiler, Bluesky self-label)


@dataclass(frozen=True)
class Profile:
    """What a model card shows about an account."""

    name: str  # tweetling account name (a handle)
    source: str
    display_name: str | None = None
    avatar_url: str | None = None
    bio: str | None = None
    source_id: str | None = None  # the id the source knows the account by
