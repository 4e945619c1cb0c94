"""`tweetling forget`: remove an account's posts, or some of them, from everything tweetling keeps.

The store loses the posts (text and raw record), and for a whole account its profile, origins
and fetch state; every dataset that holds them is deleted, with the local MLflow runs and the
sweep studies of those datasets. Bots trained on them cannot unlearn: they are marked stale in
their tweetling.json, with the command that trains them again. Each step can run again, so a
forget that stopped half-way is finished by running it again.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from . import bots, paths, sweep, track
from .bots import BotMeta, Stale
from .clean import CleanOptions
from .dataset import Dataset, blend_name
from .errors import TweetlingError
from .models import DEFAULT_BASE
from .recipes import RECIPES
from .store import Store


@dataclass(frozen=True)
class StaleBot:
    name: str
    folder: Path
    retrain: str | None  # the command that trains it again; None: none of its data is left


@dataclass(frozen=True)
class ForgetResult:
    account: str
    posts: int  # posts removed from the store
    datasets: list[Path] = field(default_factory=list)  # dataset folders deleted
    bots: list[StaleBot] = field(default_factory=list)  # bots marked stale
    runs: int = 0  # MLflow runs deleted
    studies: int = 0  # sweep studies deleted
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """What went, in one line."""
        return (
            f"{self.account}: {self.posts:,} posts removed from the store,"
            f" {len(self.datasets):,} datasets and {self.runs:,} tracking runs deleted"
            + (f", {self.studies:,} sweep studies" if self.studies else "")
        )


def forget(account: str, post_ids: Sequence[str] = (), *, deleted: bool = False) -> ForgetResult:
    """Forget ACCOUNT entirely or, given POST_IDS or DELETED (its posts marked deleted at their
    source), only those posts."""
    paths.checked_name(account)
    whole = not post_ids and not deleted
    with Store() as store:
        keys: list[tuple[str, str]] = []
        if not whole:
            keys = store.find_posts(account, post_ids) + (store.deleted_posts(account) if deleted else [])
            if not keys:
                return ForgetResult(account, 0, notes=[f"{account} has no posts marked deleted at their source"])
        gone = {f"{source}:{post_id}" for source, post_id in keys}
        readable = _datasets()
        datasets = [d for d in readable if account in d.manifest.get("accounts", []) and (whole or _holds(d, gone))]
        hashes = {d.manifest.get("hash") or "" for d in datasets} - {""}
        installed = bots.installed()
        stale = [(folder, meta) for folder, meta in installed if _trained_on(meta, account, hashes, whole)]
        in_store = store.account(account) or store.count_posts(account) or store.count_deleted(account)
        if whole and not (in_store or datasets or stale):
            raise TweetlingError(f"nothing to forget: no posts, datasets or bots of account {account!r}")
        hashes |= {meta.dataset.hash for _, meta in stale if meta.dataset.hash}
        marked = [_mark_stale(folder, meta, account, whole) for folder, meta in stale]
        notes = []
        try:
            runs = track.forget_runs(hashes, account if whole else None)
        except TweetlingError as error:  # the runs hold settings and numbers, no posts: forget the rest
            runs = 0
            notes.append(f"tracking runs not deleted: {error}; then run the same command again")
        studies = sweep.delete_studies(hashes)
        for dataset in datasets:
            shutil.rmtree(dataset.path)
        removed = store.forget_account(account) if whole else store.forget_posts(account, keys)
    notes += _unchecked(account, {folder for folder, _ in installed}, {d.path for d in readable})
    if os.environ.get("WANDB_API_KEY"):
        notes.append("runs sent to Weights & Biases are not removed here: delete them on wandb.ai")
    return ForgetResult(account, removed, [d.path for d in datasets], marked, runs, studies, notes)


def _datasets() -> list[Dataset]:
    """Every prepared dataset (its manifest; the posts are read only when needed)."""
    found = []
    for manifest in sorted(paths.datasets_dir().glob("*/manifest.json")):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):  # named by `_unchecked`
            continue
        if isinstance(data, dict) and isinstance(data.get("accounts"), list):
            found.append(Dataset(manifest.parent, data, [], []))
    return found


def _unchecked(account: str, readable_bots: set[Path], readable_datasets: set[Path]) -> list[str]:
    """What forget could not look into, so may still hold or have learned ACCOUNT's posts: bots
    whose tweetling.json, and datasets whose manifest, cannot be read, and the unfinished folders
    of an interrupted prepare."""
    notes = []
    bots_root, datasets_root = paths.bots_dir(), paths.datasets_dir()
    for meta_file in sorted(bots_root.glob(f"*/{bots.METADATA_FILE}")) if bots_root.exists() else []:
        if not meta_file.parent.name.startswith(".") and meta_file.parent not in readable_bots:
            notes.append(
                f"{meta_file} cannot be read, so forget cannot tell whether this bot learned from @{account}:"
                " delete the bot if it did"
            )
    for folder in sorted(datasets_root.iterdir()) if datasets_root.exists() else []:
        if folder.is_dir() and folder not in readable_datasets:
            what = "an unfinished dataset" if folder.name.startswith(".") else "its manifest.json cannot be read"
            notes.append(f"{folder}: {what}, so it may hold posts of @{account}: delete it if it does")
    return notes


def _holds(dataset: Dataset, gone: set[str]) -> bool:
    """Whether DATASET holds one of the posts GONE; one that does not list its posts may."""
    listed = dataset.post_ids()
    return listed is None or bool(listed & gone)


def _trained_on(meta: BotMeta, account: str, hashes: set[str], whole: bool) -> bool:
    """Whether a bot learned from the forgotten posts: its dataset is one being deleted, or it
    learned from the account and (for single posts) its dataset is gone, so nothing says otherwise."""
    if meta.dataset.hash in hashes:
        return True
    return account in meta.accounts and (whole or meta.dataset.folder() is None)


def _mark_stale(folder: Path, meta: BotMeta, account: str, whole: bool) -> StaleBot:
    what = f"the posts of @{account}" if whole else f"posts of @{account}"
    left = [a for a in meta.accounts if not (whole and a == account)]
    command = retrain_command(folder, meta, left) if left else None
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    reason = f"it learned from {what} that were forgotten" + ("" if command else "; no data is left: delete it")
    bots.write_metadata(folder, replace(meta, stale=Stale(reason, since, command)))
    return StaleBot(meta.name, folder, command)


def retrain_command(folder: Path, meta: BotMeta, accounts: list[str]) -> str:
    """The `tweetling train` command that makes the bot in FOLDER again from ACCOUNTS' stored posts,
    with its recipe, base model and cleaning options."""
    parts = ["tweetling", "train", *accounts]
    if meta.recipe.get("name") in RECIPES:
        parts += ["--recipe", meta.recipe["name"]]
    if meta.base_model and meta.base_model != DEFAULT_BASE:
        parts += ["--base", meta.base_model]
    parts += _clean_flags(meta.dataset.options)
    if folder.resolve() != bots.default_dir(blend_name(accounts)).resolve():
        parts += ["--out", str(folder)]
    return shlex.join(parts)


def _clean_flags(options: CleanOptions) -> list[str]:
    flags = {
        "--drop-replies": not options.keep_replies,
        "--strip-reply-mentions": options.strip_reply_mentions,
        "--keep-newlines": options.keep_newlines,
        "--drop-duplicates": options.drop_duplicates,
        "--include-cw": options.include_cw,
    }
    return [flag for flag, on in flags.items() if on] + [arg for code in options.languages for arg in ("--lang", code)]
