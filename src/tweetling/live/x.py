"""Posting to X from the bot's own account: POST /2/tweets with a user-context token.

https://docs.x.com/x-api/posts/create-post — signed with OAuth 1.0a (the four keys the
developer portal shows for your own account; they do not expire) or sent with an OAuth 2.0
user token (it expires after two hours and is renewed with its refresh token). X has no
idempotency key: before a send is retried, the bot's recent posts are checked where the token
may read them, and otherwise X's refusal of a duplicate text says that the first try arrived.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from ..errors import SourceError
from ..share import x_length
from ..sources.http import HttpClient, HttpStatusError, JsonReply
from .compose import X_LIMIT
from .credentials import Secret
from .queue import now_iso
from .service import (
    ClientOptions,
    Connected,
    Connection,
    DuplicatePost,
    Mention,
    Outgoing,
    RefusedPost,
    Sent,
    error_detail,
    http_client,
)
from .targets import Target

OAUTH1_ENVS = ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
OAUTH1_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
TOKEN_ENV = "X_USER_TOKEN"  # an OAuth 2.0 user access token (scopes tweet.read tweet.write users.read)
REFRESH_ENVS = {"refresh_token": "X_REFRESH_TOKEN", "client_id": "X_CLIENT_ID", "client_secret": "X_CLIENT_SECRET"}
NO_READ = (401, 402, 403)  # a write-only (free tier) token may not read timelines


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
        account = XAccount(_placeholder(target, base_url), Auth(client, keys))
        try:
            me = account.call("GET", "/users/me").data
        except HttpStatusError as error:
            raise account._explain(error) from None
    user = (me or {}).get("data") if isinstance(me, dict) else None
    if not isinstance(user, dict) or "id" not in user:
        raise SourceError("x: unexpected reply to /2/users/me")
    if str(user.get("username", "")).lower() != target.user:
        raise SourceError(f"x: the keys belong to @{user.get('username')}, not to {target.key}")
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
    keys = credentials.load(connection.target)
    return XAccount(connection, Auth(client, keys, on_renew=lambda keys: credentials.save(connection.target, keys)))


class XAccount:
    def __init__(self, connection: Connection, auth: Auth):
        self.connection = connection
        self.auth = auth
        self.client = auth.client
        self.target = Target("x", connection.handle)

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, path: str, *, params: dict | None = None, body: Any = None, resend: bool = True):
        for attempt in (1, 2):
            try:
                return self.client.request_json(
                    method,
                    path,
                    params=params,
                    json=body,
                    headers=self.auth.headers(method, path, params),
                    resend=resend,
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
            reply: JsonReply = self.call("POST", "/tweets", body=body, resend=False)
        except HttpStatusError as error:
            raise self._explain(error) from None
        data = (reply.data or {}).get("data") if isinstance(reply.data, dict) else None
        if not isinstance(data, dict) or "id" not in data:
            raise SourceError("x: unexpected reply to POST /2/tweets")
        return Sent(str(data["id"]), f"https://x.com/{self.connection.handle}/status/{data['id']}")

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
        for tweet in (reply.data or {}).get("data") or []:
            if " ".join(html.unescape(tweet.get("text", "")).split()) == wanted:
                return Sent(str(tweet["id"]), f"https://x.com/{self.connection.handle}/status/{tweet['id']}")
        return None

    def mentions(self, since: str | None, oldest: str) -> list[Mention]:
        raise SourceError(
            "x: replying to mentions needs read access to the X API (the free tier only writes);"
            " --reply works with Mastodon and Bluesky"
        )

    def thread_depth(self, mention: Mention, limit: int) -> int:
        raise SourceError("x: replying to mentions is not supported")

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
