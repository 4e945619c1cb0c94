"""Posting to X from the bot's own account: POST /2/tweets with a user-context token.

https://docs.x.com/x-api/posts/create-post — signed with OAuth 1.0a (the four keys the
developer portal shows for your own account; they do not expire) or sent with an OAuth 2.0
user token (it expires after two hours and is renewed with its refresh token). X has no
idempotency key: before a send is retried, the bot's recent posts are checked where the token
may read them, and otherwise X's refusal of a duplicate text says that the first try arrived.
Replies read the bot's mentions (GET /2/users/:id/mentions) and walk up their threads
(GET /2/tweets/:id): reads that X's free tier refuses, so there replies are off (`NoReadAccess`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from ..consent import tag_signals
from ..errors import SourceError
from ..share import x_length
from ..sources.http import HttpClient, HttpStatusError, JsonReply
from .compose import X_LIMIT, plain
from .credentials import Secret
from .queue import now_iso
from .service import (
    ClientOptions,
    Connected,
    Connection,
    DuplicatePost,
    Mention,
    NoReadAccess,
    Outgoing,
    RefusedPost,
    Sent,
    error_detail,
    http_client,
    id_order,
    parse_time,
    sent,
)
from .targets import Target

OAUTH1_ENVS = ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
OAUTH1_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
TOKEN_ENV = "X_USER_TOKEN"  # an OAuth 2.0 user access token (scopes tweet.read tweet.write users.read)
REFRESH_ENVS = {"refresh_token": "X_REFRESH_TOKEN", "client_id": "X_CLIENT_ID", "client_secret": "X_CLIENT_SECRET"}
NO_READ = (401, 402, 403)  # a write-only (free tier) token may not read timelines
_MENTION_PAGES = 5  # pages of 100 mentions read in one poll, at most
_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")
_NUMBER = re.compile(r"[0-9]{1,30}")  # a tweet id: it becomes part of a path
# X's automated-account label is not in its API: a name or bio that says "bot" or "automated" counts.
_BOT_WORDS = re.compile(r"(?i)(?<![a-z])(bots?|automated)(?![a-z])")


def _encode(value: str) -> str:
    return quote(value, safe="")  # RFC 3986: only A-Z a-z 0-9 - . _ ~ stay as they are


def oauth1_header(
    method: str,
    url: str,
    params: dict[str, str],
    keys: dict[str, Secret],
    nonce: str | None = None,
    timestamp: int | None = None,
) -> str:
    """The Authorization header of an OAuth 1.0a (HMAC-SHA1) request to URL with query or form
    PARAMS; a JSON body is not signed."""
    oauth = {
        "oauth_consumer_key": keys["consumer_key"].reveal(),
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "oauth_token": keys["access_token"].reveal(),
        "oauth_version": "1.0",
    }
    pairs = sorted((_encode(k), _encode(str(v))) for k, v in {**params, **oauth}.items())
    base = "&".join((method.upper(), _encode(url), _encode("&".join(f"{k}={v}" for k, v in pairs))))
    key = f"{_encode(keys['consumer_secret'].reveal())}&{_encode(keys['access_token_secret'].reveal())}"
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
    oauth["oauth_signature"] = base64.b64encode(digest).decode()
    return "OAuth " + ", ".join(f'{_encode(k)}="{_encode(v)}"' for k, v in sorted(oauth.items()))


class Auth:
    """Signs each request with OAuth 1.0a keys, or sends an OAuth 2.0 user token and renews it."""

    def __init__(self, client: HttpClient, keys: dict[str, Secret], on_renew=lambda keys: None):
        self.client = client
        self.keys = dict(keys)
        self._on_renew = on_renew

    @property
    def kind(self) -> str:
        return "oauth1" if "consumer_key" in self.keys else "oauth2"

    def headers(self, method: str, path: str, params: dict[str, Any] | None) -> dict[str, str]:
        if self.kind == "oauth1":
            query = {k: str(v) for k, v in (params or {}).items() if v is not None}
            return {"Authorization": oauth1_header(method, self.client.base_url + path, query, self.keys)}
        return {"Authorization": f"Bearer {self.keys['user_token'].reveal()}"}

    def renew(self) -> bool:
        """Trade the refresh token for a new user token; False when there is none to trade."""
        if self.kind != "oauth2" or not self.keys.get("refresh_token") or not self.keys.get("client_id"):
            return False
        headers = {}
        if self.keys.get("client_secret"):  # a confidential client authenticates itself
            pair = f"{self.keys['client_id'].reveal()}:{self.keys['client_secret'].reveal()}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        data = self.client.request_json(
            "POST",
            "/oauth2/token",
            form={
                "grant_type": "refresh_token",
                "refresh_token": self.keys["refresh_token"].reveal(),
                "client_id": self.keys["client_id"].reveal(),
            },
            headers=headers,
            explain=lambda e: SourceError(f"x: renewing the user token failed (HTTP {e.status}); connect again"),
        ).data
        if not isinstance(data, dict) or not data.get("access_token"):
            raise SourceError("x: unexpected reply when renewing the user token")
        self.keys["user_token"] = Secret(data["access_token"])
        if data.get("refresh_token"):  # refresh tokens are single-use
            self.keys["refresh_token"] = Secret(data["refresh_token"])
        self._on_renew(self.keys)
        return True


def connect(target: Target, base_url: str, keys: dict[str, Secret], bio_line: str | None, options: ClientOptions):
    """Check the keys belong to the bot's account. X has no API for the automated-account label
    or the bio, so the notes tell the operator what to set by hand."""
    with http_client(base_url, options) as client:
        account = XAccount(_placeholder(target, base_url), Auth(client, keys), poster=client)
        try:
            me = account.call("GET", "/users/me").data
        except HttpStatusError as error:
            raise account._explain(error) from None
    user = me.get("data") if isinstance(me, dict) else None
    if (
        not isinstance(user, dict)
        or not _NUMBER.fullmatch(str(user.get("id")))
        or not isinstance(user.get("username"), str)
    ):
        raise SourceError("x: unexpected reply to /2/users/me (id, username)")
    if user["username"].lower() != target.user:
        raise SourceError(f"x: the keys belong to @{plain(user['username'])[:60]}, not to {target.key}")
    notes = [
        "X has no API for the automated-account label: turn it on in Settings → Your account →"
        " Account information → Automation, naming the account that runs the bot"
    ]
    if bio_line:
        notes.append(f"X has no API for the bio either: paste this line into the profile: {bio_line}")
    connection = Connection(
        target=target.key,
        service="x",
        handle=target.handle,
        base_url=base_url,
        account_id=str(user["id"]),
        max_chars=X_LIMIT,
        bot_flag=False,
        bio_line=None,
        connected_at=now_iso(),
    )
    return Connected(connection, keys, notes)


def _placeholder(target: Target, base_url: str) -> Connection:
    return Connection(target.key, "x", target.handle, base_url, None, X_LIMIT, False, None, now_iso())


def open_account(connection: Connection, options: ClientOptions) -> XAccount:
    from . import credentials

    client = http_client(connection.base_url, options)
    # X may make a tweet and still answer 429: a create is not sent again after one either.
    poster = http_client(connection.base_url, replace(options, retry=replace(options.retry, rate_limit_retries=0)))
    keys = credentials.load(connection.target)
    auth = Auth(client, keys, on_renew=lambda keys: credentials.save(connection.target, keys))
    return XAccount(connection, auth, poster)


def _objects(value: Any) -> list[dict]:
    """The JSON objects of a list in a reply (nothing, when it is no list)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _parent(tweet: Any) -> str | None:
    """The id of the post TWEET replies to, when X names a valid one."""
    references = _objects(tweet.get("referenced_tweets") if isinstance(tweet, dict) else None)
    parents = [str(r.get("id")) for r in references if r.get("type") == "replied_to"]
    return parents[0] if parents and _NUMBER.fullmatch(parents[0]) else None


def says_it_is_a_bot(user: dict) -> bool:
    """Whether an X user's name or bio says the account is automated."""
    return any(_BOT_WORDS.search(str(user.get(field) or "")) for field in ("name", "description"))


class XAccount:
    def __init__(self, connection: Connection, auth: Auth, poster: HttpClient):
        self.connection = connection
        self.auth = auth
        self.client = auth.client
        self.poster = poster  # for creates: it waits out no 429, after which X may have made the post
        self.target = Target("x", connection.handle)

    def close(self) -> None:
        self.client.close()
        self.poster.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        body: Any = None,
        creates: bool = False,
    ) -> JsonReply:
        """METHOD PATH signed; CREATES: it makes a post, so it is never sent again once it may have arrived."""
        for attempt in (1, 2):
            try:
                return (self.poster if creates else self.client).request_json(
                    method,
                    path,
                    params=params,
                    json=body,
                    headers=self.auth.headers(method, path, params),
                    resend=not creates,
                )
            except HttpStatusError as error:
                if error.status == 401 and attempt == 1 and self.auth.renew():
                    continue  # a 401 was not processed: sending again is safe
                raise
        raise AssertionError("unreachable")

    def length(self, text: str) -> int:
        return x_length(text)

    def new_key(self, created_at: str) -> str:
        return str(uuid.uuid4())

    def status_text(self, post: Outgoing) -> str:
        return post.text

    def send(self, post: Outgoing) -> Sent:
        body: dict[str, Any] = {"text": post.text}
        if post.reply_to:
            body["reply"] = {"in_reply_to_tweet_id": post.reply_to.post_id}
        try:
            # No idempotency key on X: a request that may have arrived is never repeated blindly.
            reply = self.call("POST", "/tweets", body=body, creates=True)
        except HttpStatusError as error:
            explained = self._explain(error)
            if post.reply_to and error.status == 403 and not isinstance(explained, DuplicatePost):
                # The conversation's reply settings, or its author, keep the bot out: asking again cannot help.
                raise RefusedPost(f"x: X refused the reply (HTTP 403{error_detail(error)})") from None
            raise explained from None
        data = reply.data.get("data") if isinstance(reply.data, dict) else None
        if not isinstance(data, dict):  # it may have been made all the same: the next send looks first
            raise SourceError("x: unexpected reply to POST /2/tweets")
        return self._sent(data.get("id"))

    def _sent(self, tweet_id: object) -> Sent:
        if isinstance(tweet_id, str) and _NUMBER.fullmatch(tweet_id):
            return Sent(tweet_id, f"https://x.com/{self.connection.handle}/status/{tweet_id}")
        return sent(None, None, "x")

    def find_sent(self, post: Outgoing) -> Sent | None:
        """The bot's post from an interrupted send, when the token may read its timeline."""
        start = datetime.fromisoformat(post.created_at).astimezone(timezone.utc) - timedelta(minutes=5)
        try:
            reply = self.call(
                "GET",
                f"/users/{self.connection.account_id}/tweets",
                params={
                    "max_results": 10,
                    "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "tweet.fields": "created_at",
                },
            )
        except HttpStatusError as error:
            if error.status in NO_READ:
                return None  # write-only access: a duplicate refusal will tell instead
            raise self._explain(error) from None
        wanted = " ".join(post.text.split())
        for tweet in _objects(reply.data.get("data") if isinstance(reply.data, dict) else None):
            if " ".join(html.unescape(str(tweet.get("text", ""))).split()) == wanted:
                return self._sent(tweet.get("id"))
        return None

    def mentions(self, since: str | None, oldest: str) -> list[Mention]:
        """Posts that mention the bot, newer than post SINCE and than OLDEST, oldest first.

        X lists them newest first, a page of up to 100 at a time; a first poll reads one page, and
        a poll that finds more than _MENTION_PAGES pages leaves the oldest unanswered."""
        params: dict[str, Any] = {
            "max_results": 100,
            "start_time": parse_time(oldest).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tweet.fields": "author_id,conversation_id,created_at,referenced_tweets",
            "expansions": "author_id",
            "user.fields": "username,name,description",
        }
        if since:
            params["since_id"] = since
        tweets: dict[str, dict] = {}
        users: dict[str, dict] = {}
        for _ in range(_MENTION_PAGES):
            page = self._read(f"/users/{self.connection.account_id}/mentions", params)
            tweets.update(
                (str(t.get("id")), t) for t in _objects(page.get("data")) if _NUMBER.fullmatch(str(t.get("id")))
            )
            includes, meta = page.get("includes"), page.get("meta")
            users.update(
                (str(u.get("id")), u) for u in _objects(includes.get("users") if isinstance(includes, dict) else None)
            )
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not since or not isinstance(token, str) or not token:
                break
            params["pagination_token"] = token
        mentions = (self._mention(tweets[i], users) for i in sorted(tweets, key=id_order))
        return [m for m in mentions if m is not None]

    def _mention(self, tweet: dict, users: dict[str, dict]) -> Mention | None:
        author = users.get(str(tweet.get("author_id")), {})
        username = str(author.get("username") or "")
        if not _USERNAME.fullmatch(username):
            return None
        return Mention(
            notification_id=str(tweet["id"]),
            post_id=str(tweet["id"]),
            author=username,
            author_is_bot=says_it_is_a_bot(author),
            text=plain(html.unescape(str(tweet.get("text") or ""))),
            created_at=str(tweet.get("created_at") or ""),
            root_id=str(tweet.get("conversation_id") or "") or None,
            parent_id=_parent(tweet),
            is_self=str(tweet.get("author_id")) == self.connection.account_id,
            author_opt_outs=tuple(
                tag_signals([("the display name", author.get("name")), ("the bio", author.get("description"))])
            ),
        )

    def thread_depth(self, mention: Mention, limit: int) -> int:
        """Posts above MENTION in its conversation, counted up to LIMIT + 1.

        The mentions reply names each mention's parent and conversation, so only the posts between
        the parent and the conversation's first post are looked up, one read each."""
        if mention.root_id == mention.post_id:
            return 0  # it starts its conversation
        depth, current = (1, mention.parent_id) if mention.parent_id else (0, mention.post_id)
        while current != mention.root_id and depth <= limit:
            parent = _parent(self._read(f"/tweets/{current}", {"tweet.fields": "referenced_tweets"}).get("data"))
            if parent is None:
                return depth  # the top, or a post X no longer shows
            depth, current = depth + 1, parent
        return depth

    def _read(self, path: str, params: dict[str, Any]) -> dict:
        """The JSON object X answers to a read; its free tier refuses reads with 402 or 403."""
        try:
            data = self.call("GET", path, params=params).data
        except HttpStatusError as error:
            if error.status in (402, 403):
                raise NoReadAccess(
                    f"x: these keys may not read mentions (HTTP {error.status}{error_detail(error)}); "
                    "answering mentions on X needs a paid API tier (the free tier only writes)"
                ) from None
            raise self._explain(error) from None
        if not isinstance(data, dict):
            raise SourceError(f"x: unexpected reply to GET /2{path}")
        return data

    def _explain(self, error: HttpStatusError) -> SourceError:
        detail = error_detail(error)
        if error.status == 403 and "duplicate" in detail.lower():
            return DuplicatePost(f"x: X already has this text (HTTP 403{detail})")
        if error.status == 400:
            return RefusedPost(f"x: X rejected the post (HTTP 400{detail})")
        if error.status == 401:
            return SourceError(f"x: X refused the keys of {self.target.key} (HTTP 401); connect again")
        if error.status == 403:
            return SourceError(
                f"x: X does not let these keys post (HTTP 403{detail}); the app needs Read and Write permission"
            )
        return SourceError(f"x: {error}{detail}")
