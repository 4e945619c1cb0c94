"""Mastodon: an account's public statuses through the instance's REST API (no login needed).

https://docs.joinmastodon.org/methods/accounts/ — lookup, then statuses paged newest to
oldest with the Link header (max_id); since_id asks only for statuses newer than a known one.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

from .. import limits
from ..consent import tag_signals
from ..errors import ReplyError, SourceError, TweetlingError
from ..posts import Kind, Post, Profile
from . import Fields, checked_id, is_set, json_type, shown, text_too_long
from .http import HttpClient, HttpStatusError, JsonReply, Page, RemoteAccount, server_text

# Followers-only ("private") and direct statuses are never stored: only these are public.
PUBLIC_VISIBILITIES = ("public", "unlisted")
_HANDLE = re.compile(r"@?([A-Za-z0-9_][A-Za-z0-9_.-]{0,99})@((?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z0-9-]{1,63})")


def split_handle(handle: str) -> tuple[str, str]:
    """'@user@instance.social' -> ('user', 'instance.social')."""
    match = _HANDLE.fullmatch(handle.strip())
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
    history_limit: int | None = None  # an account's statuses page back to its first one

    def __init__(self, handle: str, account: str, client: HttpClient, *, has_token: bool = False):
        self.user, self.instance = split_handle(handle)
        self.account = account
        self.client = client
        self.has_token = has_token
        self.account_id: str | None = None

    def lookup(self) -> RemoteAccount:
        path = "/api/v1/accounts/lookup"
        account = Fields(self._get(path, {"acct": self.user}).data, self.client.where(path), ReplyError)
        if is_set(account.get("suspended")):
            raise SourceError(f"mastodon: @{self.user}@{self.instance} is suspended")
        self.account_id = account.id("id", "mastodon")
        profile = Profile(
            name=self.account,
            source=self.source,
            display_name=account.hint("display_name") or account.hint("username"),
            avatar_url=account.url("avatar"),
            bio=html_to_text(account.hint("note") or "") or None,
            source_id=self.account_id,
        )
        return RemoteAccount(profile, account.count("statuses_count"), opt_outs(account))

    def is_own_account(self) -> bool:
        if not self.has_token:
            return False
        try:
            reply = self.client.get_json("/api/v1/accounts/verify_credentials")
        except HttpStatusError:  # a token without the read:accounts scope, or an app token
            return False
        return isinstance(reply.data, dict) and reply.data.get("id") == self.account_id

    def page(self, cursor: str | None, newer_than: str | None, limit: int) -> Page:
        if self.account_id is None:
            raise RuntimeError("MastodonSource.lookup() must run before page()")
        path = f"/api/v1/accounts/{self.account_id}/statuses"
        reply = self._get(path, {"limit": limit, "max_id": cursor, "since_id": newer_than})
        where = self.client.where(path)
        if not isinstance(reply.data, list):
            raise ReplyError(where, f"expected an array of statuses, got {json_type(reply.data)}")
        posts = [self._post(status, where, number) for number, status in enumerate(reply.data, 1)]
        public = [post for post in posts if post is not None]
        return Page(public, self._next_cursor(reply, where) if posts else None, not_public=len(posts) - len(public))

    def _next_cursor(self, reply: JsonReply, where: str) -> str | None:
        """The max_id of the Link header's next page."""
        next_url = reply.links.get("next", {}).get("url")
        if not next_url:
            return None
        try:
            max_id = httpx.URL(next_url).params.get("max_id")
            return None if max_id is None else checked_id(max_id, "mastodon")
        except (httpx.InvalidURL, ValueError) as error:
            raise ReplyError(where, f"Link header: unusable next page {shown(next_url, 80)} ({error})") from None

    def _post(self, item: Any, where: str, number: int) -> Post | None:
        """The status as a Post; None when it is not public (then nothing of it is kept)."""
        post_id = Fields(item, f"{where}: item {number}", ReplyError).id("id", "mastodon")
        status = Fields(item, f"{where}: status {post_id}", ReplyError)
        if status.hint("visibility") not in PUBLIC_VISIBILITIES:
            return None
        reblog = status.get("reblog")
        shown_status = status.child("reblog") if reblog else status
        kind: Kind = "original"
        if reblog:
            kind = "retweet"
        elif is_set(status.get("in_reply_to_id")):
            kind = "reply"
        elif is_set(status.get("quote")):  # Mastodon 4.4+ quote posts
            kind = "quote"
        content = shown_status.string("content") or ""
        cap = HTML_PER_TEXT * limits.MAX_POST_CHARS  # parsed only when within it
        if len(content) > cap:
            shown_status.fail("content", f"{len(content):,} characters of HTML, more than the {cap:,} a post may have")
        text = html_to_text(content)
        problem = text_too_long(text)
        if problem:
            shown_status.fail("content", problem)
        return Post(
            source=self.source,
            post_id=post_id,
            account=self.account,
            text=text,
            kind=kind,
            created_at=status.date("created_at", keep_unreadable=True),
            lang=shown_status.hint("language"),
            raw=status.data,
            content_warning=bool(shown_status.hint("spoiler_text")) or shown_status.get("sensitive") is True,
        )

    def _get(self, path: str, params: dict[str, Any]) -> JsonReply:
        return self.client.get_json(path, params, explain=self._explain)

    def _explain(self, error: HttpStatusError) -> SourceError:
        who = f"@{self.user}@{self.instance}"
        detail = server_text(error.body.get("error")) if isinstance(error.body, dict) else None
        if error.status == 404:
            return SourceError(f"mastodon: no account {who} (HTTP 404)")
        if error.status == 410 or (detail and "suspend" in detail.lower()):
            return SourceError(f"mastodon: {who} is suspended or gone (HTTP {error.status})")
        if error.status in (401, 403):
            if self.has_token:
                return SourceError(
                    f"mastodon: {self.instance} refused the access token or {who} is private"
                    f" (HTTP {error.status}{': ' + detail if detail else ''})"
                )
            return SourceError(
                f"mastodon: {self.instance} requires an access token for {who}"
                f" (HTTP {error.status}); put one from {self.instance} in an environment variable"
                " and pass --token-env NAME"
            )
        return SourceError(f"mastodon: {error}{': ' + detail if detail else ''}")


def opt_outs(account: Fields) -> tuple[str, ...]:
    """The opt-out signals of a Mastodon account: tags in its name, bio and profile fields, and
    its noindex and discoverable settings (only an explicit false counts: null is "not chosen")."""
    texts = [("the display name", account.hint("display_name")), ("the bio", html_to_text(account.hint("note") or ""))]
    # Profile fields of the wrong shape stop the fetch: an opt-out must not go unread.
    for row in account.children("fields"):
        texts += [("a profile field", row.hint("name")), ("a profile field", html_to_text(row.hint("value") or ""))]
    signals = tag_signals(texts)
    if account.get("noindex") is True:
        signals.append("noindex: true")
    if account.get("discoverable") is False:
        signals.append("discoverable: false")
    return tuple(signals)


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


# Characters of a status's HTML per character of its text: links and mentions carry much markup.
HTML_PER_TEXT = 4
# A "<" that opens no complete tag (<a b="c" />, </p>): html.parser would rescan what follows it
# to the end, taking quadratic time, and a "<![" trips an AssertionError in Python 3.11.
_STRAY_BRACKET = re.compile(
    r"""<(?!/?[A-Za-z][A-Za-z0-9-]*(?:\s+[^\s<>"'=/]+(?:\s*=\s*(?:"[^"<]*"|'[^'<]*'|[^\s<>"'=`]+))?)*\s*/?>)"""
)


def html_to_text(content: str) -> str:
    parser = _TextExtractor()
    parser.feed(_STRAY_BRACKET.sub("&lt;", content))
    parser.close()
    return "".join(parser.parts).strip()
