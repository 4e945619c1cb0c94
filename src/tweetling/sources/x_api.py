"""X API v2: an account's recent posts with an app's bearer token (a paid API; archives are free).

https://docs.x.com/x-api/users/get-posts — user lookup by username, then the user's posts
newest to oldest with pagination_token; since_id asks only for newer posts. The API returns
at most the 3,200 most recent posts of an account.
"""

from __future__ import annotations

import re
from typing import Any

from ..consent import tag_signals
from ..errors import ReplyError, SourceError, TweetlingError
from ..posts import Kind, Post, Profile
from . import Fields
from .http import HttpClient, HttpStatusError, Page, RemoteAccount, server_text

DEFAULT_BASE_URL = "https://api.x.com/2"
TOKEN_ENVS = ("X_BEARER_TOKEN", "TWITTER_BEARER_TOKEN")
_USERNAME = re.compile(r"@?([A-Za-z0-9_]{1,15})")
_TWEET_FIELDS = "created_at,lang,referenced_tweets,in_reply_to_user_id,note_tweet"
_KINDS: dict[str, Kind] = {"retweeted": "retweet", "replied_to": "reply", "quoted": "quote"}
_KIND_ORDER: tuple[Kind, ...] = ("retweet", "reply", "quote")  # a reply that quotes is a reply


def account_name(handle: str) -> str:
    match = _USERNAME.fullmatch(handle.strip())
    if not match:
        raise TweetlingError(f"invalid X username {handle!r}: 1 to 15 letters, digits or _")
    return match.group(1)


def default_base_url(handle: str) -> str:
    return DEFAULT_BASE_URL


class XApiSource:
    source = "x"
    page_size = 100  # the API's maximum max_results
    min_page_size = 5  # ... and its minimum
    filters_newer = True  # since_id
    history_limit: int | None = 3200  # the timeline reaches back to the newest 3,200 posts only

    def __init__(self, handle: str, account: str, client: HttpClient):
        self.username = account_name(handle)
        self.account = account
        self.client = client
        self.user_id: str | None = None

    def lookup(self) -> RemoteAccount:
        path = f"/users/by/username/{self.username}"
        reply = self._get(path, {"user.fields": "name,description,profile_image_url,public_metrics"})
        self._raise_errors(reply)
        user = reply.child("data")
        self.user_id = user.id("id", "x")
        metrics = user.get("public_metrics")
        profile = Profile(
            name=self.account,
            source=self.source,
            display_name=user.hint("name"),
            avatar_url=user.url("profile_image_url"),
            bio=user.hint("description") or None,
            source_id=self.user_id,
        )
        return RemoteAccount(
            profile,
            user.child("public_metrics").count("tweet_count") if isinstance(metrics, dict) else None,
            tuple(tag_signals([("the display name", user.hint("name")), ("the bio", user.hint("description"))])),
        )

    def is_own_account(self) -> bool:
        """Whether the bearer token is a user-context token of this account (an app's token is none)."""
        try:
            reply = self.client.get_json("/users/me")
        except HttpStatusError:  # 403 for app-only tokens
            return False
        data = reply.data.get("data") if isinstance(reply.data, dict) else None
        return isinstance(data, dict) and data.get("id") == self.user_id

    def page(self, cursor: str | None, newer_than: str | None, limit: int) -> Page:
        if self.user_id is None:
            raise RuntimeError("XApiSource.lookup() must run before page()")
        reply = self._get(
            f"/users/{self.user_id}/tweets",
            {
                "max_results": limit,
                "tweet.fields": _TWEET_FIELDS,
                "expansions": "referenced_tweets.id",
                "pagination_token": cursor,
                "since_id": newer_than,
            },
        )
        if reply.get("errors"):  # an empty page has neither data nor errors
            self._raise_errors(reply)
        posts = [self._post(tweet, reply.where, number) for number, tweet in enumerate(reply.array("data"), 1)]
        return Page(posts, reply.child("meta").string("next_token") if posts else None)

    def _post(self, raw: Any, where: str, number: int) -> Post:
        post_id = Fields(raw, f"{where}: item {number}", ReplyError).id("id", "x")
        tweet = Fields(raw, f"{where}: post {post_id}", ReplyError)
        kinds = {_KINDS.get(ref.hint("type") or "") for ref in tweet.children("referenced_tweets")}
        kind: Kind = next((k for k in _KIND_ORDER if k in kinds), "original")
        note = tweet.child("note_tweet")
        return Post(
            source=self.source,
            post_id=post_id,
            account=self.account,
            text=note.text("text") if note.get("text") is not None else tweet.text("text"),
            kind=kind,
            created_at=tweet.date("created_at", keep_unreadable=True),
            lang=tweet.hint("lang"),
            raw=raw,
        )

    def _get(self, path: str, params: dict[str, Any]) -> Fields:
        reply = self.client.get_json(path, params, explain=self._explain)
        return Fields(reply.data, self.client.where(path), ReplyError)

    def _raise_errors(self, body: Fields) -> None:
        """X answers 200 with an `errors` list, and no `data`, for unknown or hidden accounts."""
        if body.get("data"):
            return
        errors = body.get("errors")
        first = errors[0] if isinstance(errors, list) and errors else errors
        if isinstance(first, dict):
            title, detail = server_text(first.get("title")) or "", server_text(first.get("detail")) or ""
        else:  # an error written as a bare string, or none at all
            title, detail = "", server_text(first) or ""
        who = f"@{self.username}"
        if "suspended" in detail.lower():
            raise SourceError(f"x: {who} is suspended")
        if title == "Not Found Error":
            raise SourceError(f"x: no account {who}")
        if title == "Authorization Error":
            raise SourceError(f"x: {who} is protected; only approved followers can see the posts")
        raise SourceError(f"x: unexpected reply for {who}: {' '.join(filter(None, (title, detail))) or 'no data'}")

    def _explain(self, error: HttpStatusError) -> SourceError:
        body = error.body if isinstance(error.body, dict) else {}
        detail = server_text(body.get("detail")) or server_text(body.get("title")) or ""
        if error.status == 401:
            return SourceError(f"x: the API rejected the bearer token (HTTP 401); check {' or '.join(TOKEN_ENVS)}")
        if error.status in (402, 403):
            return SourceError(
                f"x: the token's app may not read this endpoint (HTTP {error.status}"
                f"{': ' + detail if detail else ''}); check its access level at developer.x.com"
            )
        return SourceError(f"x: {error}{': ' + detail if detail else ''}")
