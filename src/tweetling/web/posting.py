"""Step 4, post: the accounts a bot posts from (connect, disconnect), its queue of drafts
(approve, edit, reject), "draft more", "answer mentions" and "post now" — the page over
`tweetling.live`, so the CLI and the page share the same queue, rules and exactly-once posting."""

from __future__ import annotations

import threading
from contextlib import closing
from typing import Any

from ..bots import read_metadata
from ..errors import TweetlingError
from ..live import (
    ConnectOptions,
    DraftConfig,
    PostOptions,
    Queue,
    ReplyPolicy,
    bio_line,
    connect,
    connections,
    disconnect,
    draft_posts,
    draft_replies,
    edit_draft,
    get_connection,
    open_service,
    parse_target,
    post_draft,
)
from ..live.credentials import Secret
from ..live.mastodon import SCOPES, authorize_url, register_app, token_for_code
from ..live.service import ClientOptions, http_client
from ..live.targets import Target
from ..live.x import OAUTH1_KEYS
from ..sources.http import checked_base_url, checked_token
from ..store import Store
from . import render
from .fields import text, whole_number
from .library import BOTS, Progress, bot_folder, no_progress

# The apps registered for the sign-in links shown, by (account, API root), until their code comes back.
_SIGN_INS: dict[tuple[str, str], dict[str, Secret]] = {}
_SIGN_INS_LOCK = threading.Lock()
MAX_DRAFTS = 20  # drafts written per click
X_KEY_LABELS = ("API key", "API key secret", "Access token", "Access token secret")  # the page's X key fields
RECENT = 10  # posted and rejected drafts still shown
ACTIONS = ("approve", "reject", "edit", "post")


def account_choices() -> list[str]:
    with Store() as store:
        return [connection.target for connection in connections(store)]


def accounts_panel() -> str:
    with Store() as store:
        return render.connections(connections(store))


# What each service needs typed in, said when it is missing. Unlike `tweetling connect`, the page
# never reads a secret from the environment: that is the server's, not the visitor's.
_MISSING = {
    "mastodon": "mastodon: paste an access token of the bot's account into “Access token or app password”"
    f" (Preferences → Development → New application, scopes {SCOPES}), or get a sign-in link and paste its code",
    "bluesky": "bluesky: paste an app password of the bot's account into “Access token or app password”",
    "x": "x: fill in the four “X keys” of your app (or paste a user token)",
}


class _TypedIn:
    """`connect` asks only for what was not given, and the page gives it all or stops before."""

    def authorization_code(self, url: str) -> str:
        raise TweetlingError(_MISSING["mastodon"])

    def app_password(self, handle: str) -> str:
        raise TweetlingError(_MISSING["bluesky"])


def _typed_target(target: str | None) -> Target:
    target = text(target)
    if not target:
        raise TweetlingError("type the bot's own account into “Account”, e.g. mastodon:@bot@botsin.space")
    return parse_target(target)


def _api_root(target: Target, base_url: str | None) -> str:
    return checked_base_url(text(base_url) or target.default_base_url())


def mastodon_sign_in(target: str | None, base_url: str | None = None) -> str:
    """Register tweetling on the Mastodon instance of TARGET and link to its sign-in page, whose
    code `connect_account` then trades for a token (the CLI's `connect` without --token-env)."""
    parsed = _typed_target(target)
    if parsed.service != "mastodon":
        raise TweetlingError("a sign-in link is for Mastodon accounts: Bluesky takes an app password, X its keys")
    root = _api_root(parsed, base_url)
    with closing(http_client(root, ClientOptions())) as client:
        app = register_app(client)
    with _SIGN_INS_LOCK:
        _SIGN_INS[(parsed.key, root)] = app
    return render.link_message(
        "Open this link, sign in as the bot and authorize tweetling; then paste the code it shows into "
        "“Authorization code” and press “Connect”:",
        authorize_url(root, app["client_id"].reveal()),
    )


def connect_account(
    target: str | None,
    secret: str | None,
    x_keys: list[str | None],
    bot: str | None,
    operator: str | None,
    disclose: bool,
    base_url: str | None = None,
    code: str | None = None,
) -> tuple[str, str]:
    """Connect TARGET ('service:handle') with what was typed in: SECRET (a Mastodon access token,
    a Bluesky app password or an X user token), the four X_KEYS, or the CODE of a Mastodon sign-in
    link; with DISCLOSE, BOT's disclosure line (naming its source accounts and the OPERATOR) goes
    into the profile. (accounts, what happened)"""
    parsed = _typed_target(target)
    line = None
    if disclose:
        folder = bot_folder(bot)
        line = bio_line(read_metadata(folder).accounts or [folder.name], text(operator) or None)
    code = text(code)
    secrets = _signed_in(parsed, base_url, code) if code else _typed_secrets(parsed.service, secret, x_keys)
    options = ConnectOptions(base_url=text(base_url) or None, bio_line=line, secrets=secrets)
    with Store() as store:
        result = connect(store, parsed.key, options, _TypedIn())
    if code:
        with _SIGN_INS_LOCK:
            _SIGN_INS.pop((parsed.key, _api_root(parsed, base_url)), None)
    notes = "".join(f"; {note}" for note in result.notes)
    return accounts_panel(), render.message(f"Connected {result.connection.target}{notes}", "ok")


def _signed_in(target: Target, base_url: str | None, code: str) -> dict[str, Secret]:
    """The token (and the app it was given to) for the CODE of the sign-in link made for TARGET."""
    if target.service != "mastodon":
        raise TweetlingError("“Authorization code” is for Mastodon's sign-in link; leave it empty for this account")
    root = _api_root(target, base_url)
    with _SIGN_INS_LOCK:
        app = _SIGN_INS.get((target.key, root))
    if app is None:
        raise TweetlingError(f"press “Get a sign-in link” for {target.key} first, then paste the code it shows")
    with closing(http_client(root, ClientOptions())) as client:
        return {"access_token": token_for_code(client, app, code), **app}


def _typed_secrets(service: str, secret: str | None, x_keys: list[str | None]) -> dict[str, Secret]:
    secret = text(secret)
    keys = [text(key) for key in x_keys] if isinstance(x_keys, list) and len(x_keys) == len(OAUTH1_KEYS) else []
    keys = keys or [""] * len(OAUTH1_KEYS)
    if service == "x" and (any(keys) or not secret):
        if not all(keys):
            raise TweetlingError(_MISSING["x"])
        return {
            name: Secret(checked_token(key, f"“{label}”"))
            for name, key, label in zip(OAUTH1_KEYS, keys, X_KEY_LABELS, strict=True)
        }
    if not secret:
        raise TweetlingError(_MISSING[service])
    if service == "bluesky":  # sent in a JSON body, not a header: any character may be in it
        return {"app_password": Secret(secret)}
    name = {"mastodon": "access_token", "x": "user_token"}[service]
    return {name: Secret(checked_token(secret, "“Access token or app password”"))}


def disconnect_account(target: str | None) -> tuple[str, str]:
    """Forget TARGET's credentials and connection; (accounts, what happened)."""
    if not isinstance(target, str) or not target:
        raise TweetlingError("choose the account to disconnect in “Post to”")
    with Store() as store:
        removed = disconnect(store, target)
    note = f"Disconnected {target}: its credentials are deleted" if removed else f"{target} was not connected"
    return accounts_panel(), render.message(note, "ok" if removed else "warning")


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
    count = whole_number(n, "Drafts", 1, MAX_DRAFTS)
    if not BOTS.is_loaded(folder.name):
        progress(None, desc=f"loading the bot {folder.name}")
    loaded = BOTS.get(folder.name)
    progress(None, desc=f"writing {count} drafts")
    with Store() as store:
        result = draft_posts(store, loaded, DraftConfig(n=count), target=target or None)
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
