"""Posting approved drafts, each exactly once.

1) The intent (target, idempotency key, time) is committed before the request leaves.
2) The request carries the key: Mastodon's Idempotency-Key, Bluesky's record key; X has none.
3) The service's id is committed when the reply arrives.
A draft left between 1) and 3), by a crash or a network error, stays approved with its intent:
the next attempt first asks the service whether it arrived, and otherwise sends it again with
the same key. One process at a time posts a bot to an account (a lock file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .. import paths
from ..errors import TweetlingError
from ..store import Store
from . import compose
from .compose import Blocklist
from .connections import get_connection
from .drafting import Limit, problem
from .mastodon import VISIBILITIES
from .queue import Draft, Queue, now_iso
from .service import ClientOptions, DuplicatePost, Outgoing, RefusedPost, Sent, Service, open_service


@dataclass(frozen=True)
class PostOptions:
    """How posts go out; both apply to Mastodon only."""

    visibility: str = "unlisted"  # public, unlisted (not on public timelines), private (followers) or direct
    content_warning: str | None = None  # shown before the post, which stays folded behind it

    def __post_init__(self) -> None:
        if self.visibility not in VISIBILITIES:
            raise TweetlingError(f"invalid visibility {self.visibility!r}: use one of {', '.join(VISIBILITIES)}")


@dataclass(frozen=True)
class PostResult:
    draft: Draft  # as it is now: posted, rejected (refused), or unchanged (dry run)
    text: str  # what was (or would be) sent
    dry_run: bool = False
    resumed: bool = False  # an earlier, interrupted send of this draft was finished
    refused: str | None = None  # why the draft was not posted and is now rejected


def post_next(
    store: Store,
    bot: str,
    target: str,
    options: PostOptions = PostOptions(),
    *,
    replies: bool = False,
    dry_run: bool = False,
    service: Service | None = None,
    blocklist: Blocklist | None = None,
    client: ClientOptions = ClientOptions(),
) -> PostResult | None:
    """Post BOT's next approved draft (REPLIES: its next approved reply) to TARGET; None when
    there is none. A draft that cannot be posted is rejected with the reason and returned: the
    next call tries the next one, so a service that refuses every post costs one draft, not the queue."""
    connection = get_connection(store, target)
    queue = Queue(store)
    with _lock(bot, connection.target), _service(connection, service, client) as account:
        draft = queue.next_to_send(bot, connection.target, replies=replies)
        if draft is None:
            return None
        return _post(queue, draft, account, options, dry_run, blocklist or Blocklist.load())


def post_draft(
    store: Store,
    draft_id: int,
    target: str,
    options: PostOptions = PostOptions(),
    *,
    bot: str | None = None,
    dry_run: bool = False,
    service: Service | None = None,
    blocklist: Blocklist | None = None,
    client: ClientOptions = ClientOptions(),
) -> PostResult:
    """Post one approved draft (of BOT, when given) to TARGET: the web app's "post this one"."""
    connection = get_connection(store, target)
    queue = Queue(store)
    draft = queue.get(draft_id)
    if bot is not None and draft.bot != bot:
        raise TweetlingError(f"draft {draft_id} belongs to bot {draft.bot!r}, not {bot!r}")
    with _lock(draft.bot, connection.target), _service(connection, service, client) as account:
        return _post(queue, queue.get(draft_id), account, options, dry_run, blocklist or Blocklist.load())


def _post(
    queue: Queue, draft: Draft, account: Service, options: PostOptions, dry_run: bool, blocklist: Blocklist
) -> PostResult:
    target = account.connection.target
    _check_postable(draft, target)
    text = compose.prepare(draft.text)
    intent = draft.intent
    if intent is not None:  # interrupted before its id was recorded: the same key again
        post = _outgoing(text, intent.key, intent.started_at, options, draft)
    else:
        started = now_iso()
        post = _outgoing(text, account.new_key(started), started, options, draft)
    sent_text = account.status_text(post)
    why = problem(sent_text, [Limit(account.connection.service, account.connection.max_chars)], blocklist)
    if dry_run:
        return PostResult(draft, sent_text, dry_run=True, resumed=intent is not None, refused=why)
    if intent is not None:
        sent = account.find_sent(post)  # did it arrive?
        if sent is not None:
            note = "confirmed after an interrupted send"
            return PostResult(queue.record_posted(draft, sent, note), sent_text, resumed=True)
    if why:
        return PostResult(queue.abandon_send(draft, f"not posted: {why}"), sent_text, refused=why)
    if intent is None:
        draft = queue.begin_send(draft, target, post.key, post.created_at)
    try:
        sent = account.send(post)
    except DuplicatePost as error:
        if intent is None:  # a text it had before this draft: posting it would be a repeat
            return PostResult(queue.abandon_send(draft, f"not posted: {error}"), sent_text, refused=str(error))
        note = "the service already had it: the interrupted send had arrived"
        return PostResult(queue.record_posted(draft, Sent(""), note), sent_text, resumed=True)
    except RefusedPost as error:
        return PostResult(queue.abandon_send(draft, f"not posted: {error}"), sent_text, refused=str(error))
    return PostResult(queue.record_posted(draft, sent), sent_text, resumed=intent is not None)


def _check_postable(draft: Draft, target: str) -> None:
    if draft.status == "posted":
        where = draft.remote_url or draft.remote_id or draft.posted_to
        raise TweetlingError(f"draft {draft.id} is already posted ({where}); a draft is posted once")
    if draft.status != "approved":
        raise TweetlingError(f"draft {draft.id} is {draft.status}: approve it before posting")
    if draft.intent and draft.intent.target != target:
        raise TweetlingError(
            f"draft {draft.id} was being sent to {draft.intent.target}; post it there to finish that send"
        )
    if draft.target and draft.target != target:
        raise TweetlingError(f"draft {draft.id} is for {draft.target}, not {target}")


def _outgoing(text: str, key: str, created_at: str, options: PostOptions, draft: Draft) -> Outgoing:
    return Outgoing(
        text=text,
        key=key,
        created_at=created_at,
        visibility=options.visibility,
        content_warning=options.content_warning,
        reply_to=draft.reply_to,
    )


@contextmanager
def _service(connection, service: Service | None, client: ClientOptions) -> Iterator[Service]:
    if service is not None:
        yield service
        return
    account = open_service(connection, client)
    try:
        yield account
    finally:
        account.close()


@contextmanager
def _lock(bot: str, target: str) -> Iterator[None]:
    """Fail rather than wait when another process is posting BOT to TARGET."""
    import fcntl

    name = re.sub(r"[^A-Za-z0-9_.@-]", "_", f"{bot}--{target}")
    folder = paths.home() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TweetlingError(f"another tweetling process is posting {bot} to {target}; try again later") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
