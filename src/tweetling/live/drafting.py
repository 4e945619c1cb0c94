"""Writing drafts: sampled posts that pass the memorization guard, the operator's blocklist and
the length limit of where they may go, queued for a human to approve."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import bots
from ..errors import TweetlingError
from ..generate import GenerateConfig
from ..store import Store
from . import compose
from .compose import Blocklist
from .connections import connections
from .queue import Draft, Queue
from .targets import parse_target


def bot_key(name_or_path: str | Path) -> str:
    """The name a bot's drafts are queued under: its folder's name."""
    return bots.resolve(name_or_path).name


@dataclass(frozen=True)
class Limit:
    service: str
    max_chars: int

    def excess(self, text: str) -> int:
        """Characters over the limit, as the service counts them (0 when it fits)."""
        return max(compose.length(text, self.service) - self.max_chars, 0)


def limits(store: Store, target: str | None) -> list[Limit]:
    """The limits a draft must meet: TARGET's, or without one every service's (a Mastodon
    instance's from its connection, else Mastodon's default)."""
    if target is not None:
        key = parse_target(target).key
        connected = {c.target: c for c in connections(store)}
        if key in connected:
            return [Limit(connected[key].service, connected[key].max_chars)]
        service = parse_target(target).service
        default = {"x": compose.X_LIMIT, "bluesky": compose.BLUESKY_LIMIT}.get(service, compose.MASTODON_DEFAULT_LIMIT)
        return [Limit(service, default)]
    mastodon = [c.max_chars for c in connections(store) if c.service == "mastodon"]
    return [
        Limit("x", compose.X_LIMIT),
        Limit("bluesky", compose.BLUESKY_LIMIT),
        Limit("mastodon", min(mastodon, default=compose.MASTODON_DEFAULT_LIMIT)),
    ]


def problem(text: str, limits_: list[Limit], blocklist: Blocklist) -> str | None:
    """Why TEXT (already prepared) may not be posted, or None."""
    if not text:
        return "empty"
    blocked = blocklist.match(text)
    if blocked:
        return f"blocked: contains {blocked!r}"
    for limit in limits_:
        if limit.excess(text):
            return f"too long: {limit.excess(text)} characters over {limit.service}'s {limit.max_chars}"
    return None


@dataclass(frozen=True)
class DraftConfig:
    """How drafts are written; generation itself follows GenerateConfig."""

    n: int = 20  # posts sampled; fewer are queued when some are dropped
    prompt: str = ""  # start of every post ("" : from scratch)
    seed: int | None = None
    generate: GenerateConfig = field(default_factory=GenerateConfig)


@dataclass
class DraftResult:
    drafts: list[Draft]
    sampled: int
    dropped: dict[str, int]  # reason → count: empty, duplicate, memorized, blocked, too long, queued


def draft_posts(
    store: Store,
    bot,
    config: DraftConfig = DraftConfig(),
    *,
    target: str | None = None,
    blocklist: Blocklist | None = None,
) -> DraftResult:
    """Sample CONFIG.n posts from BOT (a loaded `Bot`) and queue those fit to post as pending drafts."""
    if config.generate.allow_memorized:
        raise TweetlingError("drafts never keep memorized posts: the guard cannot be turned off for posting")
    blocklist = blocklist if blocklist is not None else Blocklist.load()
    target_key = parse_target(target).key if target else None
    rules = limits(store, target_key)
    generations = bot.generate(config.prompt, n=config.n, seed=config.seed, config=config.generate)
    dropped = {
        "empty": generations.dropped_empty,
        "duplicate": generations.dropped_duplicate,
        "memorized": generations.dropped_memorized,
        "blocked": 0,
        "too long": 0,
        "queued": 0,
    }
    queue = Queue(store)
    name = bot.path.name
    known = {d.text for d in queue.drafts(name, ("pending", "approved", "posted"))}
    texts: list[str] = []
    for output in generations.outputs:
        text = compose.prepare(output.text)
        why = problem(text, rules, blocklist)
        if why:
            dropped[why.split(":")[0]] += 1
        elif text in known or text in texts:
            dropped["queued"] += 1
        else:
            texts.append(text)
    drafts = queue.add(name, texts, target=target_key, prompt=config.prompt or None)
    return DraftResult(drafts, generations.sampled, dropped)


def edit_draft(store: Store, draft_id: int, text: str, bot: str | None = None, blocklist: Blocklist | None = None):
    """Replace a draft's text with the operator's, held to the same rules as generated text."""
    queue = Queue(store)
    draft = queue.get(draft_id)
    prepared = compose.prepare(text)
    sent = prepared
    if draft.reply_to and draft.target:
        sent = compose.as_reply(parse_target(draft.target).service, prepared, draft.reply_to.author)
    why = problem(sent if prepared else "", limits(store, draft.target), blocklist or Blocklist.load())
    if why:
        raise TweetlingError(f"draft {draft_id}: the new text is {why}")
    return queue.edit(draft_id, prepared, bot)
