"""Keeping a bot posting in the foreground: the next approved draft every so often (with jitter),
and, opted in, replies to mentions. Network faults are waited out; drafts are never lost.

The schedule is counted from the last post recorded in the store, so a restarted runner waits
out the rest of the interval instead of posting at once (a crash loop cannot flood an account).
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..errors import TweetlingError, one_line
from ..store import Store
from .compose import Blocklist
from .connections import get_connection
from .drafting import DraftConfig, draft_posts
from .publish import PostOptions, PostResult, post_next
from .queue import Draft, Queue
from .replies import ReplyPolicy, ReplyRound, draft_replies, position_key, screen
from .service import ClientOptions, Mention, NoReadAccess, Service, open_service, parse_time

if TYPE_CHECKING:
    from ..bots import Bot

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_DURATION_S = 366 * 86400
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str) -> float:
    """'3h', '30m', '1h30m', '90s', '2d' or plain seconds -> seconds, at most a year."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value)
    else:
        parts = _DURATION.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise TweetlingError(f"invalid duration {text[:40]!r}: use e.g. 3h, 30m, 1h30m or 90s")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds > _MAX_DURATION_S:  # beyond it, the clock's arithmetic overflows
        raise TweetlingError(f"the duration {text[:40]!r} is longer than a year")
    return seconds


# A rate limit asking for longer ends the step instead: said, not a silent block of an hour.
MAX_RATE_LIMIT_WAIT_S = 15 * 60


# A bot posting more often floods its followers and breaks servers' rules for bots; and a bare
# number is seconds, so "--every 3" must not mean a post every 3 seconds.
MIN_EVERY_S = 10 * 60


@dataclass(frozen=True)
class RunConfig:
    """How `tweetling run` paces a bot."""

    every_s: float = 3 * 3600  # between scheduled posts
    jitter_s: float = 30 * 60  # each interval is moved by up to this much, either way
    auto_approve: bool = False  # post drafts without a human's approval (written when the queue is empty)
    reply: bool = False  # answer mentions (see ReplyPolicy)
    poll_s: float = 120.0  # how often mentions and the queue are checked
    batch: int = 10  # drafts written at a time by auto-approve
    max_posts: int | None = None  # stop after this many scheduled posts
    post: PostOptions = field(default_factory=PostOptions)
    replies: ReplyPolicy = field(default_factory=ReplyPolicy)

    def __post_init__(self) -> None:
        if self.every_s <= 0 or self.poll_s <= 0:
            raise TweetlingError("the posting interval and the polling interval must be positive")
        if self.every_s < MIN_EVERY_S:
            raise TweetlingError(
                f"a bot posts at most once every {MIN_EVERY_S // 60} minutes, not every {self.every_s:g} s: e.g. 3h or 45m"
            )
        if not 0 <= self.jitter_s < self.every_s:
            raise TweetlingError("the jitter must be at least 0 and shorter than the interval")


@dataclass(frozen=True)
class Planned:
    at: float  # epoch seconds (± the jitter)
    draft: Draft


class Runner:
    """One bot posting to one account. `step()` does what is due and says how long to wait."""

    def __init__(
        self,
        store: Store,
        bot: str,
        target: str,
        config: RunConfig = RunConfig(),
        *,
        load_bot: Callable[[], Bot],
        service: Service | None = None,
        blocklist: Blocklist | None = None,
        client: ClientOptions = ClientOptions(),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        on_event: Callable[[str], None] = lambda message: None,
    ):
        self.store = store
        self.bot_name = bot
        self.connection = get_connection(store, target)
        self.config = config
        self.replying = config.reply  # off for the rest of the run when the keys may not read mentions
        self.queue = Queue(store)
        self.clock, self.sleep = clock, sleep
        self.service = service or open_service(self.connection, self._patient(client))
        self.blocklist = blocklist if blocklist is not None else Blocklist.load()
        self.rng = rng or random.Random()
        self.emit = on_event
        self.posted = 0
        self._load_bot = load_bot
        self._bot: Bot | None = None
        self._offset = self._draw_offset()
        self._next_poll = 0.0
        last = self.queue.last_posted_at(bot, self.connection.target)
        self._last_post: float | None = parse_time(last).timestamp() if last else None

    @property
    def target(self) -> str:
        return self.connection.target

    @property
    def bot(self) -> Bot:
        if self._bot is None:  # only auto-approve and replies need the model
            self._bot = self._load_bot()
        return self._bot

    def next_post_at(self) -> float:
        if self._last_post is None:
            return self.clock()
        return self._last_post + self.config.every_s + self._offset

    def run(self, stopped: Callable[[], bool] = lambda: False) -> None:
        """Post and reply until MAX_POSTS scheduled posts are out (forever without it), or until
        STOPPED says so (checked after each step and each pause)."""
        try:
            while not self.done and not stopped():
                pause = self.step()
                if not self.done and not stopped():
                    self.sleep(pause)
        finally:
            self.service.close()

    @property
    def done(self) -> bool:
        return self.config.max_posts is not None and self.posted >= self.config.max_posts

    def step(self) -> float:
        """Do what is due now: answer mentions, post when the time has come. Seconds until the next step."""
        now = self.clock()
        try:
            if self.replying and now >= self._next_poll:
                self._next_poll = now + self.config.poll_s
                self._reply()
            if now >= self.next_post_at() and self._post() is None:
                return self.config.poll_s  # nothing approved: look again later
        except NoReadAccess as error:  # asking again cannot help: post on, without replies
            self.replying = False
            self.emit(f"{error}; not answering mentions in this run")
            return 0.0
        except (TweetlingError, OSError, sqlite3.Error) as error:  # the service, the network, the store, the disk
            self.emit(f"{one_line(error)}; trying again in {self.config.poll_s:.0f} s")
            return self.config.poll_s
        if self.done:
            return 0.0
        wake = min(self.next_post_at(), self._next_poll) if self.replying else self.next_post_at()
        return max(wake - self.clock(), 0.0)

    def _patient(self, client: ClientOptions) -> ClientOptions:
        """CLIENT waiting out at most MAX_RATE_LIMIT_WAIT_S per request, and saying so: a longer
        wait ends the step, and the next one tries again. It waits with the runner's sleep, which
        a stop may cut short (the web app's Stop)."""
        retry = replace(client.retry, max_rate_limit_wait=min(client.retry.max_rate_limit_wait, MAX_RATE_LIMIT_WAIT_S))
        return replace(client, retry=retry, on_wait=client.on_wait or self._say_wait, sleep=client.sleep or self.sleep)

    def _say_wait(self, seconds: float, reason: str) -> None:
        self.emit(f"{reason}: waiting {seconds:.0f} s")

    def _post(self) -> PostResult | None:
        """The next scheduled post; None when none went out (nothing approved, or it was refused)."""
        result = self._post_next(replies=False)
        if result is None and self.config.auto_approve:
            drafted = draft_posts(
                self.store, self.bot, DraftConfig(n=self.config.batch), target=self.target, blocklist=self.blocklist
            )
            for draft in drafted.drafts:
                self.queue.approve(draft.id)
            self.emit(f"auto-approved {len(drafted.drafts)} new drafts")
            result = self._post_next(replies=False)
        if result is None:
            self.emit(f"no approved drafts for {self.target}; approve some with `tweetling queue {self.bot_name}`")
            return None
        if result.refused:  # the next draft waits for the next step: a service refusing all costs one a step
            return None
        self.posted += 1
        self._last_post = self.clock()
        self._offset = self._draw_offset()
        return result

    def _reply(self) -> None:
        round_: ReplyRound = draft_replies(
            self.store,
            self.bot,
            self.service,
            self.config.replies,
            auto_approve=self.config.auto_approve,
            blocklist=self.blocklist,
        )
        for skipped in round_.skipped:
            self.emit(f"not answering @{skipped.mention.author}: {skipped.reason}")
        for draft in round_.drafted:
            waiting = "" if draft.status == "approved" else " (waiting for approval)"
            to = f" to @{draft.reply_to.author}" if draft.reply_to else ""
            self.emit(f"reply draft {draft.id}{to}{waiting}")
        if round_.deferred:
            self.emit(f"{round_.deferred} mentions wait: at most {self.config.replies.max_per_hour} replies an hour")
        hour_ago = datetime.fromtimestamp(self.clock() - 3600, timezone.utc).isoformat(timespec="milliseconds")
        while (
            self.queue.posted_count(self.bot_name, self.target, hour_ago, replies=True)
            < self.config.replies.max_per_hour
        ):
            result = self._post_next(replies=True)
            if result is None or result.refused:
                break

    def _post_next(self, *, replies: bool) -> PostResult | None:
        result = post_next(
            self.store,
            self.bot_name,
            self.target,
            self.config.post,
            replies=replies,
            service=self.service,
            blocklist=self.blocklist,
        )
        kind = "reply" if replies else "draft"
        if result is not None and result.refused:
            self.emit(f"{kind} {result.draft.id} not posted, rejected: {result.refused}")
        elif result is not None:
            where = result.draft.remote_url or result.draft.remote_id or self.target
            self.emit(f"posted {kind} {result.draft.id} → {where}")
        return result

    def _draw_offset(self) -> float:
        return self.rng.uniform(-self.config.jitter_s, self.config.jitter_s)

    # dry run

    def plan(self, slots: int = 5) -> list[Planned]:
        """The approved drafts that would go out next and when (each time ± the jitter)."""
        drafts = [
            draft
            for draft in self.queue.drafts(self.bot_name, ("approved",), replies=False)
            if (draft.intent.target == self.target if draft.intent else draft.target in (None, self.target))
        ]
        start = max(self.next_post_at() - self._offset, self.clock())
        return [Planned(start + i * self.config.every_s, draft) for i, draft in enumerate(drafts[:slots])]

    def preview_replies(self) -> list[tuple[Mention, str | None]]:
        """New mentions and why each would be skipped (None: it would be answered); nothing is stored."""
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        since = self.store.get_state(position_key(self.bot_name, self.target))
        oldest = datetime.fromtimestamp(self.clock() - self.config.replies.max_age_s, timezone.utc).isoformat()
        return [(m, screen(m, self.service, self.config.replies, now)) for m in self.service.mentions(since, oldest)]
