"""Posting to Bluesky from the bot's own account, through its PDS (XRPC).

https://docs.bsky.app/docs/api/com-atproto-server-create-session — one session at connect
(createSession is rate-limited), renewed with refreshSession and reused by every later run.
Posts are written with com.atproto.repo.putRecord under a record key fixed before the first
try, so a retry rewrites the same record instead of adding one; the bot self-label goes on
the app.bsky.actor.profile record (read, modified, written back with swapRecord).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeGuard

from ..consent import tag_signals
from ..errors import SourceError
from ..sources.http import HttpClient, HttpStatusError, JsonReply
from .compose import BLUESKY_LIMIT, graphemes, is_handle, plain
from .credentials import Secret
from .queue import now_iso
from .service import (
    ClientOptions,
    Connected,
    Connection,
    Mention,
    Outgoing,
    RefusedPost,
    Sent,
    error_detail,
    http_client,
    parse_time,
    readable_mention,
    sent,
)
from .targets import Target

POST = "app.bsky.feed.post"
PROFILE = "app.bsky.actor.profile"
SELF_LABELS = "com.atproto.label.defs#selfLabels"
DESCRIPTION_LIMIT = 256  # graphemes of a profile description
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable, as record keys use it
_PAGES = 10  # notification pages read per poll, 50 each
_EXPIRED = {"ExpiredToken", "InvalidToken"}


def record_key(created_at: str, clock_id: int) -> str:
    """A TID (timestamp identifier), the kind of record key app.bsky.feed.post uses: microseconds
    since 1970 and a 10-bit clock id in 13 sortable base32 characters."""
    micros = int(datetime.fromisoformat(created_at).timestamp() * 1_000_000)
    value = (micros << 10) | (clock_id & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def atproto_time(iso: str) -> str:
    """'2024-05-01T12:00:00.000+00:00' -> '2024-05-01T12:00:00.000Z', the form Bluesky writes."""
    return iso.replace("+00:00", "Z")


class Session:
    """An XRPC session of one account: requests carry the access token; an expired one is
    renewed with the refresh token, and a refresh token that expired too with the app password."""

    def __init__(
        self,
        client: HttpClient,
        target: Target,
        tokens: dict[str, Secret],
        on_renew: Callable[[dict[str, Secret]], None] = lambda tokens: None,
    ):
        self.client = client
        self.target = target
        self.tokens = dict(tokens)
        self.did = ""
        self._on_renew = on_renew

    @classmethod
    def create(cls, client: HttpClient, target: Target, password: Secret) -> Session:
        session = cls(client, target, {"app_password": password})
        session._create()
        return session

    def call(self, method: str, nsid: str, *, params: dict | None = None, body: Any = None) -> JsonReply:
        if not self.tokens.get("access_jwt"):
            self._renew()
        for attempt in (1, 2):
            try:
                return self._request(method, nsid, self.tokens["access_jwt"], params, body)
            except HttpStatusError as error:
                if attempt == 2 or _error_name(error) not in _EXPIRED:
                    raise _explain(self.target, nsid, error) from None
                self._renew()
        raise AssertionError("unreachable")

    def _request(self, method: str, nsid: str, token: Secret, params: dict | None, body: Any) -> JsonReply:
        return self.client.request_json(
            method, f"/xrpc/{nsid}", params=params, json=body, headers={"Authorization": f"Bearer {token.reveal()}"}
        )

    def _renew(self) -> None:
        if not self._refreshed():
            self._create()  # no refresh token kept, or it expired too (they last weeks): log in again
        self._on_renew(self.tokens)

    def _refreshed(self) -> bool:
        """Renew the session with its refresh token; False when there is none or it expired."""
        refresh = self.tokens.get("refresh_jwt")
        if not refresh:
            return False
        try:
            reply = self._request("POST", "com.atproto.server.refreshSession", refresh, None, None)
        except HttpStatusError as error:
            if _error_name(error) not in _EXPIRED | {"AuthMissing", "AuthenticationRequired"}:
                raise _explain(self.target, "com.atproto.server.refreshSession", error) from None
            return False
        self._take(reply.data)
        return True

    def _create(self) -> None:
        password = self.tokens.get("app_password")
        if not password:
            raise SourceError(f"bluesky: the session of {self.target.key} expired; run `tweetling connect` again")
        reply = self.client.request_json(
            "POST",
            "/xrpc/com.atproto.server.createSession",
            json={"identifier": self.target.handle, "password": password.reveal()},
            explain=lambda error: _explain(self.target, "com.atproto.server.createSession", error),
        )
        self._take(reply.data)

    def _take(self, data: Any) -> None:
        """Keep a session reply's tokens and DID, all checked before any is kept."""
        fields = data if isinstance(data, dict) else {}
        access, refresh, did = (fields.get(name) for name in ("accessJwt", "refreshJwt", "did"))
        if not (_text(access) and _text(refresh) and _text(did) and did.startswith("did:")):
            raise SourceError(
                f"bluesky: unexpected session reply from {self.client.host}"
                " (accessJwt, refreshJwt and did must be strings)"
            )
        self.tokens.update(access_jwt=Secret(access), refresh_jwt=Secret(refresh))
        self.did = did


def _text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def connect(target: Target, base_url: str, password: Secret, bio_line: str | None, options: ClientOptions) -> Connected:
    """Log in once with an app password, put the bot self-label (and BIO_LINE) on the profile."""
    with http_client(base_url, options) as client:
        session = Session.create(client, target, password)
        added_bio, notes = label_profile(session, bio_line)
    notes.insert(0, "labelled as a bot on its profile" + (" and the disclosure added to its bio" if added_bio else ""))
    connection = Connection(
        target=target.key,
        service="bluesky",
        handle=target.handle,
        base_url=base_url,
        account_id=session.did,
        max_chars=BLUESKY_LIMIT,
        bot_flag=True,
        bio_line=added_bio,
        connected_at=now_iso(),
    )
    return Connected(connection, session.tokens, notes)


def label_profile(session: Session, bio_line: str | None) -> tuple[str | None, list[str]]:
    """Add the `bot` self-label, and BIO_LINE to the description, keeping every other field."""
    notes: list[str] = []
    ref = {"repo": session.did, "collection": PROFILE, "rkey": "self"}
    try:
        current = session.call("GET", "com.atproto.repo.getRecord", params=ref).data
    except SourceError as error:
        if "RecordNotFound" not in str(error):
            raise
        current = {"value": {"$type": PROFILE}}
    profile = current.get("value") if isinstance(current, dict) else None
    cid = current.get("cid") if isinstance(current, dict) else None
    # Written back whole: a profile it cannot read is left alone rather than damaged.
    if not isinstance(profile, dict) or not isinstance(profile.get("description", ""), str):
        raise SourceError("bluesky: unexpected reply to com.atproto.repo.getRecord of the profile")
    if cid is not None and not isinstance(cid, str):
        raise SourceError("bluesky: unexpected reply to com.atproto.repo.getRecord of the profile (cid)")
    profile = dict(profile)
    labels = profile.get("labels")
    if not isinstance(labels, dict):
        labels = {}
    values = labels.get("values")
    values = [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
    if not any(v.get("val") == "bot" for v in values):
        values.append({"val": "bot"})
    profile["labels"] = {**labels, "$type": SELF_LABELS, "values": values}
    added = None
    description = profile.get("description") or ""
    if bio_line and bio_line in description:
        added = bio_line
    elif bio_line:
        combined = f"{description.rstrip()}\n\n{bio_line}".strip()
        if graphemes(combined) <= DESCRIPTION_LIMIT:
            profile["description"], added = combined, bio_line
        else:
            notes.append(f"the bio has no room for the disclosure line (at most {DESCRIPTION_LIMIT} characters)")
    # swapRecord: if the profile changed since it was read, the write fails instead of undoing that change.
    body = {**ref, "record": profile, **({"swapRecord": cid} if cid else {})}
    written = session.call("POST", "com.atproto.repo.putRecord", body=body).data
    if not isinstance(written, dict) or not _text(written.get("uri")):  # the label is only claimed once written
        raise SourceError("bluesky: unexpected reply to com.atproto.repo.putRecord of the profile")
    return added, notes


def open_account(connection: Connection, options: ClientOptions) -> BlueskyAccount:
    from . import credentials

    client = http_client(connection.base_url, options)
    target = Target("bluesky", connection.handle)
    session = Session(
        client,
        target,
        credentials.load(connection.target),
        on_renew=lambda tokens: credentials.save(connection.target, tokens),
    )
    session.did = connection.account_id or ""
    return BlueskyAccount(connection, session)


class BlueskyAccount:
    def __init__(self, connection: Connection, session: Session):
        self.connection = connection
        self.session = session
        self.did = connection.account_id or session.did

    def close(self) -> None:
        self.session.client.close()

    def length(self, text: str) -> int:
        return graphemes(text)

    def new_key(self, created_at: str) -> str:
        return record_key(created_at, random.randrange(1024))

    def status_text(self, post: Outgoing) -> str:
        return post.text

    def send(self, post: Outgoing) -> Sent:
        record: dict[str, Any] = {"$type": POST, "text": post.text, "createdAt": atproto_time(post.created_at)}
        if post.reply_to:
            mention = post.reply_to
            parent = {"uri": mention.post_id, "cid": mention.cid}
            root = {"uri": mention.root_id, "cid": mention.root_cid} if mention.root_id else parent
            record["reply"] = {"root": root, "parent": parent}
        reply = self.session.call(
            "POST",
            "com.atproto.repo.putRecord",
            body={"repo": self.did, "collection": POST, "rkey": post.key, "record": record},
        )
        return self._sent(reply.data, post.key)

    def find_sent(self, post: Outgoing) -> Sent | None:
        try:
            reply = self.session.call(
                "GET", "com.atproto.repo.getRecord", params={"repo": self.did, "collection": POST, "rkey": post.key}
            )
        except SourceError as error:
            if "RecordNotFound" in str(error):
                return None
            raise
        return self._sent(reply.data, post.key)

    def _sent(self, data: Any, rkey: str) -> Sent:
        if not isinstance(data, dict):
            raise SourceError("bluesky: unexpected reply to a record write")
        return sent(data.get("uri"), f"https://bsky.app/profile/{self.connection.handle}/post/{rkey}", "bluesky")

    def mentions(self, since: str | None, oldest: str) -> list[Mention]:
        """Mentions indexed after SINCE ('indexedAt uri' of the last one seen), oldest first; the
        feed has no 'since' parameter, so pages are read newest first down to SINCE or OLDEST."""
        since_at, _, since_uri = (since or "").partition(" ")
        floor = max(parse_time(oldest), parse_time(since_at)) if since else parse_time(oldest)
        found: list[Mention] = []
        cursor = None
        for _ in range(_PAGES):
            data = self.session.call(
                "GET",
                "app.bsky.notification.listNotifications",
                params={"limit": 50, "cursor": cursor, "reasons": "mention"},
            ).data
            notifications = data.get("notifications") or [] if isinstance(data, dict) else []
            reached_end = False
            for item in notifications if isinstance(notifications, list) else []:
                if not isinstance(item, dict):
                    continue
                if parse_time(item.get("indexedAt")) < floor or (since and item.get("uri") == since_uri):
                    reached_end = True
                    break
                mention = readable_mention(self._mention, item)
                if mention:
                    found.append(mention)
            cursor = data.get("cursor") if isinstance(data, dict) else None
            if reached_end or not cursor or not notifications:
                break
        return sorted(found, key=lambda m: m.notification_id)

    def _mention(self, item: dict) -> Mention | None:
        record, author = item.get("record") or {}, item.get("author") or {}
        if item.get("reason") != "mention" or not item.get("uri") or not item.get("cid"):
            return None
        if not _text(item["uri"]) or not _text(item["cid"]):  # they go into the reply's record
            raise ValueError("a post uri or cid that is no string")
        if not is_handle(str(author.get("handle") or "")):
            return None
        root = (record.get("reply") or {}).get("root") or {}
        return Mention(
            notification_id=f"{item.get('indexedAt')} {item['uri']}",
            post_id=item["uri"],
            cid=item["cid"],
            root_id=root.get("uri") if _text(root.get("uri")) else None,
            root_cid=root.get("cid") if _text(root.get("cid")) else None,
            author=str(author["handle"]),
            author_is_bot=any(label.get("val") == "bot" for label in author.get("labels") or []),
            text=plain(str(record.get("text") or "")),
            created_at=str(record.get("createdAt") or item.get("indexedAt") or ""),
            is_self=author.get("did") == self.did,
            author_opt_outs=tuple(
                tag_signals([("the display name", author.get("displayName")), ("the bio", author.get("description"))])
            ),
        )

    def thread_depth(self, mention: Mention, limit: int) -> int:
        data = self.session.call(
            "GET",
            "app.bsky.feed.getPostThread",
            params={"uri": mention.post_id, "depth": 0, "parentHeight": limit + 1},
        ).data
        thread = data.get("thread") if isinstance(data, dict) else None
        depth, node = 0, thread.get("parent") if isinstance(thread, dict) else None
        while isinstance(node, dict) and depth <= limit:
            depth += 1
            node = node.get("parent")
        return depth


def _error_name(error: HttpStatusError) -> str | None:
    return error.body.get("error") if isinstance(error.body, dict) else None


def _explain(target: Target, nsid: str, error: HttpStatusError) -> SourceError:
    name, detail = _error_name(error), error_detail(error)
    if nsid == "com.atproto.server.createSession" and error.status == 401:
        return SourceError(
            f"bluesky: {target.handle} could not log in (HTTP 401{detail}); use an app password"
            " (Settings → Privacy and security → App passwords)"
        )
    if name == "RecordNotFound":
        return SourceError(f"bluesky: RecordNotFound for {nsid}")
    if nsid == "com.atproto.repo.putRecord" and error.status == 400 and name == "InvalidRequest":
        return RefusedPost(f"bluesky: the PDS rejected the record (HTTP 400{detail})")
    return SourceError(f"bluesky: {nsid} failed (HTTP {error.status}{detail})")
