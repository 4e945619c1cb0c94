"""Step 4, keep posting: `tweetling run` inside the server. A bot posts its approved drafts to a
connected account on a schedule (optionally writing and approving them itself) and answers
mentions when asked, in a background thread per account, until stopped or the server stops.
The page shows what each one did last and when it posts next."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

from ..bots import Bot
from ..errors import TweetlingError
from ..live import PostOptions, ReplyPolicy, RunConfig, Runner, get_connection, parse_duration
from ..live.runner import MIN_EVERY_S
from ..store import Store
from .feedback import page_words
from .library import bot_folder

EVENTS_KEPT = 20
RUNNING, STOPPING, STOPPED, FAILED = "running", "stopping", "stopped", "failed"


@dataclass(frozen=True)
class AutopilotStatus:
    """What one account's posting loop is doing, safe to read from any thread."""

    target: str
    bot: str
    every_s: float
    jitter_s: float
    auto_approve: bool
    reply: bool
    state: str  # running, stopping, stopped or failed
    started_at: float
    next_post_at: float | None = None  # epoch seconds when the next scheduled post is due (jitter included)
    posted: int = 0
    events: tuple[tuple[float, str], ...] = ()  # (when, what), oldest first

    @property
    def active(self) -> bool:
        return self.state in (RUNNING, STOPPING)


@dataclass
class _Loop:
    status: AutopilotStatus
    stop: threading.Event = field(default_factory=threading.Event)
    events: deque = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    thread: threading.Thread | None = None


def run_config(every: str, jitter: str, auto_approve: bool, reply: bool) -> RunConfig:
    """The schedule the page's fields ask for, in `tweetling run`'s words; an error naming the field."""
    try:
        every_s = parse_duration(every or "")
        jitter_s = parse_duration(jitter or "0")
    except TweetlingError as error:
        raise TweetlingError(f"“Every” and “Jitter”: {error}") from None
    if every_s < MIN_EVERY_S:
        raise TweetlingError(f"“Every” must be at least {MIN_EVERY_S // 60} minutes here, e.g. 3h or 45m")
    if jitter_s >= every_s:
        raise TweetlingError("“Jitter” must be shorter than “Every”")
    return RunConfig(
        every_s=every_s,
        jitter_s=jitter_s,
        auto_approve=bool(auto_approve),
        reply=bool(reply),
        post=PostOptions(),
        replies=ReplyPolicy(),
    )


class Autopilot:
    """The posting loops of the server, one per connected account."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loops: dict[str, _Loop] = {}

    def start(self, bot: str | None, target: str | None, config: RunConfig) -> AutopilotStatus:
        """Start BOT posting to TARGET; refused while that account already has a loop running."""
        name = bot_folder(bot).name
        if not target:
            raise TweetlingError("choose the account in “Post to”")
        with Store() as store:
            target = get_connection(store, target).target  # connected, or a clear error
        with self._lock:
            running = self._loops.get(target)
            if running is not None and running.status.active:
                raise TweetlingError(f"{running.status.bot} is already posting to {target}: stop it first")
            status = AutopilotStatus(
                target, name, config.every_s, config.jitter_s, config.auto_approve, config.reply, RUNNING, time.time()
            )
            loop = _Loop(status)
            loop.thread = threading.Thread(
                target=self._run, args=(loop, config), daemon=True, name=f"tweetling-post-{target}"
            )
            self._loops[target] = loop
            loop.thread.start()
            return status

    def stop(self, target: str | None) -> AutopilotStatus:
        with self._lock:
            loop = self._loops.get(target or "")
            if loop is None or not loop.status.active:
                raise TweetlingError(f"nothing is posting to {target}" if target else "choose the account in “Post to”")
            loop.stop.set()
            loop.status = replace(loop.status, state=STOPPING)
            return loop.status

    def statuses(self) -> list[AutopilotStatus]:
        with self._lock:
            return [loop.status for loop in self._loops.values()]

    def wait(self, target: str, timeout: float | None = None) -> AutopilotStatus | None:
        """Block until TARGET's loop ends (for tests and shutdown)."""
        loop = self._loops.get(target)
        if loop is not None and loop.thread is not None:
            loop.thread.join(timeout)
        return loop.status if loop is not None else None

    def _update(self, loop: _Loop, **changes) -> None:
        with self._lock:
            loop.status = replace(loop.status, events=tuple(loop.events), **changes)

    def _run(self, loop: _Loop, config: RunConfig) -> None:
        status = loop.status

        def say(message: str) -> None:
            loop.events.append((time.time(), page_words(message)))
            self._update(loop)

        def pause(seconds: float) -> None:
            loop.stop.wait(seconds)  # a stop ends the pause at once

        try:
            with Store() as store:
                folder = bot_folder(status.bot)
                runner = Runner(
                    store,
                    status.bot,
                    status.target,
                    config,
                    load_bot=lambda: Bot.load(folder),  # its own copy: the page may generate meanwhile
                    sleep=pause,
                    on_event=say,
                )
                say(f"posting {status.bot} to {status.target}")

                def stopped() -> bool:
                    self._update(loop, next_post_at=runner.next_post_at(), posted=runner.posted)
                    return loop.stop.is_set()

                runner.run(stopped)
        except Exception as error:  # the thread must say why it ended, not die silently
            text = str(error) if isinstance(error, TweetlingError) else f"{type(error).__name__}: {error}"
            say(f"stopped: {text}")
            self._update(loop, state=FAILED, next_post_at=None)
        else:
            say("stopped: approved drafts stay queued")
            self._update(loop, state=STOPPED, next_post_at=None)


AUTOPILOT = Autopilot()
