"""Step 1, data: import an upload, download up to three accounts or take them from the store,
then prepare the dataset and show huggingtweets' data table, a sample of kept posts and warnings."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import limits, paths
from ..clean import CleanOptions
from ..dataset import MAX_ACCOUNTS, Dataset, PrepareConfig, clean_accounts
from ..errors import InsufficientDataError, TweetlingError
from ..fetch import FetchOptions, fetch
from ..forget import forget
from ..importer import ImportResult, import_path
from ..pipeline import prepare_dataset
from ..store import Store, moved_note
from . import render
from .fields import text, whole_number

DEFAULT_MAX_POSTS = 3200  # what the X API let huggingtweets download per account
SAMPLE_POSTS = 8  # kept posts shown after the data step
UPLOAD_TYPES = [".zip", ".js", ".csv", ".jsonl", ".ndjson", ".txt"]
STORED = "Already in the store"
SOURCES = {"Mastodon": "mastodon", "Bluesky": "bluesky", "X API": "x", STORED: "store"}

Progress = Callable[..., Any]  # gr.Progress, or any callable taking (fraction, desc=...)


def no_progress(*args: Any, **kwargs: Any) -> None:
    """Progress sink for calls made outside a Gradio event (tests, scripts)."""


def parse_handles(text: str) -> list[str]:
    """Handles separated by commas, spaces or new lines; at most three."""
    handles = [h for h in re.split(r"[,\s]+", text or "") if h]
    if len(handles) > MAX_ACCOUNTS:
        raise TweetlingError(f"enter at most {MAX_ACCOUNTS} handles in “Handles” (a blend), not {len(handles)}")
    return handles


def import_event(result: ImportResult) -> str:
    """What an import did, saying so when every post was in the store already (a re-upload)."""
    in_file = sum(result.kinds.values())
    if result.added == 0 and result.updated == 0:
        return f"{result.account}: all {in_file:,} posts of the upload were already in the store"
    already = in_file - result.added - result.updated
    parts = [f"imported {result.added:,} new posts"]
    if result.updated:
        parts.append(f"{result.updated:,} updated")
    if already:
        parts.append(f"{already:,} already there")
    moved = f"; {moved_note(result.moved_from)}" if result.moved_from else ""
    return f"{result.account}: {', '.join(parts)}{moved}"


def collect_accounts(
    store: Store,
    upload: str | None,
    upload_account: str | None,
    source: str,
    handles: list[str],
    max_posts: int,
    progress: Progress = no_progress,
    account_owner: bool = False,
) -> tuple[list[str], list[str]]:
    """Import the upload and fetch (or look up) each handle; return the account names and what
    happened. ACCOUNT_OWNER: the user owns the handles, so an opt-out in their profiles does not
    stop the fetch (it is recorded, as `fetch --i-am-the-account-owner` does)."""
    if not upload and not handles:
        raise TweetlingError("upload an X archive or a file of posts, or enter up to three handles in “Handles”")
    if bool(upload) + len(handles) > MAX_ACCOUNTS:
        raise TweetlingError(
            f"a bot blends at most {MAX_ACCOUNTS} accounts: the upload and "
            f"{len(handles)} handles make {len(handles) + 1}"
        )
    accounts, events = [], []
    if upload:
        progress(None, desc=f"importing {Path(upload).name}")
        imported = import_path(store, upload, account=upload_account or None)
        accounts.append(imported.account)
        events.append(import_event(imported))
    for handle in handles:
        if source == "store":
            account = paths.checked_name(handle.lstrip("@"))
            if not store.count_posts(account):
                raise TweetlingError(f"no posts for {account!r} in the store: choose a source to download them")
            accounts.append(account)
            continue
        target = f"{source}:{handle}"

        def on_progress(fetched: int, expected: int | None, handle: str = handle) -> None:
            progress((fetched, expected) if expected else None, desc=f"downloading {handle}: {fetched:,} posts")

        progress(None, desc=f"downloading {handle}")
        options = FetchOptions(max_posts=max_posts, account_owner=account_owner)
        fetched = fetch(store, target, options, on_progress=on_progress)
        accounts.append(fetched.account)
        moved = f"; {moved_note(fetched.moved_from)}" if fetched.moved_from else ""
        events.append(f"{fetched.account}: downloaded {fetched.added:,} new posts{moved}")
    return accounts, events


def sample_posts(dataset: Dataset, k: int = SAMPLE_POSTS, seed: int = 0) -> list[str]:
    examples = dataset.train + dataset.valid
    return [e.text for e in random.Random(seed).sample(examples, min(k, len(examples)))]


def load_data(
    upload: str | None,
    upload_account: str,
    source_label: str,
    handles_text: str,
    max_posts: float | None,
    drop_replies: bool,
    keep_newlines: bool,
    drop_duplicates: bool,
    track: str | None = None,
    progress: Progress = no_progress,
    account_owner: bool = False,
) -> tuple[str, str, str, str | None, str]:
    """Step 1: gather posts, prepare the dataset; show the data table, sample posts and notes.

    Returns (notes, table, samples, the dataset's path or None, the bot name it suggests).
    """
    source = SOURCES.get(source_label) if isinstance(source_label, str) else None
    if source is None:
        raise TweetlingError(f"unknown source {str(source_label)[:40]!r}")
    handles = parse_handles(text(handles_text))
    max_posts = whole_number(  # 0 too means the default
        max_posts or None, "Most posts per account", 1, limits.MAX_POSTS_PER_IMPORT, empty=DEFAULT_MAX_POSTS
    )
    options = CleanOptions(keep_replies=not drop_replies, keep_newlines=keep_newlines, drop_duplicates=drop_duplicates)
    with Store() as store:
        accounts, events = collect_accounts(
            store, upload, text(upload_account), source, handles, max_posts, progress, bool(account_owner)
        )
        progress(None, desc="cleaning and splitting the posts")
        try:
            dataset = prepare_dataset(accounts, PrepareConfig(clean=options), track)
        except InsufficientDataError as error:  # still show the table, so the user sees why
            tables = {c.account: c.table for c in clean_accounts(store, accounts, options)}
            problem = f"not enough posts to train a bot: {error}"
            return render.notes(events) + render.message(problem, "error"), render.data_table(tables), "", None, ""
    summary = f"dataset {dataset.name}: {len(dataset.train):,} training and {len(dataset.valid):,} validation posts"
    warnings = "".join(render.message(warning, "warning") for warning in dataset.warnings)
    return (
        render.notes([*events, summary]) + warnings,
        render.data_table(dataset.tables),
        "<h4>A sample of kept posts</h4>" + render.post_list(sample_posts(dataset), "tl-samples"),
        str(dataset.path),
        dataset.name,
    )


def stored_accounts() -> list[str]:
    """The accounts the store holds, for the forget picker."""
    with Store() as store:
        return sorted(profile.name for profile in store.accounts())


def accounts_table() -> str:
    """The accounts in the store with their post counts, as `tweetling accounts` lists them."""
    with Store() as store:
        rows = [
            (profile.name, profile.source, profile.display_name or "", store.count_posts(profile.name))
            for profile in store.accounts()
        ]
    return render.stored_accounts(rows)


def account_to_forget(account: str | None) -> str:
    """The account chosen in the forget picker; an error when none is."""
    if not account:
        raise TweetlingError("choose the account to forget")
    return account


def forget_account(account: str | None, deleted_only: bool) -> str:
    """Remove ACCOUNT's posts, or only those deleted at their source, with the datasets and
    tracking runs that hold them, as `tweetling forget` does; what went, as notes."""
    result = forget(account_to_forget(account), deleted=bool(deleted_only))
    stale = [
        f"bot {bot.name} learned from them: " + ("retrain it in step 2" if bot.retrain else "delete it on its page")
        for bot in result.bots
    ]
    return render.notes([result.summary(), *stale, *result.notes])
