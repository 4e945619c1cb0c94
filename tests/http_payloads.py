"""Payloads shaped like the documented replies of Mastodon, Bluesky and X API v2, and small
fake servers (on pytest-httpserver) that page through them the way each service does.

Field names follow the docs: Mastodon Account/Status entities (docs.joinmastodon.org/entities),
Bluesky app.bsky.actor.getProfile and app.bsky.feed.getAuthorFeed (FeedViewPost), and X API v2
GET /2/users/by/username/:username and GET /2/users/:id/tweets (data, includes, meta).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def when(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


class FakeApi:
    """Shared behaviour: records query strings and can answer with injected failures first."""

    def __init__(self, server: HTTPServer):
        self.server = server
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, query) of every request
        self.queued: list[Response] = []  # answered, in order, before any normal reply
        self.broken_cursor: str | None = None  # a page cursor that always answers 500

    def queries(self, path_part: str) -> list[dict[str, str]]:
        return [query for path, query in self.requests if path_part in path]

    def _handle(self, paged: Callable[[Request], Response], cursor_param: str) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            self.requests.append((request.path, dict(request.args)))
            if self.queued:
                return self.queued.pop(0)
            if self.broken_cursor is not None and request.args.get(cursor_param) == self.broken_cursor:
                return Response("upstream failed", status=500)
            return paged(request)

        return handler


# --- Mastodon --------------------------------------------------------------------------------


def mastodon_account(
    id: str = "109",
    username: str = "alice",
    display_name: str = "Alice 🌻",
    note: str = '<p>Writes about <a href="https://social.example/tags/birds" class="mention hashtag">#<span>birds</span></a> &amp; trees</p>',
    statuses_count: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": id,
        "username": username,
        "acct": username,
        "display_name": display_name,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": "2022-11-05T00:00:00.000Z",
        "note": note,
        "url": f"https://social.example/@{username}",
        "uri": f"https://social.example/users/{username}",
        "avatar": f"https://files.social.example/accounts/avatars/{id}/original/a.png",
        "avatar_static": f"https://files.social.example/accounts/avatars/{id}/original/a.png",
        "header": "https://social.example/headers/original/missing.png",
        "header_static": "https://social.example/headers/original/missing.png",
        "followers_count": 10,
        "following_count": 5,
        "statuses_count": statuses_count,
        "last_status_at": "2024-05-01",
        "emojis": [],
        "fields": [],
        **extra,
    }


def mastodon_status(
    id: int,
    content: str | None = None,
    *,
    account: dict[str, Any] | None = None,
    reblog: dict[str, Any] | None = None,
    in_reply_to_id: str | None = None,
    quote: dict[str, Any] | None = None,
    language: str | None = "en",
    spoiler_text: str = "",
    visibility: str = "public",
    sensitive: bool | None = None,
) -> dict[str, Any]:
    account = account or mastodon_account()
    return {
        "id": str(id),
        "created_at": when(id).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "in_reply_to_id": in_reply_to_id,
        "in_reply_to_account_id": "7" if in_reply_to_id else None,
        "sensitive": bool(spoiler_text) if sensitive is None else sensitive,
        "spoiler_text": spoiler_text,
        "visibility": visibility,
        "language": language,
        "uri": f"https://social.example/users/{account['username']}/statuses/{id}",
        "url": f"https://social.example/@{account['username']}/{id}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "edited_at": None,
        "content": "" if reblog else (content if content is not None else f"<p>status number {id}</p>"),
        "reblog": reblog,
        "quote": quote,
        "application": None,
        "account": account,
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": None,
    }


class FakeMastodon(FakeApi):
    """An instance serving one account's statuses, newest first, paged with max_id/since_id and Link.

    OWNER_TOKEN is the access token of the account itself (verify_credentials answers with it).
    """

    def __init__(
        self,
        server: HTTPServer,
        statuses: list[dict[str, Any]],
        account: dict[str, Any] | None = None,
        owner_token: str | None = None,
    ):
        super().__init__(server)
        self.account = account or mastodon_account(statuses_count=len(statuses))
        self.statuses = sorted(statuses, key=lambda s: int(s["id"]), reverse=True)
        self.owner_token = owner_token
        server.expect_request("/api/v1/accounts/lookup").respond_with_handler(self._lookup)
        server.expect_request("/api/v1/accounts/verify_credentials").respond_with_handler(self._verify_credentials)
        server.expect_request(f"/api/v1/accounts/{self.account['id']}/statuses").respond_with_handler(
            self._handle(self._statuses, "max_id")
        )

    def _lookup(self, request: Request) -> Response:
        self.requests.append((request.path, dict(request.args)))
        if request.args.get("acct") != self.account["username"]:
            return json_response({"error": "Record not found"}, 404)
        return json_response(self.account)

    def _verify_credentials(self, request: Request) -> Response:
        self.requests.append((request.path, dict(request.args)))
        if self.owner_token is None or request.headers.get("Authorization") != f"Bearer {self.owner_token}":
            return json_response({"error": "The access token is invalid"}, 401)
        return json_response(self.account)

    def _statuses(self, request: Request) -> Response:
        limit = min(int(request.args.get("limit", 20)), 40)
        max_id, since_id = request.args.get("max_id"), request.args.get("since_id")
        page = [
            s
            for s in self.statuses
            if (max_id is None or int(s["id"]) < int(max_id)) and (since_id is None or int(s["id"]) > int(since_id))
        ][:limit]
        headers = {}
        if page:
            base = self.server.url_for(request.path)
            headers["Link"] = (
                f'<{base}?limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return json_response(page, headers=headers)


# --- Bluesky ---------------------------------------------------------------------------------

DID = "did:plc:z72i7hdynmk6r22z27h6tvur"


def bluesky_author(handle: str = "alice.bsky.social", did: str = DID) -> dict[str, Any]:
    return {
        "did": did,
        "handle": handle,
        "displayName": "Alice",
        "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/bafkreiabc@jpeg",
        "associated": {"chat": {"allowIncoming": "following"}},
        "labels": [],
        "createdAt": "2023-04-12T04:53:57.057Z",
    }


def bluesky_profile(handle: str = "alice.bsky.social", posts_count: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        **bluesky_author(handle),
        "description": "Birds, trees.\nhttps://alice.example",
        "banner": f"https://cdn.bsky.app/img/banner/plain/{DID}/bafkreibanner@jpeg",
        "followersCount": 120,
        "followsCount": 80,
        "postsCount": posts_count,
        "indexedAt": "2024-01-20T05:32:45.277Z",
        "viewer": {"muted": False, "blockedBy": False},
        "pinnedPost": None,
        **extra,
    }


def bluesky_post(
    number: int,
    text: str | None = None,
    *,
    author: dict[str, Any] | None = None,
    reply: bool = False,
    quote: bool = False,
    facets: list[dict[str, Any]] | None = None,
    langs: tuple[str, ...] = ("en",),
    self_labels: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A PostView: at-uri, cid, author, record (app.bsky.feed.post) and counts; SELF_LABELS are
    the author's content warnings (com.atproto.label.defs#selfLabels), also hydrated in `labels`."""
    author = author or bluesky_author()
    created = when(number).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    uri = f"at://{author['did']}/app.bsky.feed.post/3kpost{number:05d}"
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "createdAt": created,
        "langs": list(langs),
        "text": text if text is not None else f"post number {number}",
    }
    if facets:
        record["facets"] = facets
    if self_labels:
        record["labels"] = {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": v} for v in self_labels]}
    if reply:
        parent = {"uri": f"at://did:plc:other/app.bsky.feed.post/3kparent{number}", "cid": "bafyreiparent"}
        record["reply"] = {"root": parent, "parent": parent}
    if quote:
        record["embed"] = {
            "$type": "app.bsky.embed.record",
            "record": {"uri": "at://did:plc:other/app.bsky.feed.post/3kquoted", "cid": "bafyreiquoted"},
        }
    return {
        "uri": uri,
        "cid": f"bafyreicid{number:05d}",
        "author": author,
        "record": record,
        "replyCount": 0,
        "repostCount": 0,
        "likeCount": 1,
        "quoteCount": 0,
        "indexedAt": created,
        "viewer": {},
        "labels": [{"src": author["did"], "uri": uri, "val": v, "cts": created} for v in self_labels],
    }


def bluesky_item(post: dict[str, Any], reposted_at: int | None = None) -> dict[str, Any]:
    """A FeedViewPost; a repost carries a reasonRepost saying who reposted it and when."""
    item: dict[str, Any] = {"post": post}
    if reposted_at is not None:
        item["reason"] = {
            "$type": "app.bsky.feed.defs#reasonRepost",
            "by": bluesky_author(),
            "indexedAt": when(reposted_at).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
    return item


def _sort_at(item: dict[str, Any]) -> str:
    return (item.get("reason") or {}).get("indexedAt") or item["post"]["indexedAt"]


class FakeBluesky(FakeApi):
    """The public AppView: getProfile and getAuthorFeed, newest first, with a timestamp cursor."""

    def __init__(self, server: HTTPServer, items: list[dict[str, Any]], profile: dict[str, Any] | None = None):
        super().__init__(server)
        self.profile = profile or bluesky_profile(posts_count=len(items))
        self.items = sorted(items, key=_sort_at, reverse=True)
        server.expect_request("/xrpc/app.bsky.actor.getProfile").respond_with_handler(self._get_profile)
        server.expect_request("/xrpc/app.bsky.feed.getAuthorFeed").respond_with_handler(
            self._handle(self._feed, "cursor")
        )

    def _get_profile(self, request: Request) -> Response:
        self.requests.append((request.path, dict(request.args)))
        if request.args.get("actor") not in (self.profile["handle"], self.profile["did"]):
            return json_response({"error": "InvalidRequest", "message": "Profile not found"}, 400)
        return json_response(self.profile)

    def _feed(self, request: Request) -> Response:
        limit = min(int(request.args.get("limit", 50)), 100)
        cursor = request.args.get("cursor")
        page = [item for item in self.items if cursor is None or _sort_at(item) < cursor][:limit]
        body: dict[str, Any] = {"feed": page}
        if page:
            body["cursor"] = _sort_at(page[-1])
        return json_response(body)


# --- X API v2 --------------------------------------------------------------------------------


def x_user(id: str = "2244994945", username: str = "alice", tweet_count: int = 0) -> dict[str, Any]:
    return {
        "id": id,
        "name": "Alice",
        "username": username,
        "description": "Birds & trees",
        "profile_image_url": "https://pbs.twimg.com/profile_images/1/alice_normal.jpg",
        "public_metrics": {
            "followers_count": 10,
            "following_count": 5,
            "tweet_count": tweet_count,
            "listed_count": 0,
            "like_count": 3,
        },
    }


def x_tweet(
    id: int,
    text: str | None = None,
    *,
    refs: tuple[tuple[str, str], ...] = (),
    note_text: str | None = None,
    lang: str = "en",
) -> dict[str, Any]:
    tweet: dict[str, Any] = {
        "id": str(id),
        "text": text if text is not None else f"tweet number {id}",
        "created_at": when(id % 100000).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "lang": lang,
        "edit_history_tweet_ids": [str(id)],
    }
    if refs:
        tweet["referenced_tweets"] = [{"type": kind, "id": ref} for kind, ref in refs]
        if any(kind == "replied_to" for kind, _ in refs):
            tweet["in_reply_to_user_id"] = "783214"
    if note_text:
        tweet["note_tweet"] = {"text": note_text}
    return tweet


class FakeXApi(FakeApi):
    """api.x.com/2 under a path prefix: user lookup and the user's tweets with pagination_token."""

    def __init__(
        self,
        server: HTTPServer,
        tweets: list[dict[str, Any]],
        user: dict[str, Any] | None = None,
        token: str = "AAAA-test-token",
        owner: bool = False,
        served: int = 3200,
    ):
        super().__init__(server)
        self.user = user or x_user(tweet_count=len(tweets))
        self.tweets = sorted(tweets, key=lambda t: int(t["id"]), reverse=True)
        self.token = token
        self.owner = owner  # True: TOKEN is a user-context token of the account itself
        self.served = served  # the timeline reaches back only this many posts, as X's 3,200
        server.expect_request("/2/users/me").respond_with_handler(self._authorized(self._me))
        server.expect_request(f"/2/users/by/username/{self.user['username']}").respond_with_handler(
            self._authorized(self._lookup)
        )
        server.expect_request(f"/2/users/{self.user['id']}/tweets").respond_with_handler(
            self._authorized(self._handle(self._timeline, "pagination_token"))
        )

    def _authorized(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def check(request: Request) -> Response:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                self.requests.append((request.path, dict(request.args)))
                return json_response(
                    {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}, 401
                )
            return handler(request)

        return check

    def _lookup(self, request: Request) -> Response:
        self.requests.append((request.path, dict(request.args)))
        return json_response({"data": self.user})

    def _me(self, request: Request) -> Response:
        self.requests.append((request.path, dict(request.args)))
        if not self.owner:  # an app-only bearer token has no user
            return json_response(
                {
                    "title": "Unsupported Authentication",
                    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.",
                    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
                    "status": 403,
                },
                403,
            )
        return json_response(
            {"data": {"id": self.user["id"], "name": self.user["name"], "username": self.user["username"]}}
        )

    def _timeline(self, request: Request) -> Response:
        limit = int(request.args.get("max_results", 10))
        if not 5 <= limit <= 100:
            return json_response(
                {
                    "errors": [
                        {
                            "parameters": {"max_results": [str(limit)]},
                            "message": "The `max_results` query parameter value is not between 5 and 100",
                        }
                    ],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                },
                400,
            )
        since_id = request.args.get("since_id")
        start = int(request.args.get("pagination_token", "t0")[1:])
        matching = [t for t in self.tweets[: self.served] if since_id is None or int(t["id"]) > int(since_id)]
        page = matching[start : start + limit]
        meta: dict[str, Any] = {"result_count": len(page)}
        if not page:
            return json_response({"meta": meta})
        meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if start + limit < len(matching):
            meta["next_token"] = f"t{start + limit}"
        referenced = [
            {"id": ref["id"], "text": f"original {ref['id']}"} for t in page for ref in t.get("referenced_tweets", [])
        ]
        body: dict[str, Any] = {"data": page, "meta": meta}
        if referenced:
            body["includes"] = {"tweets": referenced}
        return json_response(body)
