"""Bluesky: an account's posts and reposts through the public AppView (no login needed).

https://docs.bsky.app/docs/api/app-bsky-feed-get-author-feed — app.bsky.actor.getProfile
resolves the handle, app.bsky.feed.getAuthorFeed pages newest to oldest with a cursor. The
feed has no "newer than" parameter, so an incremental fetch stops at the first known post.
"""

from __future__ import annotations

import re
from typing import Any

from ..consent import tag_signals
from ..errors import ReplyError, SourceError, TweetlingError
from ..posts import Kind, Post, Profile
from . import Fields, is_set, shown, text_too_long
from .http import HttpClient, HttpStatusError, JsonReply, Page, RemoteAccount, server_text

DEFAULT_BASE_URL = "https://public.api.bsky.app"
_HANDLE = re.compile(r"@?((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,62})")
_REPOST_TIME = re.compile(r"[0-9A-Za-z:.+-]{1,64}")  # indexedAt, part of a repost's id
_QUOTE_EMBEDS = ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia")
_REPOST = "app.bsky.feed.defs#reasonRepost"
_LINK = "app.bsky.richtext.facet#link"
# The self-label an account sets to be hidden from logged-out users: an opt-out of being read by tools.
NO_UNAUTHENTICATED = "!no-unauthenticated"
# Error names the AppView returns for accounts it will not show.
_UNAVAILABLE = {
    "AccountTakedown": "is suspended (taken down by the moderators)",
    "AccountDeactivated": "is deactivated",
    "BlockedActor": "blocks or is blocked by the requesting account",
    "BlockedByActor": "blocks the requesting account",
}


def account_name(handle: str) -> str:
    match = _HANDLE.fullmatch(handle.strip())
    if not match:
        raise TweetlingError(f"invalid Bluesky handle {handle!r}: expected a domain like user.bsky.social")
    return match.group(1).lower()


def default_base_url(handle: str) -> str:
    return DEFAULT_BASE_URL


class BlueskySource:
    source = "bluesky"
    page_size = 100  # the API's maximum `limit`
    min_page_size = 1
    filters_newer = False  # no "since" parameter: fetch stops at posts it already has
    history_limit: int | None = None  # an author feed pages back to the first post

    def __init__(self, handle: str, account: str, client: HttpClient):
        self.handle = account_name(handle)
        self.account = account
        self.client = client
        self.did: str | None = None

    def lookup(self) -> RemoteAccount:
        path = "/xrpc/app.bsky.actor.getProfile"
        actor = Fields(self._get(path, {"actor": self.handle}).data, self.client.where(path), ReplyError)
        self.did = actor.id("did", "did")
        profile = Profile(
            name=self.account,
            source=self.source,
            display_name=actor.hint("displayName") or actor.hint("handle"),
            avatar_url=actor.url("avatar"),
            bio=actor.hint("description"),
            source_id=self.did,
        )
        return RemoteAccount(profile, actor.count("postsCount"), opt_outs(actor))

    def is_own_account(self) -> bool:
        return False  # the public AppView is read without a login

    def page(self, cursor: str | None, newer_than: str | None, limit: int) -> Page:
        path = "/xrpc/app.bsky.feed.getAuthorFeed"
        reply = self._get(path, {"actor": self.did or self.handle, "limit": limit, "cursor": cursor})
        where = self.client.where(path)
        feed = Fields(reply.data, where, ReplyError)
        if feed.get("feed") is None:
            feed.missing("feed")
        posts = [self._post(item, where, number) for number, item in enumerate(feed.array("feed"), 1)]
        return Page(posts, feed.string("cursor") if posts else None)

    def _post(self, raw: Any, where: str, number: int) -> Post:
        item = Fields(raw, f"{where}: item {number}", ReplyError)
        if item.get("post") is None:
            item.missing("post")
        uri = item.child("post").id("uri", "bluesky")
        item = Fields(raw, f"{where}: post {uri}", ReplyError)
        post, reason = item.child("post"), item.child("reason")
        if post.get("record") is None:
            post.missing("record")
        record = post.child("record")
        kind: Kind = "original"
        post_id, created_at = uri, record.date("createdAt", keep_unreadable=True)
        if reason.hint("$type") == _REPOST:
            # A repost is its own entry in the account's feed, distinct from the post it shares.
            kind = "retweet"
            indexed = reason.string("indexedAt")
            if reason.get("uri") is not None:
                post_id = reason.id("uri", "bluesky")
            elif indexed and _REPOST_TIME.fullmatch(indexed):
                post_id = f"{uri}#repost-{indexed}"
            else:
                reason.fail("indexedAt", f"expected the time of the repost, got {shown(indexed)}")
            created_at = reason.date("indexedAt", keep_unreadable=True) or created_at
        elif is_set(record.get("reply")):
            kind = "reply"
        elif isinstance(record.get("embed"), dict) and record.child("embed").hint("$type") in _QUOTE_EMBEDS:
            kind = "quote"
        langs = record.get("langs")
        text = expand_links(record.text("text", required=False), record.array("facets"))
        problem = text_too_long(text)
        if problem:
            record.fail("text", problem)
        return Post(
            source=self.source,
            post_id=post_id,
            account=self.account,
            text=text,
            kind=kind,
            created_at=created_at,
            lang=langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None,
            raw=raw,
            content_warning=bool(self_labels(record)),
        )

    def _get(self, path: str, params: dict[str, Any]) -> JsonReply:
        return self.client.get_json(path, params, explain=self._explain)

    def _explain(self, error: HttpStatusError) -> SourceError:
        body = error.body if isinstance(error.body, dict) else {}
        name, message = server_text(body.get("error"), 80), server_text(body.get("message"))
        if name in _UNAVAILABLE:
            return SourceError(f"bluesky: {self.handle} {_UNAVAILABLE[name]} ({name})")
        if error.status == 400 and name == "InvalidRequest":
            return SourceError(f"bluesky: no account {self.handle} ({message or name})")
        if error.status in (401, 403):
            return SourceError(f"bluesky: {self.client.host} requires a login (HTTP {error.status})")
        return SourceError(f"bluesky: {error}{f': {name}: {message}' if name else ''}")


def opt_outs(actor: Fields) -> tuple[str, ...]:
    """The opt-out signals of a Bluesky profile: tags in its name and bio, and the
    !no-unauthenticated label (which asks to be hidden from logged-out readers)."""
    signals = tag_signals([("the display name", actor.hint("displayName")), ("the bio", actor.hint("description"))])
    # A labels field of the wrong shape stops the fetch: an opt-out must not go unread.
    if NO_UNAUTHENTICATED in {label.hint("val") for label in actor.children("labels")}:
        signals.append(f"the {NO_UNAUTHENTICATED} label")
    return tuple(signals)


def self_labels(record: Fields) -> list[str]:
    """The values of the labels a post's author put on it (com.atproto.label.defs#selfLabels):
    content warnings such as "sexual", "nudity" or "graphic-media"."""
    labels = record.get("labels")
    values = labels.get("values") if isinstance(labels, dict) else None
    if not isinstance(values, list):
        return []
    return [v["val"] for v in values if isinstance(v, dict) and isinstance(v.get("val"), str) and v["val"]]


def expand_links(text: str, facets: list[dict[str, Any]]) -> str:
    """Put each link's full URI where the post shows it shortened ("example.com/lo...").

    Facet ranges count UTF-8 bytes, not characters.
    """
    data = text.encode("utf-8", "surrogatepass")
    links = []
    for facet in facets:  # malformed facets (wrong types, ranges outside the text) are skipped
        if not isinstance(facet, dict) or not isinstance(facet.get("features"), list):
            continue
        features = [f for f in facet["features"] if isinstance(f, dict) and f.get("$type") == _LINK]
        uris = [f.get("uri") for f in features if isinstance(f.get("uri"), str)]
        index = facet.get("index")
        start, end = (index.get("byteStart"), index.get("byteEnd")) if isinstance(index, dict) else (None, None)
        if uris and uris[0] and isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(data):
            links.append((start, end, uris[0]))
    limit = len(data)
    for start, end, uri in sorted(links, reverse=True):
        if end <= limit:  # overlapping facets are malformed; keep the later one
            data = data[:start] + uri.encode("utf-8", "surrogatepass") + data[end:]
            limit = start
    return data.decode("utf-8", errors="replace")
