"""Download one account's public posts from a network source into the store, page by page.

A fetch walks the account's posts newest to oldest. Each page's posts and the cursor of the
next page commit in one transaction, so an interrupted walk loses at most the page in flight
and the next run resumes it. A walk that starts after a complete one asks only for posts newer
than the newest stored post (its "floor"), so a second fetch is incremental.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import limits
from .errors import SourceError, TweetlingError
from .paths import checked_name
from .sources import bluesky, mastodon, shown, x_api
from .sources.http import HttpClient, NetworkSource, OnWait, Page, RetryPolicy, checked_base_url
from .store import Store

OnProgress = Callable[[int, "int | None"], None]  # (posts fetched this run, posts expected or None)

_MODULES = {"mastodon": mastodon, "bluesky": bluesky, "x": x_api}
SOURCES = tuple(_MODULES)
# How each source is opened: (handle, account, client, token) -> the source.
_OPENERS: dict[str, Callable[[str, str, HttpClient, str | None], NetworkSource]] = {
    "mastodon": lambda handle, account, client, token: mastodon.MastodonSource(
        handle, account, client, has_token=token is not None
    ),
    "bluesky": lambda handle, account, client, token: bluesky.BlueskySource(handle, account, client),
    "x": lambda handle, account, client, token: x_api.XApiSource(handle, account, client),
}


@dataclass(frozen=True)
class FetchOptions:
    account: str | None = None  # store the posts under this name instead of the handle
    max_posts: int | None = None  # stop after this many posts; the next run continues the walk
    base_url: str | None = None  # API root instead of the public service (a test or self-hosted server)
    token_env: str | None = None  # environment variable holding the token; default: the source's usual one
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.base_url:
            checked_base_url(self.base_url)


@dataclass(frozen=True)
class FetchResult:
    account: str
    source: str
    added: int
    updated: int
    pages: int
    complete: bool  # False: stopped early (--max-posts); the next run continues from the saved cursor


def parse_target(target: str) -> tuple[str, str]:
    """'mastodon:@user@instance.social' -> ('mastodon', '@user@instance.social')."""
    source, sep, handle = target.partition(":")
    source = source.strip().lower()
    if not sep or source not in SOURCES or not handle.strip():
        raise TweetlingError(
            f"invalid source {target!r}: use mastodon:@user@instance.social, bluesky:user.bsky.social or x:username"
        )
    return source, handle.strip()


def account_name(target: str) -> str:
    """The tweetling account name a target's posts are stored under by default."""
    source, handle = parse_target(target)
    return checked_name(_MODULES[source].account_name(handle))


def state_key(source: str, account: str) -> str:
    return f"fetch:{source}:{account}"


def fetch(
    store: Store,
    target: str,
    options: FetchOptions = FetchOptions(),
    *,
    on_progress: OnProgress | None = None,
    on_wait: OnWait | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchResult:
    """Fetch TARGET ('source:handle') into STORE; resume an interrupted walk or fetch newer posts."""
    source, handle = parse_target(target)
    account = checked_name(options.account or account_name(target))
    token = _token(source, options.token_env)
    base_url = options.base_url or _MODULES[source].default_base_url(handle)
    with HttpClient(base_url, token=token, policy=options.retry, on_wait=on_wait, sleep=sleep) as client:
        remote = _OPENERS[source](handle, account, client, token)
        return _walk(store, remote, account, options.max_posts, on_progress)


def _walk(
    store: Store, remote: NetworkSource, account: str, max_posts: int | None, on_progress: OnProgress | None
) -> FetchResult:
    info = remote.lookup()
    key = state_key(remote.source, account)
    walk = store.get_state(key)
    if walk is None:  # a new walk: down to the newest post we have, or to the oldest one there is
        newest = store.newest_post(remote.source, account)
        walk = {"cursor": None, "floor": newest.post_id if newest else None}
    expected = None
    if info.post_count is not None:
        expected = max(info.post_count - store.count_posts(account), 0)
        expected = min(expected, max_posts) if max_posts else expected
    fetched = added = updated = pages = 0
    complete = False
    cursors_seen: set[str | None] = {walk["cursor"]}
    posts_seen: set[str] = set()
    while max_posts is None or fetched < max_posts:
        if pages >= limits.MAX_PAGES_PER_RUN:
            raise SourceError(
                f"{remote.source}: stopped after {pages:,} pages, the most one run walks; the pages so far"
                " are saved: run the same command again to continue"
            )
        wanted = remote.page_size if max_posts is None else min(remote.page_size, max_posts - fetched)
        page = remote.page(walk["cursor"], walk["floor"], max(wanted, remote.min_page_size))
        _check_progress(remote, page, walk["cursor"], cursors_seen, posts_seen)
        posts = page.posts[:wanted]
        # A cut page keeps its cursor: the next run asks for it again and skips what it has.
        cut = len(posts) < len(page.posts)
        next_cursor = walk["cursor"] if cut else page.next_cursor
        with store.transaction():
            if pages == 0:
                store.upsert_account(info.profile)
            result = store.upsert_posts(posts)
            # A walk never revisits its own pages, so a post stored before was stored by an earlier walk.
            reached_known = not remote.filters_newer and walk["floor"] is not None and result.added < len(posts)
            complete = not cut and (next_cursor is None or reached_known)
            walk = {"cursor": next_cursor, "floor": walk["floor"]}
            store.set_state(key, None if complete else walk)
        fetched += len(posts)
        added += result.added
        updated += result.updated
        pages += 1
        if on_progress:
            on_progress(fetched, expected)
        if complete:
            break
    return FetchResult(account, remote.source, added, updated, pages, complete)


def _check_progress(
    remote: NetworkSource, page: Page, cursor: str | None, cursors_seen: set[str | None], posts_seen: set[str]
) -> None:
    """Refuse a page that would make the walk go round in circles: a cursor given before, or a
    page of posts all seen before in this run (a server that ignores the cursor)."""
    where = f"{remote.source}: the page after cursor {shown(cursor)}"
    if page.next_cursor is not None and len(page.next_cursor) > limits.MAX_CURSOR_CHARS:
        raise SourceError(f"{where} names a next cursor of {len(page.next_cursor):,} characters; stopping")
    ids = {post.post_id for post in page.posts}
    if ids and ids <= posts_seen:
        raise SourceError(f"{where} repeats posts already fetched in this run: the server is not paging; stopping")
    if page.next_cursor in cursors_seen and page.next_cursor is not None:
        raise SourceError(f"{where} points back to a cursor already used in this run; stopping")
    posts_seen.update(ids)
    cursors_seen.add(page.next_cursor)


def _token(source: str, token_env: str | None) -> str | None:
    """The API token from the environment; only its variable's name ever appears in messages."""
    if token_env:
        value = os.environ.get(token_env)
        if not value:
            raise SourceError(f"{source}: environment variable {token_env} is not set or empty")
        return value
    if source != "x":  # Mastodon tokens belong to one instance: sent only when asked for
        return None
    value = next((os.environ[name] for name in x_api.TOKEN_ENVS if os.environ.get(name)), None)
    if not value:
        raise SourceError(
            "x: the X API needs a bearer token: set X_BEARER_TOKEN (or TWITTER_BEARER_TOKEN),"
            " or name another variable with --token-env"
        )
    return value
