"""Mastodon: an account's public statuses through the instance's REST API (no login needed).

https://docs.joinmastodon.org/methods/accounts/ — lookup, then statuses paged newest to
oldest with the Link header (max_id); since_id asks only for statuses newer than a known one.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

from ..errors import SourceError, TweetlingError
from ..posts import Kind, Post, Profile
from .http import HttpClient, HttpStatusError, JsonReply, Page, RemoteAccount, utc_iso

_HANDLE = re.compile(r"^@?([A-Za-z0-9_][A-Za-z0-9_.-]*)@((?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+)$")


def split_handle(handle: str) -> tuple[str, str]:
    """'@user@instance.social' -> ('user', 'instance.social')."""
    match = _HANDLE.match(handle.strip())
    if not match:
        raise TweetlingError(f"invalid Mastodon handle {handle!r}: expected @user@instance.social")
    return match.group(1), match.group(2).lower()


def account_name(handle: str) -> str:
    user, instance = split_handle(handle)
    return f"{user}@{instance}"


def default_base_url(handle: str) -> str:
    return f"https://{split_handle(handle)[1]}"


class MastodonSource:
    source = "mastodon"
    page_size = 40  # the API's maximum `limit`
    min_page_size = 1
    filters_newer = True  # since_id

    def __init__(self, handle: str, account: str, client: HttpClient, *, has_token: bool = False):
        self.user, self.instance = split_handle(handle)
        self.account = account
        self.client = client
        self.has_token = has_token
        self.account_id: str | None = None

    def lookup(self) -> RemoteAccount:
        data = self._get("/api/v1/accounts/lookup", {"acct": self.user}).data
        try:
            if data.get("suspended"):
                raise SourceError(f"mastodon: @{self.user}@{self.instance} is suspended")
            self.account_id = str(data["id"])
            profile = Profile(
                name=self.account,
                source=self.source,
                display_name=data.get("display_name") or data.get("username"),
                avatar_url=data.get("avatar"),
                bio=html_to_text(data.get("note") or "") or None,
                source_id=self.account_id,
            )
            return RemoteAccount(profile, data.get("statuses_count"))
        except (KeyError, TypeError, AttributeError) as error:
            raise SourceError(f"{self.client.host}: unexpected account lookup reply ({error!r})") from None

    def page(self, cursor: str | None, newer_than: str | None, limit: int) -> Page:
        if self.account_id is None:
            raise RuntimeError("MastodonSource.lookup() must run before page()")
        reply = self._get(
            f"/api/v1/accounts/{self.account_id}/statuses",
            {"limit": limit, "max_id": cursor, "since_id": newer_than},
        )
        if not isinstance(reply.data, list):
            raise SourceError(f"{self.client.host}: statuses reply is not a list")
        try:
            posts = [self._post(status) for status in reply.data]
        except (KeyError, TypeError, AttributeError) as error:
            raise SourceError(f"{self.client.host}: unexpected status in reply ({error!r})") from None
        next_url = reply.links.get("next", {}).get("url")
        next_cursor = httpx.URL(next_url).params.get("max_id") if next_url and posts else None
        return Page(posts, next_cursor)

    def _post(self, status: dict[str, Any]) -> Post:
        shown = status.get("reblog") or status
        kind: Kind = "original"
        if status.get("reblog"):
            kind = "retweet"
        elif status.get("in_reply_to_id"):
            kind = "reply"
        elif status.get("quote"):  # Mastodon 4.4+ quote posts
            kind = "quote"
        return Post(
            source=self.source,
            post_id=str(status["id"]),
            account=self.account,
            text=html_to_text(shown.get("content") or ""),
            kind=kind,
            created_at=utc_iso(status.get("created_at")),
            lang=shown.get("language"),
            raw=status,
        )

    def _get(self, path: str, params: dict[str, Any]) -> JsonReply:
        return self.client.get_json(path, params, explain=self._explain)

    def _explain(self, error: HttpStatusError) -> SourceError:
        who = f"@{self.user}@{self.instance}"
        detail = error.body.get("error") if isinstance(error.body, dict) else None
        if error.status == 404:
            return SourceError(f"mastodon: no account {who} (HTTP 404)")
        if error.status == 410 or (detail and "suspend" in str(detail).lower()):
            return SourceError(f"mastodon: {who} is suspended or gone (HTTP {error.status})")
        if error.status in (401, 403):
            if self.has_token:
                return SourceError(
                    f"mastodon: {self.instance} refused the access token or {who} is private"
                    f" (HTTP {error.status}{': ' + str(detail) if detail else ''})"
                )
            return SourceError(
                f"mastodon: {self.instance} requires an access token for {who}"
                f" (HTTP {error.status}); put one from {self.instance} in an environment variable"
                " and pass --token-env NAME"
            )
        return SourceError(f"mastodon: {error}{': ' + str(detail) if detail else ''}")


class _TextExtractor(HTMLParser):
    """Mastodon's status HTML as the plain text a person typed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._paragraphs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p":
            if self._paragraphs:
                self.parts.append("\n\n")
            self._paragraphs += 1

    def handle_data(self, data: str) -> None:
        # Links keep their text: Mastodon puts the whole URL there, in spans some hidden.
        self.parts.append(data)


def html_to_text(content: str) -> str:
    parser = _TextExtractor()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()
