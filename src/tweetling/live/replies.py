"""Answering mentions (opt-in): only posts that mention the bot, written with the mention as
context; never to bots, the bot itself or people whose profile opts out of bots (#nobot, #noai,
#nollm), to old mentions, or deep in a thread, and a few an hour.

Mentions are read since the last one handled (kept in the store); a mention's reply draft and
the new position are committed together, so each mention is considered once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..generate import select
from ..store import Store
from . import compose
from .compose import Blocklist
from .drafting import Limit, problem
from .queue import Draft, Queue
from .service import Mention, Service, parse_time

_CONTEXT_CHARS = 280  # the end of a long mention is enough context, and keeps the prompt short


@dataclass(frozen=True)
class ReplyPolicy:
    """Which mentions get an answer; the defaults keep a bot from joining runaway threads."""

    max_age_s: float = 6 * 3600  # mentions older than this are left unanswered
    max_depth: int = 3  # posts above the mention in its thread; deeper ones are left alone
    max_per_hour: int = 5  # replies written (and posted) in any hour
    candidates: int = 6  # samples drawn per mention; the first fit to post is used


@dataclass(frozen=True)
class Skipped:
    mention: Mention
    reason: str


@dataclass
class ReplyRound:
    drafted: list[Draft] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    deferred: int = 0  # mentions left for a later round by the hourly limit


def position_key(bot: str, target: str) -> str:
    return f"live:mentions:{bot}:{target}"


def screen(mention: Mention, account: Service, policy: ReplyPolicy, now: datetime) -> str | None:
    """Why MENTION gets no reply, or None."""
    if mention.is_self:
        return "the bot's own post"
    if mention.author_is_bot:
        return f"@{mention.author} is a bot account"
    if mention.author_opt_outs:
        return f"@{mention.author} opts out of bots ({'; '.join(mention.author_opt_outs)})"
    age = now - parse_time(mention.created_at)
    if age > timedelta(seconds=policy.max_age_s):
        return f"older than {policy.max_age_s / 3600:g} h"
    depth = account.thread_depth(mention, policy.max_depth)
    if depth > policy.max_depth:
        return f"{depth} posts deep in its thread (at most {policy.max_depth})"
    return None


def draft_replies(
    store: Store,
    bot,
    account: Service,
    policy: ReplyPolicy = ReplyPolicy(),
    *,
    auto_approve: bool = False,
    blocklist: Blocklist | None = None,
    now: datetime | None = None,
) -> ReplyRound:
    """Read new mentions of ACCOUNT and queue a reply draft from BOT (a loaded `Bot`) for each one
    that passes `screen` (approved at once with AUTO_APPROVE)."""
    now = now or datetime.now(timezone.utc)
    blocklist = blocklist if blocklist is not None else Blocklist.load()
    queue, target, name = Queue(store), account.connection.target, bot.path.name
    key = position_key(name, target)
    oldest = (now - timedelta(seconds=policy.max_age_s)).isoformat()
    round_ = ReplyRound()
    mentions = account.mentions(store.get_state(key), oldest)
    for i, mention in enumerate(mentions):
        reason = screen(mention, account, policy, now)
        text = None
        if reason is None:
            hour_ago = (now - timedelta(hours=1)).isoformat(timespec="milliseconds")
            if queue.replies_created_since(name, target, hour_ago) >= policy.max_per_hour:
                round_.deferred = len(mentions) - i
                break  # the position stays before this mention: it is read again next round
            text = write_reply(bot, mention, account, policy, blocklist)
            reason = None if text else "no sample was fit to post"
        with store.transaction():
            if text:
                draft = queue.add_reply(name, target, text, mention, status="approved" if auto_approve else "pending")
                if draft:
                    round_.drafted.append(draft)
            store.set_state(key, mention.notification_id)
        if reason:
            round_.skipped.append(Skipped(mention, reason))
    return round_


def reply_context(text: str) -> str:
    """The mention's words as generation context: without @handles and links."""
    words = compose.strip_links(re.sub(r"(?<!\w)@\S+", " ", text))
    return " ".join(words.split())[-_CONTEXT_CHARS:]


def write_reply(bot, mention: Mention, account: Service, policy: ReplyPolicy, blocklist: Blocklist) -> str | None:
    """A reply in BOT's voice: the mention, an end of post, then what the bot samples next, as
    posts followed one another in training. The memorization guard applies as to any draft."""
    prompt = reply_context(mention.text) + bot.prefix
    continuations = bot.sample(prompt, policy.candidates)
    generations = select(
        "", continuations, keep_newlines=bot.keep_newlines, index=bot.memorization_index(), allow_memorized=False
    )
    service = account.connection.service
    limit = Limit(service, account.connection.max_chars)
    for output in generations.outputs:
        text = compose.prepare(output.text)
        if text and not problem(compose.as_reply(service, text, mention.author), [limit], blocklist):
            return text
    return None
