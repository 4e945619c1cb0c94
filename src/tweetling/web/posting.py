"""Step 4, post: the accounts a bot posts from, its queue of drafts (approve, edit, reject),
"draft more", "answer mentions" and "post now" — the page over `tweetling.live`, so the CLI and
the page share the same queue, rules and exactly-once posting."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from ..errors import TweetlingError
from ..live import (
    DraftConfig,
    PostOptions,
    Queue,
    ReplyPolicy,
    connections,
    draft_posts,
    draft_replies,
    edit_draft,
    get_connection,
    open_service,
    post_draft,
)
from ..store import Store
from . import render
from .library import BOTS, Progress, bot_folder, no_progress

MAX_DRAFTS = 20  # drafts written per click
RECENT = 10  # posted and rejected drafts still shown
ACTIONS = ("approve", "reject", "edit", "post")


def account_choices() -> list[str]:
    with Store() as store:
        return [connection.target for connection in connections(store)]


def accounts_panel() -> str:
    with Store() as store:
        return render.connections(connections(store))


def queue_panel(bot: str | None) -> str:
    """BOT's drafts waiting for a decision or to be posted, then its latest posted and rejected ones."""
    if not bot:
        return render.drafts([])
    name = bot_folder(bot).name
    with Store() as store:
        queue = Queue(store)
        waiting = queue.drafts(name, ("pending", "approved"))
        done = queue.drafts(name, ("posted", "rejected"))
    return render.drafts(waiting + done[::-1][:RECENT])


def draft_more(
    bot: str | None, n: float | None, target: str | None, progress: Progress = no_progress
) -> tuple[str, str]:
    """Write N more drafts (for TARGET's length limit, or every service's); (queue, what happened)."""
    folder = bot_folder(bot)
    if n is None or int(n) != n or not 1 <= n <= MAX_DRAFTS:
        raise TweetlingError(f"“Drafts” must be a whole number from 1 to {MAX_DRAFTS}")
    if not BOTS.is_loaded(folder.name):
        progress(None, desc=f"loading the bot {folder.name}")
    loaded = BOTS.get(folder.name)
    progress(None, desc=f"writing {int(n)} drafts")
    with Store() as store:
        result = draft_posts(store, loaded, DraftConfig(n=int(n)), target=target or None)
    dropped = ", ".join(f"{count} {why}" for why, count in result.dropped.items() if count)
    note = f"{len(result.drafts)} new drafts of {result.sampled} samples" + (f"; left out {dropped}" if dropped else "")
    return queue_panel(folder.name), render.message(note, "ok" if result.drafts else "warning")


def answer_mentions(bot: str | None, target: str | None, progress: Progress = no_progress) -> tuple[str, str]:
    """Read TARGET's new mentions and queue a reply draft from BOT for each one that `tweetling run
    --reply` would answer (same rules, same position); they wait for approval. (queue, what happened)"""
    folder = bot_folder(bot)
    if not target:
        raise TweetlingError("choose the account in “Post to” whose mentions to answer")
    if not BOTS.is_loaded(folder.name):
        progress(None, desc=f"loading the bot {folder.name}")
    loaded = BOTS.get(folder.name)
    progress(None, desc=f"reading the mentions of {target}")
    policy = ReplyPolicy()
    with Store() as store, closing(open_service(get_connection(store, target))) as account:
        round_ = draft_replies(store, loaded, account, policy)
    drafted = len(round_.drafted)
    parts = [f"{drafted} reply draft{'' if drafted == 1 else 's'} to approve"]
    parts += [f"not answering @{skipped.mention.author}: {skipped.reason}" for skipped in round_.skipped]
    if round_.deferred:
        parts.append(f"{round_.deferred} mentions wait: at most {policy.max_per_hour} replies an hour")
    if not round_.drafted and not round_.skipped and not round_.deferred:
        parts = [f"no new mentions of {target}"]
    return queue_panel(folder.name), render.message("; ".join(parts), "ok" if round_.drafted else "warning")


def queue_action(bot: str | None, target: str | None, action: Any, draft_id: Any, text: Any) -> tuple[str, str]:
    """Approve, reject, edit (with TEXT) or post (to TARGET) one of BOT's drafts; (queue, what happened)."""
    name = bot_folder(bot).name
    if action not in ACTIONS or not isinstance(draft_id, int) or isinstance(draft_id, bool):
        raise TweetlingError("unknown draft action")
    with Store() as store:
        queue = Queue(store)
        if action == "approve":
            queue.approve(draft_id, name)
            note = render.message(f"Draft {draft_id} approved.", "ok")
        elif action == "reject":
            queue.reject(draft_id, name)
            note = render.message(f"Draft {draft_id} rejected.", "ok")
        elif action == "edit":
            if not isinstance(text, str):
                raise TweetlingError("the draft's text is missing")
            edit_draft(store, draft_id, text, name)
            note = render.message(f"Draft {draft_id} saved.", "ok")
        else:
            if not target:
                raise TweetlingError("choose the account to “Post to” first")
            result = post_draft(store, draft_id, target, PostOptions(), bot=name)
            if result.refused:
                note = render.message(f"Draft {draft_id} was not posted: {result.refused}", "warning")
            else:
                where = result.draft.remote_url or result.draft.remote_id or target
                note = render.link_message(f"Draft {draft_id} posted to {target}:", where)
    return queue_panel(name), note
