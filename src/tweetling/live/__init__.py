"""Bots that post: connect the bot's own account, queue drafts for approval, post each once.

The Python API a CLI or web page needs (the store as context: `with Store() as store`):

- accounts: `connect(store, "mastodon:@bot@host", ConnectOptions(...), prompts)`, `connections(store)`,
  `disconnect(store, target)`
- drafts: `draft_posts(store, Bot.load(name), DraftConfig(n=20), target=...)`,
  `Queue(store).drafts(bot)`, `.approve(id)`, `.reject(id)`, `edit_draft(store, id, text)`
- posting: `post_next(store, bot, target, PostOptions())`, `post_draft(store, id, target)`
- replies: `draft_replies(store, Bot.load(name), open_service(get_connection(store, target)))`
- running: `Runner(store, bot, target, RunConfig(...), load_bot=...).run()`

Modules: targets (service:handle), credentials (the 0600 file), compose (what text may be
posted), queue, drafting, publish (exactly once), replies, runner; one client per service:
mastodon, bluesky, x.
"""

from .compose import Blocklist
from .connections import ConnectOptions, Prompts, bio_line, connect, connections, disconnect, get_connection
from .drafting import DraftConfig, DraftResult, bot_key, draft_posts, edit_draft
from .publish import PostOptions, PostResult, post_draft, post_next
from .queue import Draft, Queue
from .replies import ReplyPolicy, draft_replies
from .runner import RunConfig, Runner, parse_duration
from .service import Connection, open_service
from .targets import Target, parse_target

__all__ = [
    "Blocklist",
    "ConnectOptions",
    "Connection",
    "Draft",
    "DraftConfig",
    "DraftResult",
    "PostOptions",
    "PostResult",
    "Prompts",
    "Queue",
    "ReplyPolicy",
    "RunConfig",
    "Runner",
    "Target",
    "bio_line",
    "bot_key",
    "connect",
    "connections",
    "disconnect",
    "draft_posts",
    "draft_replies",
    "edit_draft",
    "get_connection",
    "open_service",
    "parse_duration",
    "parse_target",
    "post_draft",
    "post_next",
]
