"""Bluesky: an account's posts and reposts through the public AppView (no login needed).

https://docs.bsky.app/docs/api/app-bsky-feed-get-author-feed — app.bsky.actor.getProfile
resolves the handle, app.bsky.feed.getAuthorFeed pages newest to oldest with a cursor. The
feed has no "newer than" parameter, so an incremental fetch stops at the first known post.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import SourceError, TweetlingError
from ..posts import Kind, Post, Profile
from .http import HttpClient, HttpStatusError, JsonReply, Page, RemoteAccount, utc_iso

DEFAULT_BASE_URL = "https://public.api.bsky.app"
_HANDLE = re.compile(r"^@?((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*)$")
_QUOTE_EMBEDS = ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia")
_REPOST = "app.bsky.feed.defs#reasonRepost"
_LINK = "app.bsky.richtext.facet#link"
# Error names the AppView returns for accounts it will not show.
_UNAVAILABLE = {
    "AccountTakedown": "is suspended (taken down by the moderators)",
    "AccountDeactivated": "is deactivated",
    "BlockedActor": "blocks or is blocked by the requesting account",
    "BlockedByActor": "blocks the requesting account",
}


def account_name(handle: str) -> str:
    match = _HANDLE.match(handle.strip())
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

    def __init__(self, handle: str, account: str, client: HttpClient):
        self.handle = account_name(handle)
        self.account = account
        self.client = client
        self.did: str | None = None

    def lookup(self) -> RemoteAccount:
        data = self._get("/xrpc/app.bsky.actor.getProfile", {"actor": self.handle}).data
        try:
            labels = {label.get("val") for label in data.get("labels") or []}
            if "!no-unauthenticated" in labels:
                raise SourceError(f"bluesky: {self.handle} asked not to be shown to logged-out users; not fetching")
            self.did = data["did"]
            profile = Profile(
                name=self.account,
                source=self.source,
                display_name=data.get("displayName") or data.get("handle"),
                avatar_url=data.get("avatar"),
                bio=data.get("description"),
                source_id=self.did,
            )
            return RemoteAccount(profile, data.get("postsCount"))
        except (KeyError, TypeError, AttributeError) as error:
            raise SourceError(f"{self.client.host}: unexpected getProfile reply ({error!r})") from None

    def page(self, cursor: str | None, newer_than: str | None, limit: int) -> Page:
        reply = self._get(
            "/xrpc/app.bsky.feed.getAuthorFeed",
            {"actor": self.did or self.handle, "limit": limit, "cursor": cursor},
        )
        try:
            items = reply.data["feed"]
            posts = [self._post(item) for item in items]
        except (KeyError, TypeError, AttributeError) as error:
            raise SourceError(f"{self.client.host}: unexpected getAuthorFeed reply ({error!r})") from None
        return Page(posts, reply.data.get("cursor") if posts else None)

    def _post(self, item: dict[str, Any]) -> Post:
        post = item["post"]
        record = post["record"]
        reason = item.get("reason") or {}
        kind: Kind = "original"
        post_id, created_at = post["uri"], record.get("createdAt")
        if reason.get("$type") == _REPOST:
            # A repost is its own entry in the account's feed, distinct from the post it shares.
            kind = "retweet"
            post_id = reason.get("uri") or f"{post['uri']}#repost-{reason.get('indexedAt')}"
            created_at = reason.get("indexedAt") or created_at
        elif record.get("reply"):
            kind = "reply"
        elif (record.get("embed") or {}).get("$type") in _QUOTE_EMBEDS:
            kind = "quote"
        langs = record.get("langs") or []
        return Post(
            source=self.source,
            post_id=post_id,
            account=self.account,
            text=expand_links(record.get("text") or "", record.get("facets") or []),
            kind=kind,
            created_at=utc_iso(created_at),
            lang=langs[0] if langs else None,
            raw=item,
        )

    def _get(self, path: str, params: dict[str, Any]) -> JsonReply:
        return self.client.get_json(path, params, explain=self._explain)

    def _explain(self, error: HttpStatusError) -> SourceError:
        body = error.body if isinstance(error.body, dict) else {}
        name, message = body.get("error"), body.get("message")
        if name in _UNAVAILABLE:
            return SourceError(f"bluesky: {self.handle} {_UNAVAILABLE[name]} ({name})")
        if error.status == 400 and name == "InvalidRequest":
            return SourceError(f"bluesky: no account {self.handle} ({message or name})")
        if error.status in (401, 403):
            return SourceError(f"bluesky: {self.client.host} requires a login (HTTP {error.status})")
        return SourceError(f"bluesky: {error}{f': {name}: {message}' if name else ''}")


def expand_links(text: str, facets: list[dict[str, Any]]) -> str:
    """Put each link's full URI where the post shows it shortened ("example.com/lo...").

    Facet ranges count UTF-8 bytes, not characters.
    """
    data = text.encode("utf-8")
    links = []
    for facet in facets:
        uris = [f.get("uri") for f in facet.get("features") or [] if f.get("$type") == _LINK]
        index = facet.get("index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if uris and uris[0] and isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(data):
            links.append((start, end, uris[0]))
    limit = len(data)
    for start, end, uri in sorted(links, reverse=True):
        if end <= limit:  # overlapping facets are malformed; keep the later one
            data = data[:start] + uri.encode("utf-8") + data[end:]
            limit = start
    return data.decode("utf-8", errors="replace")
