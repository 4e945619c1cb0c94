"""Fake Mastodon, Bluesky (a PDS) and X API v2 servers that a bot posts to, on pytest-httpserver.

They follow the documented requests and replies: Mastodon's /api/v1/apps, /oauth/token,
verify_credentials, update_credentials, /api/v2/instance, /api/v1/statuses (Idempotency-Key),
notifications and status context; Bluesky's createSession, refreshSession, getRecord,
putRecord, listNotifications and getPostThread (errors as {"error", "message"}, ExpiredToken
with HTTP 400); X's /2/users/me, POST /2/tweets (403 for a duplicate text), the user timeline, mentions,
tweet lookup and /2/oauth2/token. Each keeps what it was sent, so tests assert the exact requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar
from urllib.parse import quote, unquote

import regex
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from http_payloads import json_response, mastodon_account, mastodon_status


def status_of(number: int, content: str, account: dict, **fields: Any) -> dict:
    """A Mastodon Status with a real-sized id, written now unless FIELDS say otherwise."""
    status = mastodon_status(1, content, account=account)
    status.update(
        id=str(number),
        uri=f"https://botsin.space/users/{account['username']}/statuses/{number}",
        url=f"https://botsin.space/@{account['username']}/{number}",
        created_at=iso(datetime.now(timezone.utc)),
    )
    status.update(fields)
    return status


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ago(minutes: float) -> str:
    return iso(datetime.now(timezone.utc) - timedelta(minutes=minutes))


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    args: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, str]
    json: Any

    def arg(self, name: str) -> str | None:
        values = self.args.get(name)
        return values[0] if values else None


class FakeService:
    """Routes requests to methods, records them, and can answer with injected failures first."""

    routes: ClassVar[tuple[tuple[str, str, str], ...]] = ()  # (method, path regex, handler name)

    def __init__(self, server: HTTPServer):
        self.server = server
        self.requests: list[Seen] = []
        self.injected: list[tuple[str, Callable[[], Response]]] = []  # (path part, reply) answered once, first
        # Called with "before" and "after" a post is stored; "drop" from "before" loses the request,
        # a Response from "after" is answered instead of the post's (stored, but its reply lost).
        self.on_write: Callable[[str], object] | None = None
        server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._dispatch)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def inject(self, path_part: str, reply: Response | Callable[[], Response]) -> None:
        self.injected.append((path_part, (lambda: reply) if isinstance(reply, Response) else reply))

    def sent(self, path_part: str, method: str | None = None) -> list[Seen]:
        return [r for r in self.requests if path_part in r.path and (method is None or r.method == method)]

    def _dispatch(self, request: Request) -> Response:
        body = request.get_data(as_text=True)
        self.requests.append(
            Seen(
                request.method,
                request.path,
                request.args.to_dict(flat=False),
                dict(request.headers),
                request.form.to_dict() if request.form else {},
                json.loads(body) if body and request.is_json else None,
            )
        )
        for i, (part, reply) in enumerate(self.injected):
            if part in request.path:
                del self.injected[i]
                return reply()
        for method, pattern, name in self.routes:
            match = re.fullmatch(pattern, request.path)
            if match and request.method == method:
                return getattr(self, name)(request, *match.groups())
        return json_response({"error": f"no route {request.method} {request.path}"}, 404)

    def _writing(self, moment: str) -> bool:
        """Whether the request is dropped (answered 503, nothing stored)."""
        return bool(self.on_write) and self.on_write(moment) == "drop"

    def _after_write(self, reply: Response) -> Response:
        instead = self.on_write("after") if self.on_write else None
        return instead if isinstance(instead, Response) else reply

    def _dropped(self) -> Response:
        return json_response({"error": "the server went away"}, 503)


def slow(seconds: float, reply: Callable[[], Response]) -> Callable[[], Response]:
    """A reply that comes too late for a client with a shorter timeout (the request did arrive)."""

    def answer() -> Response:
        response = reply()
        time.sleep(seconds)
        return response

    return answer


# --- Mastodon -----------------------------------------------------------------------------------

OOB = "urn:ietf:wg:oauth:2.0:oob"


class FakeMastodon(FakeService):
    routes = (
        ("POST", r"/api/v1/apps", "_apps"),
        ("POST", r"/oauth/token", "_token"),
        ("GET", r"/api/v1/accounts/verify_credentials", "_verify"),
        ("PATCH", r"/api/v1/accounts/update_credentials", "_update"),
        ("GET", r"/api/v2/instance", "_instance"),
        ("POST", r"/api/v1/statuses", "_post_status"),
        ("GET", r"/api/v1/accounts/(\w+)/statuses", "_account_statuses"),
        ("GET", r"/api/v1/notifications", "_notifications"),
        ("GET", r"/api/v1/statuses/(\w+)/context", "_context"),
    )

    def __init__(self, server: HTTPServer, *, username: str = "bot", max_characters: int = 500, bot: bool = False):
        super().__init__(server)
        self.token = "mastodon-access-token-SECRET-1"
        self.client_id, self.client_secret, self.code = "client-id-1", "client-secret-SECRET-2", "oob-code-3"
        note = "I post things."
        self.account = mastodon_account(
            id="4242",
            username=username,
            display_name="A bot",
            note=f"<p>{note}</p>",
            bot=bot,
            source={"privacy": "public", "sensitive": False, "language": "en", "note": note, "fields": []},
        )
        self.max_characters = max_characters
        self.statuses: list[dict] = []  # the bot's, oldest first
        self.by_key: dict[str, dict] = {}  # Idempotency-Key → the status it made
        self.honours_keys = True  # False: a proxy in front of it drops the Idempotency-Key
        self.notifications: list[dict] = []  # oldest first
        self.depths: dict[str, int] = {}  # status id → posts above it in its thread
        self.ids = itertools.count(110000000000000001)

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def _unauthorized(self) -> Response:
        return json_response({"error": "The access token is invalid"}, 401)

    def _apps(self, request: Request) -> Response:
        scopes = request.form.get("scopes", "read").split()
        return json_response(
            {
                "id": "563419",
                "name": request.form["client_name"],
                "website": None,
                "scopes": scopes,
                "redirect_uri": request.form["redirect_uris"],
                "redirect_uris": [request.form["redirect_uris"]],
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "client_secret_expires_at": 0,
            }
        )

    def _token(self, request: Request) -> Response:
        form = request.form
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return json_response({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
        if form.get("grant_type") != "authorization_code" or form.get("code") != self.code:
            return json_response({"error": "invalid_grant", "error_description": "The provided grant is invalid"}, 400)
        if form.get("redirect_uri") != OOB:
            return json_response({"error": "invalid_grant", "error_description": "redirect_uri mismatch"}, 400)
        return json_response(
            {"access_token": self.token, "token_type": "Bearer", "scope": form.get("scope"), "created_at": 1573979017}
        )

    def _verify(self, request: Request) -> Response:
        return json_response(self.account) if self._authorized(request) else self._unauthorized()

    def _update(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._unauthorized()
        if "bot" in request.form:
            self.account["bot"] = request.form["bot"] == "true"
        if "note" in request.form:
            self.account["source"]["note"] = request.form["note"]
            self.account["note"] = "<p>" + html.escape(request.form["note"]).replace("\n", "<br />") + "</p>"
        return json_response(self.account)

    def _instance(self, request: Request) -> Response:
        return json_response(
            {
                "domain": "botsin.space",
                "title": "botsin.space",
                "version": "4.3.0",
                "configuration": {
                    "urls": {"streaming": "wss://botsin.space"},
                    "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": 4,
                        "characters_reserved_per_url": 23,
                    },
                },
                "registrations": {"enabled": False, "approval_required": False, "message": None},
            }
        )

    def _post_status(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._unauthorized()
        key = request.headers.get("Idempotency-Key")
        if key and key in self.by_key:  # the documented behaviour: the same status again
            return json_response(self.by_key[key])
        text = request.form["status"]
        if len(regex.findall(r"\X", text)) > self.max_characters:
            return json_response(
                {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"}, 422
            )
        if self._writing("before"):
            return self._dropped()
        status = status_of(
            next(self.ids),
            "<p>" + html.escape(text).replace("\n", "<br />") + "</p>",
            self.account,
            visibility=request.form.get("visibility", "public"),
            in_reply_to_id=request.form.get("in_reply_to_id"),
            spoiler_text=request.form.get("spoiler_text", ""),
            sensitive=bool(request.form.get("spoiler_text")),
        )
        self.statuses.append(status)
        if key and self.honours_keys:
            self.by_key[key] = status
        return self._after_write(json_response(status))

    def _account_statuses(self, request: Request, account_id: str) -> Response:
        statuses = self.statuses if account_id == self.account["id"] else []
        return json_response(list(reversed(statuses))[: int(request.args.get("limit", 20))])

    def mention(
        self,
        text: str = "@bot what do you dream of?",
        *,
        author: str = "alice",
        bot: bool = False,
        minutes_ago: float = 5,
        visibility: str = "public",
        depth: int = 0,
        mentions_bot: bool = True,
        bio: str = "Writes about birds",
    ) -> dict:
        """Add a mention notification (as someone else's status mentioning the bot)."""
        number = next(self.ids)
        person_id = self.account["id"] if author == self.account["username"] else str(number % 1000 + 7)
        person = mastodon_account(id=person_id, username=author, bot=bot, note=f"<p>{html.escape(bio)}</p>")
        status = status_of(
            number, f"<p>{html.escape(text)}</p>", person, created_at=ago(minutes_ago), visibility=visibility
        )
        if mentions_bot:
            status["mentions"] = [
                {"id": self.account["id"], "username": "bot", "url": "https://botsin.space/@bot", "acct": "bot"}
            ]
        self.depths[status["id"]] = depth
        notification = {
            "id": str(len(self.notifications) + 34975000),
            "type": "mention",
            "created_at": status["created_at"],
            "account": person,
            "status": status,
        }
        self.notifications.append(notification)
        return notification

    def _notifications(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._unauthorized()
        types = request.args.getlist("types[]")
        items = [n for n in self.notifications if not types or n["type"] in types]
        limit = min(int(request.args.get("limit", 40)), 80)
        if request.args.get("since_id"):
            items = [n for n in items if int(n["id"]) > int(request.args["since_id"])]
        if request.args.get("min_id"):  # the page right after min_id
            items = [n for n in items if int(n["id"]) > int(request.args["min_id"])][:limit]
        else:
            items = items[-limit:]
        return json_response(list(reversed(items)))

    def _context(self, request: Request, status_id: str) -> Response:
        depth = self.depths.get(status_id, 0)
        ancestors = [status_of(next(self.ids), "<p>earlier</p>", mastodon_account()) for _ in range(depth)]
        return json_response({"ancestors": ancestors, "descendants": []})


# --- Bluesky ------------------------------------------------------------------------------------


def cid_of(value: Any) -> str:
    return "bafyrei" + hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:52]


class FakeBluesky(FakeService):
    routes = (
        ("POST", r"/xrpc/com\.atproto\.server\.createSession", "_create_session"),
        ("POST", r"/xrpc/com\.atproto\.server\.refreshSession", "_refresh_session"),
        ("GET", r"/xrpc/com\.atproto\.repo\.getRecord", "_get_record"),
        ("POST", r"/xrpc/com\.atproto\.repo\.putRecord", "_put_record"),
        ("GET", r"/xrpc/app\.bsky\.notification\.listNotifications", "_notifications"),
        ("GET", r"/xrpc/app\.bsky\.feed\.getPostThread", "_thread"),
    )

    def __init__(self, server: HTTPServer, *, handle: str = "bot.bsky.social", profile: dict | None = None):
        super().__init__(server)
        self.handle, self.did = handle, "did:plc:b0tb0tb0tb0tb0tb0tb0tb0t"
        self.password = "abcd-efgh-ijkl-mnop"
        self.records: dict[tuple[str, str], dict] = {}  # (collection, rkey) → record
        if profile is not None:
            self.records[("app.bsky.actor.profile", "self")] = profile
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.sessions_created = 0
        self.tokens = itertools.count(1)
        self.notifications: list[dict] = []  # newest first, as the service lists them
        self.depths: dict[str, int] = {}

    def expire_access_tokens(self) -> None:
        self.access.clear()

    def expire_refresh_tokens(self) -> None:
        self.refresh.clear()

    def _issue(self) -> dict:
        n = next(self.tokens)
        access, refresh = f"bsky-access-SECRET-{n}", f"bsky-refresh-SECRET-{n}"
        self.access.add(access)
        self.refresh.add(refresh)
        return {"did": self.did, "handle": self.handle, "accessJwt": access, "refreshJwt": refresh, "active": True}

    def _bearer(self, request: Request) -> str:
        return request.headers.get("Authorization", "").removeprefix("Bearer ")

    def _create_session(self, request: Request) -> Response:
        body = request.get_json()
        self.sessions_created += 1
        if body.get("identifier") not in (self.handle, self.did) or body.get("password") != self.password:
            return json_response({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}, 401)
        return json_response(self._issue())

    def _refresh_session(self, request: Request) -> Response:
        token = self._bearer(request)
        if token not in self.refresh:
            return json_response({"error": "ExpiredToken", "message": "Token has expired"}, 400)
        self.refresh.discard(token)  # refresh tokens are single-use
        return json_response(self._issue())

    def _check(self, request: Request) -> Response | None:
        token = self._bearer(request)
        if not token:
            return json_response({"error": "AuthMissing", "message": "Authentication Required"}, 401)
        if token not in self.access:
            return json_response({"error": "ExpiredToken", "message": "Token has expired"}, 400)
        return None

    def uri(self, collection: str, rkey: str) -> str:
        return f"at://{self.did}/{collection}/{rkey}"

    def _get_record(self, request: Request) -> Response:
        refused = self._check(request)
        if refused:
            return refused
        collection, rkey = request.args["collection"], request.args["rkey"]
        record = self.records.get((collection, rkey))
        if request.args.get("repo") not in (self.did, self.handle) or record is None:
            return json_response(
                {"error": "RecordNotFound", "message": f"Could not locate record: {self.uri(collection, rkey)}"}, 400
            )
        return json_response({"uri": self.uri(collection, rkey), "cid": cid_of(record), "value": record})

    def _put_record(self, request: Request) -> Response:
        refused = self._check(request)
        if refused:
            return refused
        body = request.get_json()
        collection, rkey, record = body["collection"], body["rkey"], body["record"]
        if body.get("repo") != self.did:
            return json_response({"error": "InvalidRequest", "message": "Unknown repo"}, 400)
        current = self.records.get((collection, rkey))
        if "swapRecord" in body and (current is None or cid_of(current) != body["swapRecord"]):
            return json_response({"error": "InvalidSwap", "message": "Record was at a different cid"}, 400)
        if collection == "app.bsky.feed.post" and len(regex.findall(r"\X", record.get("text", ""))) > 300:
            return json_response({"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post record"}, 400)
        if self._writing("before"):
            return self._dropped()
        self.records[(collection, rkey)] = record
        return self._after_write(
            json_response(
                {
                    "uri": self.uri(collection, rkey),
                    "cid": cid_of(record),
                    "commit": {"cid": "bafyreicommit", "rev": "3kcommit"},
                    "validationStatus": "valid",
                }
            )
        )

    def posts(self) -> dict[str, dict]:
        return {
            rkey: record for (collection, rkey), record in self.records.items() if collection == "app.bsky.feed.post"
        }

    def mention(
        self,
        text: str = "@bot.bsky.social what do you dream of?",
        *,
        author: str = "alice.bsky.social",
        bot: bool = False,
        minutes_ago: float = 5,
        depth: int = 0,
        reason: str = "mention",
        bio: str = "",
    ) -> dict:
        number = len(self.notifications) + 1
        did = f"did:plc:person{number:04d}"
        uri = f"at://{did}/app.bsky.feed.post/3kmention{number:04d}"
        record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": ago(minutes_ago), "langs": ["en"]}
        if depth:
            root = {"uri": f"at://did:plc:root/app.bsky.feed.post/3kroot{number}", "cid": "bafyreiroot"}
            record["reply"] = {"root": root, "parent": root}
        notification = {
            "uri": uri,
            "cid": f"bafyreimention{number:04d}",
            "author": {
                "did": did,
                "handle": author,
                "displayName": author.split(".")[0].title(),
                "description": bio,
                "labels": [
                    {"src": did, "uri": f"at://{did}/app.bsky.actor.profile/self", "val": "bot", "cts": ago(900)}
                ]
                if bot
                else [],
            },
            "reason": reason,
            "record": record,
            "isRead": False,
            "indexedAt": ago(minutes_ago),
            "labels": [],
        }
        self.depths[uri] = depth
        self.notifications.insert(0, notification)
        return notification

    def _notifications(self, request: Request) -> Response:
        refused = self._check(request)
        if refused:
            return refused
        start = int(request.args.get("cursor") or 0)
        limit = int(request.args.get("limit", 50))
        page = self.notifications[start : start + limit]
        cursor = str(start + limit) if start + limit < len(self.notifications) else None
        return json_response({"notifications": page, "cursor": cursor, "priority": False, "seenAt": ago(60)})

    def _thread(self, request: Request) -> Response:
        refused = self._check(request)
        if refused:
            return refused
        uri = request.args["uri"]
        height = int(request.args.get("parentHeight", 80))
        node: dict | None = None
        for i in range(min(self.depths.get(uri, 0), height)):
            parent = {"uri": f"at://did:plc:other/app.bsky.feed.post/3kparent{i}", "cid": "bafyreiparent"}
            node = {"$type": "app.bsky.feed.defs#threadViewPost", "post": parent, **({"parent": node} if node else {})}
        thread = {"$type": "app.bsky.feed.defs#threadViewPost", "post": {"uri": uri}, "replies": []}
        if node:
            thread["parent"] = node
        return json_response({"thread": thread})


# --- X --------------------------------------------------------------------------------------------

OAUTH1 = {
    "consumer_key": "x-consumer-key-1",
    "consumer_secret": "x-consumer-secret-SECRET-2",
    "access_token": "1500000000000000001-x-access-token-3",
    "access_token_secret": "x-access-secret-SECRET-4",
}


def _rfc3986(value: str) -> str:
    return quote(value, safe="-._~")


def oauth1_valid(method: str, url: str, params: dict[str, str], header: str) -> bool:
    """Check an OAuth 1.0a HMAC-SHA1 signature as RFC 5849 section 3.4 describes it."""
    fields = dict((k, unquote(v)) for k, v in re.findall(r'(\w+)="([^"]*)"', header))
    signature = fields.pop("oauth_signature", "")
    if (
        fields.get("oauth_consumer_key") != OAUTH1["consumer_key"]
        or fields.get("oauth_token") != OAUTH1["access_token"]
    ):
        return False
    pairs = sorted((_rfc3986(k), _rfc3986(v)) for k, v in [*params.items(), *fields.items()])
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    base = f"{method}&{_rfc3986(url)}&{_rfc3986(normalized)}"
    key = f"{_rfc3986(OAUTH1['consumer_secret'])}&{_rfc3986(OAUTH1['access_token_secret'])}"
    expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
    return hmac.compare_digest(expected, signature)


class FakeX(FakeService):
    routes = (
        ("GET", r"/2/users/me", "_me"),
        ("POST", r"/2/tweets", "_create"),
        ("GET", r"/2/users/(\w+)/tweets", "_timeline"),
        ("GET", r"/2/users/(\w+)/mentions", "_mentions"),
        ("GET", r"/2/tweets/(\w+)", "_lookup"),
        ("POST", r"/2/oauth2/token", "_refresh"),
    )

    def __init__(self, server: HTTPServer, *, username: str = "botname", readable: bool = True):
        super().__init__(server)
        self.user = {"id": "1500000000000000001", "name": "A bot", "username": username}
        self.readable = readable  # may the token read timelines (not on the free tier)
        self.tweets: list[dict] = []
        self.user_tokens = {"x-user-token-SECRET-5"}
        self.refresh_tokens = {"x-refresh-token-SECRET-6"}
        self.client_id = "x-client-id-7"
        self.ids = itertools.count(1800000000000000001)
        self.rate_headers: dict[str, str] = {}
        self.others: dict[str, dict] = {}  # other people's tweets by id: mentions and the threads above them
        self.mentioning: list[str] = []  # ids of the tweets that mention the bot, oldest first
        self.people: dict[str, dict] = {}  # user id → user

    def mention(
        self,
        text: str = "@botname what do you dream of?",
        *,
        author: str = "alice",
        name: str = "Alice",
        description: str = "",
        minutes_ago: float = 5,
        depth: int = 0,
    ) -> dict:
        """Add someone's tweet mentioning the bot, DEPTH tweets down a conversation."""
        person = self.user if author == self.user["username"] else self._person(author, name, description)
        parent = None
        for _ in range(depth):
            parent = self._tweet("earlier", self._person("someone", "Someone", ""), minutes_ago + 1, parent)
        tweet = self._tweet(text, person, minutes_ago, parent)
        self.mentioning.append(tweet["id"])
        return tweet

    def _person(self, username: str, name: str, description: str) -> dict:
        user_id = str(2000 + len(self.people))
        self.people[user_id] = {"id": user_id, "username": username, "name": name, "description": description}
        return self.people[user_id]

    def _tweet(self, text: str, author: dict, minutes_ago: float, parent: dict | None) -> dict:
        tweet_id = str(next(self.ids))
        tweet = {
            "id": tweet_id,
            "text": html.escape(text, quote=False),
            "author_id": author["id"],
            "conversation_id": parent["conversation_id"] if parent else tweet_id,
            "created_at": ago(minutes_ago),
            "edit_history_tweet_ids": [tweet_id],
        }
        if parent:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": parent["id"]}]
        self.others[tweet_id] = tweet
        return tweet

    def _forbidden(self) -> Response:
        return json_response(
            {
                "title": "Client Forbidden",
                "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and"
                " tokens from a Twitter developer App that is attached to a Project.",
                "reason": "client-not-enrolled",
                "type": "https://api.twitter.com/2/problems/client-forbidden",
            },
            403,
        )

    def _fields(self, tweet: dict, request: Request) -> dict:
        """TWEET with the default fields and those the request asked for."""
        wanted = {"id", "text", "edit_history_tweet_ids", *request.args.get("tweet.fields", "").split(",")}
        return {k: v for k, v in tweet.items() if k in wanted}

    def _mentions(self, request: Request, user_id: str) -> Response:
        """Newest first, max_results a page, then a next_token (GET /2/users/:id/mentions)."""
        if not self._authorized(request):
            return self._unauthorized()
        if not self.readable:
            return self._forbidden()
        start = request.args.get("start_time")
        since = int(request.args.get("since_id") or 0)
        found = [
            self.others[i]
            for i in reversed(self.mentioning)
            if int(i) > since and (not start or self.others[i]["created_at"] >= start.replace("Z", ".000Z"))
        ]
        first = int(request.args.get("pagination_token") or 0)
        size = int(request.args.get("max_results") or 10)
        page = found[first : first + size]
        if not page:
            return json_response({"meta": {"result_count": 0}})
        meta: dict[str, Any] = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"], "result_count": len(page)}
        if first + size < len(found):
            meta["next_token"] = str(first + size)
        authors = {t["author_id"] for t in page}
        users = [
            {
                k: v
                for k, v in person.items()
                if k in ("id", "name", "username", *request.args["user.fields"].split(","))
            }
            for person in [*self.people.values(), self.user]
            if person["id"] in authors
        ]
        return json_response(
            {"data": [self._fields(t, request) for t in page], "includes": {"users": users}, "meta": meta}
        )

    def _lookup(self, request: Request, tweet_id: str) -> Response:
        if not self._authorized(request):
            return self._unauthorized()
        if not self.readable:
            return self._forbidden()
        if tweet_id not in self.others:
            return json_response(
                {
                    "errors": [
                        {
                            "value": tweet_id,
                            "detail": f"Could not find tweet with id: [{tweet_id}].",
                            "title": "Not Found Error",
                            "resource_type": "tweet",
                            "parameter": "id",
                            "resource_id": tweet_id,
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    ]
                }
            )
        return json_response({"data": self._fields(self.others[tweet_id], request)})

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("OAuth "):
            url = request.base_url  # scheme, host and path, without the query
            return oauth1_valid(request.method, url, request.args.to_dict(), header)
        return header.removeprefix("Bearer ") in self.user_tokens

    def _unauthorized(self) -> Response:
        return json_response(
            {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}, 401
        )

    def _me(self, request: Request) -> Response:
        return json_response({"data": self.user}) if self._authorized(request) else self._unauthorized()

    def _create(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._unauthorized()
        body = request.get_json()
        if any(t["text"] == body["text"] for t in self.tweets):
            return json_response(
                {
                    "detail": "You are not allowed to create a Tweet with duplicate content.",
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                },
                403,
            )
        if self._writing("before"):
            return self._dropped()
        tweet_id = str(next(self.ids))
        tweet = {"id": tweet_id, "text": body["text"], "created_at": iso(datetime.now(timezone.utc)), "body": body}
        self.tweets.append(tweet)
        reply = {
            "data": {
                "id": tweet_id,
                "text": html.escape(body["text"], quote=False),
                "edit_history_tweet_ids": [tweet_id],
            }
        }
        return self._after_write(json_response(reply, 201, self.rate_headers))

    def _timeline(self, request: Request, user_id: str) -> Response:
        if not self._authorized(request):
            return self._unauthorized()
        if not self.readable:
            return self._forbidden()
        tweets = [
            {
                "id": t["id"],
                "text": html.escape(t["text"], quote=False),
                "created_at": t["created_at"],
                "edit_history_tweet_ids": [t["id"]],
            }
            for t in reversed(self.tweets)
        ]
        return json_response(
            {"data": tweets, "meta": {"result_count": len(tweets)}} if tweets else {"meta": {"result_count": 0}}
        )

    def _refresh(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
            return json_response(
                {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}, 400
            )
        if form.get("client_id") != self.client_id:
            return json_response(
                {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}, 401
            )
        self.refresh_tokens.discard(form["refresh_token"])
        n = len(self.user_tokens) + 10
        access, refresh = f"x-user-token-SECRET-{n}", f"x-refresh-token-SECRET-{n}"
        self.user_tokens = {access}
        self.refresh_tokens.add(refresh)
        return json_response(
            {
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": access,
                "scope": "tweet.read tweet.write users.read offline.access",
                "refresh_token": refresh,
            }
        )


# --- connecting the fakes ---------------------------------------------------------------------------


class Answers:
    """Prompts answered as an operator would: the Mastodon code, the Bluesky app password."""

    def __init__(self, code: str = "", password: str = ""):
        self.code, self.password = code, password
        self.urls: list[str] = []

    def authorization_code(self, url: str) -> str:
        self.urls.append(url)
        return self.code

    def app_password(self, handle: str) -> str:
        return self.password


TARGETS = {
    "mastodon": "mastodon:@bot@botsin.space",
    "bluesky": "bluesky:bot.bsky.social",
    "x": "x:botname",
}


def start_fake(service: str, server: HTTPServer, **kwargs):
    return {"mastodon": FakeMastodon, "bluesky": FakeBluesky, "x": FakeX}[service](server, **kwargs)


def connect_fake(store, service: str, fake, monkeypatch, bio_line: str | None = None):
    """Connect the bot's account on FAKE the way `tweetling connect` does."""
    from tweetling.live import ConnectOptions, connect

    base_url = fake.url + ("/2" if service == "x" else "")
    if service == "bluesky":
        monkeypatch.setenv("BLUESKY_APP_PASSWORD", fake.password)
    if service == "x":
        for env, key in zip(
            ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"), OAUTH1, strict=True
        ):
            monkeypatch.setenv(env, OAUTH1[key])
    answers = Answers(code=getattr(fake, "code", ""))
    return connect(store, TARGETS[service], ConnectOptions(base_url=base_url, bio_line=bio_line), answers)


def secrets_of(fake) -> list[str]:
    """Every token and password the fake handed out or accepts, to look for where they must not be."""
    if isinstance(fake, FakeMastodon):
        return [fake.token, fake.client_secret]
    if isinstance(fake, FakeBluesky):
        return [fake.password, *fake.access, *fake.refresh, "bsky-access-SECRET", "bsky-refresh-SECRET"]
    return [OAUTH1["consumer_secret"], OAUTH1["access_token_secret"], *fake.user_tokens]


def posted_texts(fake) -> list[str]:
    """The texts of the bot's posts on FAKE, oldest first."""
    if isinstance(fake, FakeMastodon):
        from tweetling.sources.mastodon import html_to_text

        return [html_to_text(s["content"]) for s in fake.statuses]
    if isinstance(fake, FakeBluesky):
        return [record["text"] for _, record in sorted(fake.posts().items())]
    return [t["text"] for t in fake.tweets]


POST_PATHS = {"mastodon": "/api/v1/statuses", "bluesky": "com.atproto.repo.putRecord", "x": "/2/tweets"}


def post_requests(fake, service: str) -> list[Seen]:
    requests = fake.sent(POST_PATHS[service], "POST")
    if service == "bluesky":
        requests = [r for r in requests if r.json and r.json.get("collection") == "app.bsky.feed.post"]
    return requests
