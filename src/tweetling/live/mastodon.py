"""Posting to Mastodon from the bot's own account, through the instance's REST API.

https://docs.joinmastodon.org/methods/apps/ (register the app), /methods/oauth/ (the
out-of-band code), /methods/accounts/#update_credentials (the bot flag and bio),
/methods/instance/#v2 (the character limit), /methods/statuses/#create (Idempotency-Key),
/methods/notifications/ (mentions) and /methods/statuses/#context (a thread's depth).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeGuard
from urllib.parse import urlencode

from .. import limits
from ..consent import tag_signals
from ..errors import SourceError
from ..sources.http import HttpClient, HttpStatusError
from ..sources.mastodon import html_to_text
from .compose import MASTODON_DEFAULT_LIMIT, as_reply, graphemes, is_handle, plain
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
    id_order,
    parse_time,
    readable_mention,
    sent,
)
from .targets import Target

log = logging.getLogger("tweetling")
_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")  # Mastodon's numbers, Pleroma's and GoToSocial's letters too
OOB = "urn:ietf:wg:oauth:2.0:oob"  # Mastodon shows the code instead of redirecting
SCOPES = "read:accounts read:notifications read:statuses write:accounts write:statuses"
NOTE_LIMIT = 500  # characters of a profile bio
VISIBILITIES = ("public", "unlisted", "private", "direct")  # most to least public
_PAGES = 10  # notification pages read per poll, 40 each


def connect(
    target: Target,
    base_url: str,
    token: Secret | None,
    ask_code: Callable[[str], str],
    bio_line: str | None,
    options: ClientOptions,
) -> Connected:
    """Authorise (or take TOKEN), check the token is the bot's, mark the account as a bot and
    add BIO_LINE to its profile."""
    secrets: dict[str, Secret] = {}
    if token is None:
        with http_client(base_url, options) as client:
            token, secrets = _authorize(client, ask_code)
    secrets["access_token"] = token
    with http_client(base_url, options, token) as client:
        me = client.get_json("/api/v1/accounts/verify_credentials", explain=_explainer(target)).data
        account_id = _own_account(me, target)
        note = _bio(me)
        limit = instance_limit(client)
        notes = [f"{target.key} may post {limit} characters"]
        fields: dict[str, str] = {}
        if me.get("bot") is not True:
            fields["bot"] = "true"
        if bio_line and bio_line not in note:
            combined = f"{note.rstrip()}\n\n{bio_line}".strip()
            if graphemes(combined) <= NOTE_LIMIT:
                fields["note"] = combined
            else:
                notes.append(f"the bio has no room for the disclosure line (at most {NOTE_LIMIT} characters)")
        if fields:
            me = client.request_json(
                "PATCH", "/api/v1/accounts/update_credentials", form=fields, explain=_explainer(target, "profile")
            ).data
            if not isinstance(me, dict):
                raise SourceError("mastodon: unexpected reply to update_credentials")
    # What the instance answers, not what was asked: some ignore a field they do not support.
    bot_flag = me.get("bot") is True
    kept_bio = bool(bio_line and bio_line in _bio(me))
    notes.append(
        "marked as a bot account"
        if bot_flag
        else f"the instance did not mark {target.key} as a bot: tick “This is an automated account” in its profile"
    )
    if "note" in fields:
        notes.append(
            "the disclosure added to its bio"
            if kept_bio
            else "the instance did not keep the disclosure line in the bio: add it by hand"
        )
    connection = Connection(
        target=target.key,
        service="mastodon",
        handle=target.handle,
        base_url=base_url,
        account_id=account_id,
        max_chars=limit,
        bot_flag=bot_flag,
        bio_line=bio_line if kept_bio else None,
        connected_at=now_iso(),
    )
    return Connected(connection, secrets, notes)


def _bio(account: dict) -> str:
    """An account's bio as typed (source.note), else its HTML as text; an odd one is refused."""
    source = account.get("source", {})
    note = source.get("note") if isinstance(source, dict) else None
    html = account.get("note") or ""
    if not isinstance(source, dict) or not isinstance(note, str | None) or not isinstance(html, str):
        raise SourceError("mastodon: unexpected reply to verify_credentials (source, note)")
    return note if note is not None else html_to_text(html)


def authorize_url(base_url: str, client_id: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": OOB,
        "scope": SCOPES,
        "force_login": "true",  # log in as the bot, not as whoever is logged in in the browser
    }
    return f"{base_url.rstrip('/')}/oauth/authorize?{urlencode(query)}"


def _authorize(client: HttpClient, ask_code: Callable[[str], str]) -> tuple[Secret, dict[str, Secret]]:
    """Register tweetling on the instance and trade the code the operator pastes for a token."""
    app = register_app(client)
    code = ask_code(authorize_url(client.base_url, app["client_id"].reveal()))
    return token_for_code(client, app, code), app


def register_app(client: HttpClient) -> dict[str, Secret]:
    """Register tweetling on the instance: its client id and secret, to ask the operator for a code."""
    app = client.request_json(
        "POST",
        "/api/v1/apps",
        form={"client_name": "tweetling", "redirect_uris": OOB, "scopes": SCOPES},
        explain=lambda e: SourceError(f"mastodon: {client.host} refused to register the app{error_detail(e)}"),
    ).data
    fields = app if isinstance(app, dict) else {}
    client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
    if not isinstance(client_id, str) or not client_id or not isinstance(client_secret, str) or not client_secret:
        raise SourceError(f"mastodon: unexpected reply from {client.host}/api/v1/apps (client_id, client_secret)")
    return {"client_id": Secret(client_id), "client_secret": Secret(client_secret)}


def token_for_code(client: HttpClient, app: dict[str, Secret], code: str) -> Secret:
    """The access token the instance gives for the authorization CODE shown to the operator."""
    code = code.strip()
    if not code:
        raise SourceError("mastodon: no authorization code given")
    token = client.request_json(
        "POST",
        "/oauth/token",
        form={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["client_id"].reveal(),
            "client_secret": app["client_secret"].reveal(),
            "redirect_uri": OOB,
            "scope": SCOPES,
        },
        explain=lambda e: SourceError(f"mastodon: {client.host} did not accept the code{error_detail(e)}"),
    ).data
    if not isinstance(token, dict) or not token.get("access_token") or not isinstance(token["access_token"], str):
        raise SourceError(f"mastodon: unexpected reply from {client.host}/oauth/token")
    return Secret(token["access_token"])


def _own_account(me: Any, target: Target) -> str:
    account_id = me.get("id") if isinstance(me, dict) else None
    username = me.get("username") if isinstance(me, dict) else None
    if not isinstance(account_id, str | int) or isinstance(account_id, bool) or not isinstance(username, str):
        raise SourceError("mastodon: unexpected reply to verify_credentials (id, username)")
    if username.lower() != target.user:
        raise SourceError(f"mastodon: the token belongs to @{plain(username)[:60]}, not to {target.key}")
    return str(account_id)


def instance_limit(client: HttpClient) -> int:
    """Characters a status may have on this instance (configuration.statuses.max_characters)."""
    for path in ("/api/v2/instance", "/api/v1/instance"):
        try:
            data = client.get_json(path).data
        except HttpStatusError:
            continue
        if not isinstance(data, dict):
            continue
        configuration = data.get("configuration")
        statuses = configuration.get("statuses") if isinstance(configuration, dict) else None
        value = (statuses.get("max_characters") if isinstance(statuses, dict) else None) or data.get(
            "max_toot_chars"  # Pleroma's
        )
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return min(value, limits.MAX_POST_CHARS)  # a server's number goes into the store
    return MASTODON_DEFAULT_LIMIT


def open_account(connection: Connection, options: ClientOptions) -> MastodonAccount:
    from . import credentials

    token = credentials.load(connection.target)["access_token"]
    return MastodonAccount(connection, http_client(connection.base_url, options, token))


def stricter_visibility(a: str, b: str | None) -> str:
    """A reply is never more public than the post it answers; than one of a kind not known here
    (local-only, mutuals-only) or none, it is direct: the most private known."""
    if b not in VISIBILITIES:
        return VISIBILITIES[-1]
    return max(a, b, key=VISIBILITIES.index)


class MastodonAccount:
    def __init__(self, connection: Connection, client: HttpClient):
        self.connection = connection
        self.target = Target("mastodon", connection.handle)
        self.client = client

    def close(self) -> None:
        self.client.close()

    def length(self, text: str) -> int:
        return graphemes(text)

    def new_key(self, created_at: str) -> str:
        return str(uuid.uuid4())

    def status_text(self, post: Outgoing) -> str:
        return as_reply("mastodon", post.text, post.reply_to.author) if post.reply_to else post.text

    def send(self, post: Outgoing) -> Sent:
        form = {"status": self.status_text(post), "visibility": post.visibility}
        if post.content_warning:
            form["spoiler_text"] = post.content_warning
        if post.reply_to:
            form["in_reply_to_id"] = post.reply_to.post_id
            form["visibility"] = stricter_visibility(post.visibility, post.reply_to.visibility)
        # The key makes a repeat harmless only where the instance (and every proxy) honours it:
        # a status that may have been made is looked for (`find_sent`) before it is sent again.
        status = self.client.request_json(
            "POST",
            "/api/v1/statuses",
            form=form,
            headers={"Idempotency-Key": post.key},
            explain=_explainer(self.target, "post"),
            resend=False,
        ).data
        if not isinstance(status, dict):  # it may have been made all the same: the next send looks first
            raise SourceError(f"mastodon: unexpected reply from {self.client.host}/api/v1/statuses")
        return sent(status.get("id"), status.get("url"), "mastodon")

    def find_sent(self, post: Outgoing) -> Sent | None:
        """The bot's status made by an earlier, interrupted send of POST, if it arrived (idempotency
        keys last an hour; the timeline check covers a retry after that)."""
        statuses = self.client.get_json(
            f"/api/v1/accounts/{self.connection.account_id}/statuses",
            {"limit": 40, "exclude_reblogs": "true"},
            explain=_explainer(self.target),
        ).data
        started = datetime.fromisoformat(post.created_at) - timedelta(minutes=5)  # clocks differ
        wanted = _comparable(self.status_text(post))
        for status in statuses if isinstance(statuses, list) else []:
            if not isinstance(status, dict):
                continue
            if (
                parse_time(status.get("created_at")) >= started
                and _comparable(_html_text(status.get("content"))) == wanted
            ):
                return sent(status.get("id"), status.get("url"), "mastodon")
        return None

    def mentions(self, since: str | None, oldest: str) -> list[Mention]:
        """Mentions newer than notification SINCE, oldest first (on a first poll: the latest page)."""
        found: dict[str, dict] = {}
        cursor = since
        for _ in range(_PAGES):
            params: dict[str, Any] = {"types[]": "mention", "limit": 40, "min_id": cursor}
            page = self.client.get_json("/api/v1/notifications", params, explain=_explainer(self.target)).data
            if not isinstance(page, list) or not page:
                break
            for notification in page:
                if isinstance(notification, dict) and is_id(notification.get("id")):
                    found[notification["id"]] = notification
                else:  # its id goes into the next request: a page of odd ones is not read on from
                    log.warning("a notification of an unexpected shape was skipped (no usable id)")
            if cursor is None:  # a first poll answers only what is recent, not the account's history
                break
            cursor = max(found, key=id_order)
        ordered = sorted(found.values(), key=lambda n: id_order(n["id"]))
        mentions = [readable_mention(self._mention, n) for n in ordered]
        return [m for m in mentions if m is not None]

    def _mention(self, notification: dict) -> Mention | None:
        status, account = notification.get("status") or {}, notification.get("account") or {}
        if notification.get("type") != "mention" or not status.get("id"):
            return None
        if not is_id(status["id"]):  # it goes into paths and the reply: never a path of its own
            raise ValueError("a status id that is no id")
        if not any(str(m.get("id")) == self.connection.account_id for m in status.get("mentions") or []):
            return None
        author = str(account.get("acct") or "")
        if not is_handle(author):
            return None
        return Mention(
            notification_id=notification["id"],
            post_id=status["id"],
            author=author,
            author_is_bot=bool(account.get("bot")),
            text=plain(html_to_text(status.get("content") or "")),
            created_at=str(status.get("created_at") or notification.get("created_at") or ""),
            visibility=status.get("visibility") if isinstance(status.get("visibility"), str) else None,
            is_self=str(account.get("id")) == self.connection.account_id,
            author_opt_outs=tuple(tag_signals(_profile_texts(account))),
        )

    def thread_depth(self, mention: Mention, limit: int) -> int:
        context = self.client.get_json(
            f"/api/v1/statuses/{mention.post_id}/context", explain=_explainer(self.target)
        ).data
        ancestors = context.get("ancestors") if isinstance(context, dict) else None
        return len(ancestors) if isinstance(ancestors, list) else 0


def _profile_texts(account: dict) -> list[tuple[str, object]]:
    """Where a Mastodon account may carry an opt-out tag: its name, bio and profile fields."""
    texts = [("the display name", account.get("display_name")), ("the bio", _html_text(account.get("note")))]
    fields = account.get("fields")
    for row in fields if isinstance(fields, list) else []:
        if isinstance(row, dict):
            texts += [("a profile field", row.get("name")), ("a profile field", _html_text(row.get("value")))]
    return texts


def _html_text(value: object) -> str:
    return html_to_text(value) if isinstance(value, str) else ""


def is_id(value: object) -> TypeGuard[str]:
    """Whether VALUE may be a status or notification id: a string that is safe in a path."""
    return isinstance(value, str) and bool(_ID.fullmatch(value))


def _comparable(text: str) -> str:
    """Text as the instance shows it back: mentions shortened to @user, HTML spacing."""
    return " ".join(re.sub(r"@\S+", "", text).split())


def _explainer(target: Target, action: str | None = None) -> Callable[[HttpStatusError], SourceError]:
    def explain(error: HttpStatusError) -> SourceError:
        detail = error_detail(error)
        if error.status == 401:
            return SourceError(
                f"mastodon: the instance refused the access token of {target.key} (HTTP 401); "
                f"run `tweetling connect {target.key}` again"
            )
        if error.status == 403:
            return SourceError(
                f"mastodon: the token of {target.key} may not do this (HTTP 403{detail}); "
                f"connect again to grant {SCOPES}"
            )
        if error.status == 422 and action == "post":
            return RefusedPost(f"mastodon: the instance rejected the post (HTTP 422{detail})")
        return SourceError(f"mastodon: {error}{detail}")

    return explain
