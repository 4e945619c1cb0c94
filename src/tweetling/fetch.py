"""Download one account's public posts from a network source into the store, page by page.

A fetch first reads the account's profile and stops if it opts out of bots and AI training
(`tweetling.consent`), unless the user owns the account; what the check found is recorded.

A fetch walks the account's posts newest to oldest. Each page's posts and the cursor of the
next page commit in one transaction, so an interrupted walk loses at most the page in flight
and the next run resumes it. A walk that starts after a complete one asks only for posts newer
than the newest stored post (its "floor"), so a second fetch is incremental.

Deleted posts are found by full walks: the first fetch of an account, a fetch with
`check_deletions`, and a fetch when the last full walk is older than `recheck_days` walk every
post the source serves, stamping each one seen. When such a walk completes, the account's
stored posts from that source it did not return, within the window it covered, are marked
deleted (`Store.mark_unseen_deleted`) and left out of new datasets; a post a later fetch returns
again loses its mark.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from . import consent, limits
from .errors import SourceError, TweetlingError
from .paths import checked_name
from .provenance import FETCHED, Origin
from .sources import bluesky, mastodon, shown, x_api
from .sources.http import HttpClient, NetworkSource, OnWait, Page, RetryPolicy, checked_base_url, checked_token
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
    account_owner: bool = False  # the user owns the account: fetch even if its profile opts out (recorded)
    check_deletions: bool = False  # walk every post now, to find those deleted at the source
    recheck_days: float | None = 30.0  # ... and whenever the last full walk is older than this (None: never)

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
    not_public: int = 0  # followers-only and direct posts the server returned, not stored
    deleted: int | None = None  # posts newly marked deleted at the source; None: no full walk completed
    consent: consent.ConsentCheck | None = None  # what the opt-out check found
    moved_from: dict[str, int] = field(default_factory=dict)  # see UpsertResult


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
        return _walk(
            store,
            remote,
            account,
            options.max_posts,
            on_progress,
            who=f"{source}: {handle}",
            host=client.host,
            has_token=token is not None,
            options=options,
        )


def _walk(
    store: Store,
    remote: NetworkSource,
    account: str,
    max_posts: int | None,
    on_progress: OnProgress | None,
    *,
    who: str | None = None,
    host: str | None = None,
    has_token: bool = False,
    options: FetchOptions = FetchOptions(),
) -> FetchResult:
    info = remote.lookup()
    check = _consent(store, remote, info.opt_outs, account, who or f"{remote.source}: {account}", options, has_token)
    key = state_key(remote.source, account)
    walk = store.get_state(key)
    if walk is None:
        walk = _new_walk(store, remote.source, account, options)
    expected = None
    if info.post_count is not None:
        expected = max(info.post_count - store.count_posts(account), 0)
        expected = min(expected, max_posts) if max_posts else expected
    fetched = added = updated = pages = not_public = 0
    moved_from: Counter[str] = Counter()
    deleted = None
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
                origin = Origin(
                    remote.source,
                    FETCHED,
                    host,
                    opt_out_checked_at=check.checked_at,
                    opt_outs=check.opt_outs,
                    owner=check.owner,
                )
                store.record_origin(account, origin)
            # A post the source returns exists: it loses a deletion mark it had.
            result = store.upsert_posts(posts, seen_at=walk.get("check") or check.checked_at, revive=True)
            # A walk never revisits its own pages, so a post stored before was stored by an earlier walk.
            reached_known = not remote.filters_newer and walk["floor"] is not None and result.added < len(posts)
            complete = not cut and (next_cursor is None or reached_known)
            walk = {**walk, "cursor": next_cursor}
            store.set_state(key, None if complete else walk)
            if complete and walk.get("check"):
                deleted = store.mark_unseen_deleted(
                    remote.source, account, walk["check"], newest_only=remote.history_limit
                )
                store.record_origin(account, Origin(remote.source, FETCHED, deletions_checked_at=walk["check"]))
        fetched += len(posts)
        added += result.added
        updated += result.updated
        moved_from.update(result.moved_from)
        not_public += page.not_public
        pages += 1
        if on_progress:
            on_progress(fetched, expected)
        if complete:
            break
    return FetchResult(
        account, remote.source, added, updated, pages, complete, not_public, deleted, check, dict(moved_from)
    )


def _consent(
    store: Store,
    remote: NetworkSource,
    opt_outs: tuple[str, ...],
    account: str,
    who: str,
    options: FetchOptions,
    has_token: bool,
) -> consent.ConsentCheck:
    """The opt-out check of the profile; an account that opts out stops the fetch unless the
    user owns it (the flag, or a token that belongs to the account)."""
    owner = consent.OWNER_FLAG if options.account_owner else None
    if opt_outs and owner is None and has_token and remote.is_own_account():
        owner = consent.OWNER_TOKEN
    found = consent.check(opt_outs, owner)
    if not found.allowed:
        raise consent.refusal(who, found, store.count_posts(account), account)
    return found


def _new_walk(store: Store, source: str, account: str, options: FetchOptions) -> dict:
    """A walk down to the newest post stored (its floor), or a full walk that checks for deleted
    posts (stamped with its start time): the first walk, one asked for, or one due."""
    newest = store.newest_post(source, account)
    if newest is not None and not options.check_deletions and not _recheck_due(store, source, account, options):
        return {"cursor": None, "floor": newest.post_id}
    # Stamped to the microsecond: no earlier walk used the same stamp.
    return {"cursor": None, "floor": None, "check": datetime.now(timezone.utc).isoformat()}


def _recheck_due(store: Store, source: str, account: str, options: FetchOptions) -> bool:
    if options.recheck_days is None:
        return False
    checks = [o.deletions_checked_at for o in store.origins(account) if o.source == source and o.how == FETCHED]
    last = max(filter(None, checks), default=None)
    if last is None:
        return True
    return datetime.now(timezone.utc) - datetime.fromisoformat(last) > timedelta(days=options.recheck_days)


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
        return checked_token(value, f"{source}: environment variable {token_env}")
    if source != "x":  # Mastodon tokens belong to one instance: sent only when asked for
        return None
    name = next((name for name in x_api.TOKEN_ENVS if os.environ.get(name)), None)
    if not name:
        raise SourceError(
            "x: the X API needs a bearer token: set X_BEARER_TOKEN (or TWITTER_BEARER_TOKEN),"
            " or name another variable with --token-env"
        )
    return checked_token(os.environ[name], f"x: environment variable {name}")
