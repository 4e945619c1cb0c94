"""The `tweetling` command: thin commands over the Python API."""

from __future__ import annotations

import errno
import math
import os
import sys
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
from rich.console import Console

from . import limits
from .errors import TweetlingError, one_line
from .export import DTYPES, GGUF_TYPES
from .generate import DEFAULT_POSTS, DEFAULT_PROMPT, GenerateConfig
from .models import DEFAULT_BASE
from .recipes import METHODS, ContinueConfig
from .terminal import escape  # rich markup escaped and control characters removed: for all outside text
from .track import BACKENDS

if TYPE_CHECKING:
    from .clean import Table as Counts

console = Console()
err_console = Console(stderr=True)


# What the machine, not tweetling, refused: a full disk, a read-only or forbidden folder, a name
# longer than the file system takes.
_MACHINE_ERRORS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EFBIG,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EIO,
    errno.ENAMETOOLONG,
}


class _Group(click.Group):
    """Shows a TweetlingError, or a file the machine refused, as one line on stderr and exits 1,
    without a traceback."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Bytes that are not UTF-8 in an argument (a terminal in another encoding) arrive as lone
        # surrogates, which no tokenizer, store or URL takes; only a file's name may hold them.
        for arg in args:
            if not _is_utf8(arg) and not os.path.lexists(arg):
                raise click.UsageError(f"the argument {arg!a} is not UTF-8 text", ctx)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except TweetlingError as error:
            self._fail(ctx, str(error))
        except OSError as error:
            if error.errno not in _MACHINE_ERRORS:
                raise
            self._fail(ctx, one_line(error))

    @staticmethod
    def _fail(ctx: click.Context, message: str) -> NoReturn:
        err_console.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}", highlight=False, soft_wrap=True)
        ctx.exit(1)


class _Number(click.FloatRange):
    """A FloatRange that also refuses nan and infinity, which pass its bounds' comparisons."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


SECONDS = _Number(0, min_open=True)
SHARE = _Number(0, 1, max_open=True)  # of posts held out, replayed, ...
POSTS = click.IntRange(1, limits.MAX_POSTS_PER_CALL)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@click.group(cls=_Group)
@click.version_option(package_name="tweetling")
def cli() -> None:
    """Turn someone's posts into a language model that writes in their voice."""


main = cli


def quiet_transformers() -> None:
    """Our progress bars only: transformers' own (loading weights) would interleave with them."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(message)}")


# --- data: import, stats, prepare -----------------------------------------------------------


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--account", help="Account name of the posts (default: the one the file names).")
@click.option(
    "--source",
    type=click.Choice(["x", "mastodon", "bluesky", "file"]),
    help="Source of CSV/JSONL/text posts (default: x when they carry tweet ids, else file).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "x-archive", "csv", "jsonl", "text"]),
    default="auto",
    show_default=True,
    help="File format; auto looks at suffix and content.",
)
def import_(path: Path, account: str | None, source: str | None, fmt: str) -> None:
    """Import posts from an X archive (zip, folder or tweets.js), a CSV, JSONL or text file."""
    from rich.table import Table

    from .importer import import_path
    from .store import Store, moved_note

    with Store() as store, console.status(f"Importing {escape(path.name)}"):
        result = import_path(store, path, account=account, source=source, fmt=fmt)
    console.print(
        f"{escape(path.name)}: added {result.added:,}, updated {result.updated:,}, account {escape(result.account)}",
        highlight=False,
    )
    if result.deleted:
        console.print(
            f"{result.deleted:,} stored posts missing from this archive marked deleted (left out of datasets)"
        )
    if result.moved_from:
        warn(moved_note(result.moved_from))
    table = Table("kind", "posts")
    for kind, count in result.kinds.items():
        table.add_row(kind, f"{count:,}")
    console.print(table)


def clean_option_flags(command):
    """The cleaning options shared by stats, prepare and train."""
    flags = [
        click.option("--drop-replies", is_flag=True, help="Drop replies (huggingtweets kept them)."),
        click.option("--strip-reply-mentions", is_flag=True, help="Remove the leading @mentions of replies."),
        click.option("--keep-newlines", is_flag=True, help="Keep line breaks inside posts."),
        click.option("--drop-duplicates", is_flag=True, help="Drop exact repeats of a kept post."),
        click.option(
            "--include-cw", is_flag=True, help="Keep posts shown behind a content warning (left out by default)."
        ),
        click.option(
            "--lang",
            "languages",
            multiple=True,
            metavar="CODE",
            help="Keep only posts in this language (repeatable), e.g. --lang en.",
        ),
    ]
    for flag in reversed(flags):
        command = flag(command)
    return command


def clean_options_from(
    drop_replies: bool,
    strip_reply_mentions: bool,
    keep_newlines: bool,
    drop_duplicates: bool,
    languages: tuple[str, ...],
    include_cw: bool = False,
):
    from .clean import CleanOptions

    return CleanOptions(
        keep_replies=not drop_replies,
        strip_reply_mentions=strip_reply_mentions,
        keep_newlines=keep_newlines,
        drop_duplicates=drop_duplicates,
        languages=tuple(languages),
        include_cw=include_cw,
    )


def track_option(what: str = "the run"):
    """--track, for the commands that record runs."""
    return click.option(
        "--track",
        type=click.Choice(BACKENDS),
        default=None,
        help=f"Where to record {what} (default: mlflow, or wandb when configured).",
    )


base_option = click.option(
    "--base",
    default=DEFAULT_BASE,
    show_default=True,
    help=f"Base model: the embedded {DEFAULT_BASE} (offline), a Hugging Face id such as gpt2, or a model folder.",
)


def print_data_table(tables: Mapping[str, Counts]) -> None:
    """huggingtweets' data table: one column per account."""
    from rich.table import Table

    from .clean import data_table

    table = Table(title="Data")
    table.add_column("")
    for account in tables:
        table.add_column(escape(account), justify="right")
    for label, counts in data_table(tables):
        table.add_row(label, *(f"{count:,}" for count in counts))
    console.print(table)


@cli.command()
@click.argument("accounts", nargs=-1, required=True)
@clean_option_flags
def stats(accounts: tuple[str, ...], **flags) -> None:
    """Show the data table of ACCOUNTS: downloaded, retweets, short, kept."""
    from .clean import check_sufficient
    from .dataset import clean_accounts
    from .store import Store

    with Store() as store:
        cleaned = clean_accounts(store, list(accounts), clean_options_from(**flags))
    print_data_table({c.account: c.table for c in cleaned})
    for part in cleaned:
        try:
            warning = check_sufficient(part)
        except TweetlingError as error:
            warning = str(error)
        if warning:
            warn(warning)


@cli.command()
@click.argument("accounts", nargs=-1, required=True)
@clean_option_flags
@click.option(
    "--valid-fraction",
    default=0.05,
    type=SHARE,
    show_default=True,
    help="Share of posts held out to steer training (early stopping).",
)
@click.option(
    "--test-fraction",
    default=0.1,
    type=SHARE,
    show_default=True,
    help="Share of posts held out for the reported perplexity alone.",
)
@click.option("--seed", default=42, show_default=True, help="Seed of the train/valid/test split.")
@click.option("--no-balance", is_flag=True, help="Don't upsample smaller accounts of a blend.")
@track_option()
def prepare(
    accounts: tuple[str, ...],
    valid_fraction: float,
    test_fraction: float,
    seed: int,
    no_balance: bool,
    track: str | None,
    **flags,
) -> None:
    """Clean ACCOUNTS' posts (up to three: a blend) into a versioned train/valid/test dataset."""
    from .dataset import PrepareConfig
    from .pipeline import prepare_dataset

    config = PrepareConfig(
        clean=clean_options_from(**flags),
        valid_fraction=valid_fraction,
        test_fraction=test_fraction,
        seed=seed,
        balance=not no_balance,
    )
    dataset = prepare_dataset(list(accounts), config, track_backend=track)
    print_data_table(dataset.tables)
    for warning in dataset.warnings:
        warn(warning)
    console.print(
        f"dataset [bold]{escape(dataset.name)}[/]: {len(dataset.train):,} train / "
        f"{len(dataset.valid):,} valid / {len(dataset.test):,} test posts → {escape(str(dataset.path))}"
    )


@cli.command()
def accounts() -> None:
    """List the accounts in the store with their post counts."""
    from rich.table import Table

    from .store import Store

    table = Table("account", "source", "name", "posts")
    with Store() as store:
        for profile in store.accounts():
            table.add_row(
                escape(profile.name),
                profile.source,
                escape(profile.display_name or ""),
                f"{store.count_posts(profile.name):,}",
            )
    console.print(table)


# --- network sources: fetch -------------------------------------------------------------------


@cli.command()
@click.argument("target", metavar="SOURCE:HANDLE")
@click.option("--account", help="Store the posts under this name instead of the handle.")
@click.option("--max-posts", type=click.IntRange(min=1), help="Stop after this many posts (run again to continue).")
@click.option("--base-url", help="API root instead of the public service, e.g. a self-hosted AppView.")
@click.option(
    "--token-env", metavar="NAME", help="Environment variable holding the API token (X default: X_BEARER_TOKEN)."
)
@click.option(
    "--i-am-the-account-owner",
    "account_owner",
    is_flag=True,
    help="Fetch your own account even though its profile opts out of bots (#nobot, #noai, ...); recorded.",
)
@click.option(
    "--check-deletions", is_flag=True, help="Walk every post now to find those deleted at the source (also monthly)."
)
def fetch(
    target: str,
    account: str | None,
    max_posts: int | None,
    base_url: str | None,
    token_env: str | None,
    account_owner: bool,
    check_deletions: bool,
) -> None:
    """Download an account's public posts: mastodon:@user@instance.social, bluesky:user.bsky.social, x:username.

    A profile that opts out of bots and AI training (#nobot, #noai, #nollm in its bio or fields,
    Mastodon noindex or discoverable: false, Bluesky's !no-unauthenticated) stops the fetch.
    Each page is saved as it arrives: an interrupted fetch resumes on the next run, and a
    fetch after a complete one asks only for newer posts; every 30 days (or with
    --check-deletions) a fetch walks all posts and marks those deleted at the source.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn

    from .fetch import FetchOptions, account_name
    from .fetch import fetch as fetch_account
    from .store import Store, moved_note

    account_name(target)  # a malformed target fails here, before the store is created
    options = FetchOptions(
        account=account,
        max_posts=max_posts,
        base_url=base_url,
        token_env=token_env,
        account_owner=account_owner,
        check_deletions=check_deletions,
    )
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Store() as store, Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(f"fetching {escape(target)}", total=None)

        def on_progress(fetched: int, expected: int | None) -> None:
            progress.update(task, completed=fetched, total=max(expected, fetched) if expected else None)

        def on_wait(seconds: float, reason: str) -> None:
            progress.console.print(f"[yellow]waiting {seconds:.0f} s:[/] {escape(reason)}")

        try:
            result = fetch_account(store, target, options, on_progress=on_progress, on_wait=on_wait)
        except KeyboardInterrupt:
            err_console.print("interrupted: the pages saved so far are kept; run the same command to resume")
            raise SystemExit(130) from None
    console.print(
        f"[bold]{escape(result.account)}[/] ({result.source}): {result.added:,} new posts,"
        f" {result.updated:,} updated, {result.pages:,} pages"
    )
    if result.consent and result.consent.opt_outs:
        warn(
            f"the profile opts out ({'; '.join(result.consent.opt_outs)}); fetched as its owner ({result.consent.owner})"
        )
    if result.not_public:
        console.print(f"{result.not_public:,} followers-only or direct posts not stored")
    if result.moved_from:
        warn(moved_note(result.moved_from))
    if result.deleted or (check_deletions and result.deleted is not None):
        console.print(f"checked for deletions: {result.deleted:,} posts newly marked deleted at the source")
    if not result.complete:
        console.print("stopped before the oldest post: run the same command to continue")


# --- training: train, runs ----------------------------------------------------------------------


def training_dataset(sources: tuple[str, ...], clean_flags: dict, track: str | None):
    """SOURCES as a dataset: a dataset folder, stored accounts (prepared now; an unchanged
    version is reused), or the name of a prepared dataset."""
    from . import paths
    from .dataset import Dataset, PrepareConfig, resolve
    from .pipeline import prepare_dataset
    from .store import Store

    if len(sources) == 1 and (Path(sources[0]) / "manifest.json").exists():
        return Dataset.load(sources[0])
    with Store() as store:
        stored = all(paths.is_name(source) and store.count_posts(source) for source in sources)
    if stored or len(sources) > 1:
        dataset = prepare_dataset(
            list(sources), PrepareConfig(clean=clean_options_from(**clean_flags)), track_backend=track
        )
        for warning in dataset.warnings:
            warn(warning)
        return dataset
    return Dataset.load(resolve(sources[0]))


@cli.command()
@click.argument("sources", nargs=-1, required=True, metavar="DATASET|ACCOUNT...")
@base_option
@click.option(
    "--recipe",
    "recipe_name",
    default="default",
    show_default=True,
    help="default (fast), thorough (every weight trained: lower perplexity, slower) "
    "or huggingtweets (the original recipe, the baseline).",
)
@click.option("--method", type=click.Choice(METHODS), help="Full fine-tune or LoRA (merged when saved).")
@click.option(
    "--epochs", type=click.IntRange(min=1), help="Passes over the posts (default: sized to how many there are)."
)
@click.option("--batch-size", type=click.IntRange(min=1))
@click.option("--learning-rate", "--lr", "learning_rate", type=_Number(0, min_open=True))
@click.option("--max-time", "max_time_s", type=SECONDS, metavar="SECONDS", help="Stop training after this long.")
@click.option("--checkpoint-every", type=click.IntRange(min=0), metavar="STEPS", help="0: only on Ctrl-C.")
@click.option("--seed", type=int)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Bot folder (default: TWEETLING_HOME/bots/<name>)."
)
@click.option("--resume", is_flag=True, help="Continue an interrupted training from its checkpoint.")
@click.option(
    "--continue",
    "continue_",
    is_flag=True,
    help="Update the accounts' existing bot with the posts stored since its dataset (with its own recipe).",
)
@click.option(
    "--replay",
    type=SHARE,
    default=ContinueConfig.replay_fraction,
    show_default=True,
    help="With --continue: share of the posts trained on that are older ones, replayed.",
)
@track_option()
@click.option(
    "--dtype",
    type=click.Choice(DTYPES),
    help="Precision of the saved weights; bfloat16 halves the bot folder. Default: float32; with --resume,"
    " what the stopped training was started with; with --continue, the bot's own.",
)
@clean_option_flags
def train(
    sources: tuple[str, ...],
    base: str,
    recipe_name: str,
    method: str | None,
    out: Path | None,
    resume: bool,
    continue_: bool,
    replay: float,
    track: str | None,
    epochs: int | None,
    batch_size: int | None,
    learning_rate: float | None,
    max_time_s: float | None,
    checkpoint_every: int | None,
    seed: int | None,
    dtype: str | None,
    **clean_flags,
) -> None:
    """Fine-tune a base model on a dataset, or on up to three accounts (a blend), into a bot.

    Ctrl-C stops after the current step and saves a checkpoint; --resume continues it.
    A CUDA GPU is used when present; several, when started by `torchrun` or `accelerate launch`.
    With --continue, the accounts' bot is fine-tuned further on the posts fetched or imported
    since it was trained, plus a replayed sample of older ones, in a fraction of the time.
    """
    from .bots import read_metadata
    from .distributed import world
    from .pipeline import continue_bot, plan_continuation, train_bot
    from .recipes import TrainingInterrupted, recipe

    quiet_transformers()
    overrides = dict(
        method=method,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_time_s=max_time_s,
        checkpoint_every=checkpoint_every,
        seed=seed,
    )
    check_continue_flags(continue_)
    if not world().is_main:  # under a launcher, the main process speaks for all
        console.quiet = err_console.quiet = True
    if continue_:
        update = plan_continuation(list(sources), ContinueConfig(replay_fraction=replay), out, overrides)
        console.print(
            f"continuing [bold]{escape(update.folder.name)}[/] ({update.config.recipe} recipe,"
            f" lr {update.config.learning_rate:g}): {update.new_posts:,} new posts and"
            f" {update.replayed_posts:,} older ones replayed of {update.dataset.manifest['train_count']:,}"
        )
    else:
        config = recipe(recipe_name, **overrides)
        with world().main_first():  # one process prepares the dataset version, the others read it
            dataset = training_dataset(sources, clean_flags, track)
        console.print(
            f"training [bold]{escape(dataset.name)}[/] on {escape(base)} "
            f"({config.recipe} recipe, {config.method}): {len(dataset.train):,} posts"
        )
    with training_progress("training") as (progress, on_progress):

        def on_plan(plan) -> None:
            progress.console.print(f"plan: {escape(plan.describe())}", highlight=False)

        try:
            if continue_:
                folder = continue_bot(
                    update,
                    resume=resume,
                    track_backend=track,
                    on_progress=on_progress,
                    on_warning=warn,
                    dtype=dtype,
                    on_plan=on_plan,
                )
            else:
                folder = train_bot(
                    dataset,
                    config,
                    base,
                    out,
                    resume=resume,
                    track_backend=track,
                    on_progress=on_progress,
                    on_warning=warn,
                    dtype=dtype,
                    on_plan=on_plan,
                )
        except TrainingInterrupted as stopped:
            progress.stop()
            err_console.print(f"[yellow]{escape(str(stopped))}[/]")
            raise SystemExit(130) from None
    meta = read_metadata(folder)
    summary = heldout_summary(meta)
    before = meta.continued[-1].previous_valid_perplexity if meta.continued and continue_ else None
    if before is not None and meta.valid_perplexity is not None:
        summary += f"; validation perplexity {before:.2f} → {meta.valid_perplexity:.2f} (before and after continuing)"
    console.print(
        f"bot [bold]{escape(meta.name)}[/] → {escape(str(folder))}\n"
        f"{meta.train_tokens:,} tokens in {meta.train_time_s:.0f} s "
        f"({meta.tokens_per_s:,.0f} tok/s); {summary}"
    )


@contextmanager
def training_progress(description: str, say_validations: bool = True):
    """A bar of training steps with tokens/s, loss and ETA, and the callback that moves it (each
    training that starts, a sweep's next trial, starts it again); validations are printed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} tok/s  loss {task.fields[loss]}  ETA {task.fields[eta]}"),
    )
    with Progress(*columns, console=err_console) as progress:
        task = progress.add_task(description, total=None, rate="-", loss="-", eta="-")

        def on_progress(report) -> None:
            if report.event == "start":
                progress.update(task, completed=report.step, total=report.total_steps, rate="-", loss="-", eta="-")
            elif report.event == "step":
                eta = f"{report.eta_s // 60:.0f}:{report.eta_s % 60:02.0f}" if report.eta_s is not None else "-"
                progress.update(
                    task,
                    completed=report.step,
                    total=report.total_steps,
                    rate=f"{report.tokens_per_s:,.0f}",
                    loss=f"{report.loss:.3f}",
                    eta=eta,
                )
            elif report.event == "eval" and say_validations:
                when = f"epoch {report.epoch}, step {report.step}" if report.step else "before training"
                progress.console.print(f"{when}: validation loss {report.valid_loss:.4f}")

        yield progress, on_progress


def heldout_summary(meta) -> str:
    """The bot's held-out perplexity in words: on the test posts, or on the validation posts
    (which steered training) for a dataset prepared before test splits."""
    if meta.test_perplexity is not None:
        valid = f" (validation {meta.valid_perplexity:.2f})" if meta.valid_perplexity is not None else ""
        return f"test perplexity {meta.test_perplexity:.2f}{valid}"
    if meta.valid_perplexity is not None:
        return (
            f"validation perplexity {meta.valid_perplexity:.2f} (the dataset has no test split: "
            "prepare it again for a perplexity no training decision saw)"
        )
    return "no held-out posts to measure perplexity on"


def given_options() -> set[str]:
    """The names of the current command's parameters set on the command line."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    return {
        param.name
        for param in ctx.command.params
        if param.name and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE
    }


def check_continue_flags(continue_: bool) -> None:
    """--continue trains the bot's own base, recipe and cleaning; --replay only means something with it."""
    import inspect

    given = [param for param in click.get_current_context().command.params if param.name in given_options()]
    if continue_:
        fixed = {"base", "recipe_name", *inspect.signature(clean_options_from).parameters}
        clashing = [param for param in given if param.name in fixed]
        if clashing:
            flag = clashing[0].opts[0]
            raise TweetlingError(
                f"{flag} does not go with --continue: a bot continues with its own base, recipe and cleaning"
            )
    elif any(param.name == "replay" for param in given):
        raise TweetlingError("--replay goes with --continue")


@cli.command()
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="How many runs to show, newest first."
)
def runs(limit: int) -> None:
    """List recent prepare and train runs of the local MLflow store (`mlflow ui` shows more)."""
    import shlex

    from rich.table import Table

    from .track import recent_runs, tracking_uri

    table = Table("started", "kind", "name", "status", "time", "valid ppl", "test ppl", "run id")
    for run in recent_runs(limit):
        table.add_row(
            run.started,
            run.kind,
            escape(run.name),
            run.status,
            "-" if run.duration_s is None else f"{run.duration_s:.0f} s",
            *("-" if ppl is None else f"{ppl:.2f}" for ppl in run.final_perplexities),
            run.id,
        )
    console.print(table)
    console.print(f"mlflow ui --backend-store-uri {escape(shlex.quote(tracking_uri()))}", highlight=False)


# --- generation and publishing: generate, preview, push, share ----------------------------------


def load_bot(bot: str):
    from .bots import Bot

    quiet_transformers()

    with err_console.status(f"loading {escape(bot)}…"):
        loaded = Bot.load(bot)
    if loaded.meta.stale:
        warn(
            f"{bot} is stale: {loaded.meta.stale.reason}"
            + (f"; retrain: {loaded.meta.stale.retrain}" if loaded.meta.stale.retrain else "")
        )
    return loaded


@cli.command()
@click.argument("bot")
@click.argument("prompt", default=DEFAULT_PROMPT)
@click.option("-n", "count", default=DEFAULT_POSTS, show_default=True, type=POSTS, help="Posts to sample.")
@click.option("--seed", type=int, help="Seed for reproducible samples.")
@click.option("--top-p", default=GenerateConfig.top_p, show_default=True, type=_Number(0, 1, min_open=True))
@click.option("--temperature", default=GenerateConfig.temperature, show_default=True, type=_Number(0, min_open=True))
@click.option(
    "--max-length",
    default=GenerateConfig.max_length,
    show_default=True,
    type=click.IntRange(min=2),
    help="Tokens per sample, prompt included.",
)
@click.option("--allow-memorized", is_flag=True, help="Keep (and flag) posts that copy a training post.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: outputs and dropped counts.")
def generate(
    bot: str,
    prompt: str,
    count: int,
    seed: int | None,
    top_p: float,
    temperature: float,
    max_length: int,
    allow_memorized: bool,
    as_json: bool,
) -> None:
    """Write COUNT posts in BOT's voice that start with PROMPT.

    Samples that come out empty, repeated or copied from a training post are dropped and sampled
    again (a few rounds); if COUNT posts still cannot be made, it says how many and why."""
    import json

    config = GenerateConfig(
        top_p=top_p, temperature=temperature, max_length=max_length, allow_memorized=allow_memorized
    )
    result = load_bot(bot).generate(prompt, n=count, seed=seed, config=config)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    for i, output in enumerate(result.outputs, 1):
        flag = f" [yellow](copies a training post: {output.overlap} words)[/]" if output.memorized else ""
        console.print(f"[dim]{i:>2}.[/] {escape(output.text)}{flag}", highlight=False)
    if result.complete:
        err_console.print(escape(result.summary()), highlight=False)
    else:
        warn(result.summary())


@cli.command()
@click.argument("bot")
@click.argument("prompt", default=DEFAULT_PROMPT)
@click.option(
    "--avatar",
    "avatars",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Avatar image of an account, in the bot's account order (repeatable).",
)
@click.option("--seed", type=int, help="Seed of the candidates (default: a random one, shown).")
@click.option(
    "-n",
    "count",
    default=5,
    show_default=True,
    type=POSTS,
    help="Candidate posts to sample and show.",
)
@click.option(
    "--pick", type=click.IntRange(min=1), default=1, show_default=True, help="Which candidate becomes the image."
)
@click.option("--text", help="Draw this post instead of sampling (PROMPT, if it starts the text, is bold).")
def preview(
    bot: str, prompt: str, avatars: tuple[Path, ...], seed: int | None, count: int, pick: int, text: str | None
) -> None:
    """Draw predictions.png: a post-like card with a post of BOT that starts with PROMPT.

    It samples COUNT candidates, lists them and draws the one picked (the first by default); run
    it again with the seed it shows and --pick N to draw another, or give your own --text."""
    import random
    import shlex

    from .card import write_card
    from .preview import check_avatars, emoji_note, write_preview

    if text is not None and (seed is not None or "pick" in given_options()):
        raise TweetlingError("--text draws the given post: it goes without --seed and --pick")
    loaded = load_bot(bot)
    check_avatars(loaded.path, loaded.meta, avatars)  # before sampling the candidates
    if text is None:
        seed = random.SystemRandom().randrange(2**31) if seed is None else seed
        result = loaded.generate(prompt, n=count, seed=seed)
        for i, post in enumerate(result.texts, 1):
            mark = "[bold]→[/]" if i == pick else " "
            console.print(f"{mark}[dim]{i:>2}.[/] {escape(post)}", highlight=False)
        if not result.complete:
            warn(result.summary())
        if pick > len(result.texts):
            raise TweetlingError(f"--pick {pick}: there are {len(result.texts)} candidates")
        text = result.texts[pick - 1]
    image = write_preview(loaded, prompt, text, avatars)
    write_card(image.parent)  # the card shows the image once it exists
    note = emoji_note(text)
    if note:
        warn(note)
    console.print(f"wrote {escape(str(image))}")
    if seed is not None:
        console.print(
            f"another candidate: tweetling preview {escape(shlex.quote(bot))} {escape(shlex.quote(prompt))}"
            f" --seed {seed} --pick N",
            highlight=False,
        )


@cli.command()
@click.argument("bot")
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option(
    "--dtype",
    type=click.Choice(DTYPES),
    help="Upload the weights in this precision (the local bot is unchanged); bfloat16 halves the upload.",
)
@click.option(
    "--gguf",
    "gguf_type",
    type=click.Choice(GGUF_TYPES),
    help="Also upload a GGUF file of this type and its Ollama Modelfile (llama.cpp, Ollama, LM Studio).",
)
def push(bot: str, repo_id: str, private: bool, dtype: str | None, gguf_type: str | None) -> None:
    """Publish BOT with its model card to the Hugging Face Hub as REPO_ID (owner/name).

    The token comes from HF_TOKEN or `hf auth login`."""
    from .hub import push as push_bot

    with err_console.status(f"uploading to {escape(repo_id)}…"):
        url = push_bot(bot, repo_id, private=private, dtype=dtype, gguf_type=gguf_type)
    console.print(f"published {escape(url)}")


@cli.command()
@click.argument("bot")
@click.argument("text")
@click.option("--instance", default="mastodon.social", show_default=True, help="Mastodon server to share on.")
def share(bot: str, text: str, instance: str) -> None:
    """Links to post TEXT (a generated post) on X and Mastodon, with a machine-generated disclosure."""
    from .bots import read_metadata, resolve
    from .share import share_links

    if not text.strip():
        raise TweetlingError("TEXT is empty: pass the post to share")
    links = share_links(text, read_metadata(resolve(bot)).accounts, instance)
    click.echo(f"X: {links.x}\nMastodon: {links.mastodon}")


# --- evaluation: eval, sweep ------------------------------------------------------------------------


@cli.command("eval")
@click.argument("bot")
@click.option(
    "-n",
    "count",
    default=100,
    show_default=True,
    type=click.IntRange(1, limits.MAX_EVAL_POSTS),
    help="Posts to sample for the text metrics.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the samples.")
@click.option("--prompt", default="", help="Start of every sampled post (default: none, a post from scratch).")
@click.option("--base", help="Base model to compare with (default: the bot's own base).")
@click.option("--no-base", is_flag=True, help="Skip the base model's perplexity.")
@click.option("--no-style", is_flag=True, help="Skip style attribution with sentence embeddings.")
@track_option()
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
def eval_(
    bot: str,
    count: int,
    seed: int,
    prompt: str,
    base: str | None,
    no_base: bool,
    no_style: bool,
    track: str | None,
    as_json: bool,
) -> None:
    """Measure BOT: held-out perplexity vs its base model; distinct-1/2, length, memorization and
    style attribution of sampled posts. Saved in the bot's metadata, model card and tracking run."""
    import json

    from rich.table import Table

    from .evaluate import EvalConfig, evaluate_bot, numeric_metrics

    quiet_transformers()
    config = EvalConfig(n=count, prompt=prompt, seed=seed, base_perplexity=not no_base, style=not no_style)
    with err_console.status(f"evaluating {escape(bot)}…") as status:
        result = evaluate_bot(
            bot,
            config,
            base=base,
            track_backend=track,
            on_progress=lambda stage: status.update(f"evaluating {escape(bot)}: {escape(stage)}…"),
        )
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    table = Table("metric", "value", title=f"Evaluation of {escape(bot)}")
    for name, value in numeric_metrics(result).items():
        table.add_row(escape(name), f"{value:.4g}")
    console.print(table)
    if result["perplexity_split"] == "test":
        console.print(f"perplexities on the {result['heldout_posts']:,} test posts, which no training decision saw")
    else:
        err_console.print(
            f"[yellow]perplexities on the {result['heldout_posts']:,} validation posts, which steered training:[/] "
            "the dataset has no test split; prepare it again and retrain for an honest number"
        )
    for name, reason in ((k, v) for k, v in result.items() if k.endswith("unavailable")):
        err_console.print(f"[yellow]{escape(name)}:[/] {escape(reason)}")
    if isinstance(result.get("style"), dict) and result["style"].get("unavailable"):
        err_console.print(f"[yellow]style attribution unavailable:[/] {escape(result['style']['unavailable'])}")


@cli.command()
@click.argument("sources", nargs=-1, required=True, metavar="DATASET|ACCOUNT...")
@base_option
@click.option(
    "--trials",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Trials to run now (added to the study's earlier ones).",
)
@click.option("--timeout", "timeout_s", type=SECONDS, metavar="SECONDS", help="Stop starting trials after this long.")
@click.option("--max-time", "max_time_s", type=SECONDS, metavar="SECONDS", help="Training time limit of each trial.")
@click.option("--method", type=click.Choice(METHODS), help="Search only this method (default: both).")
@click.option("--seed", default=42, show_default=True, help="Seed of training and of the sampler.")
@click.option(
    "--startup-trials",
    type=click.IntRange(min=1),
    help="Random trials before TPE models the space (default: a third of the study's trials, 2 to 10).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the best bot (default: TWEETLING_HOME/bots/<name>-sweep).",
)
@track_option("each trial's training run")
@clean_option_flags
def sweep(
    sources: tuple[str, ...],
    base: str,
    trials: int,
    timeout_s: float | None,
    max_time_s: float | None,
    method: str | None,
    seed: int,
    startup_trials: int | None,
    out: Path | None,
    track: str | None,
    **clean_flags,
) -> None:
    """Search learning rate, epochs, scheduler, warm-up, gradient accumulation and LoRA rank with
    Optuna, minimizing validation loss; keep the best bot. Run it again to continue the study."""
    from rich.table import Table

    from .pipeline import finish_bot
    from .sweep import SweepConfig, SweepSpace
    from .sweep import sweep as run_sweep

    quiet_transformers()
    space = SweepSpace(methods=(method,)) if method else SweepSpace()
    config = SweepConfig(
        trials=trials,
        timeout_s=timeout_s,
        base=base,
        space=space,
        max_time_s=max_time_s,
        seed=seed,
        startup_trials=startup_trials,
    )
    dataset = training_dataset(sources, clean_flags, track)

    def on_trial(trial) -> None:
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        best = "-" if trial.best_value is None else f"{trial.best_value:.4f}"
        err_console.print(
            f"trial {trial.number}: {trial.state.lower()}, validation loss {value} (best {best})", highlight=False
        )

    console.print(f"sweeping [bold]{escape(dataset.name)}[/] on {escape(base)}: {trials} trials")
    with training_progress("trial", say_validations=False) as (_, on_progress):
        result = run_sweep(dataset, config, out, track_backend=track, on_trial=on_trial, on_progress=on_progress)
        for warning in finish_bot(result.bot):
            warn(warning)
    if result.stopped:
        warn(f"stopped by Ctrl-C or SIGTERM: the study has {result.trials} trials; run the command again to go on")
    table = Table("parameter", "value", title=f"best trial {result.best_trial} of {result.trials}")
    for name, value in result.best_params.items():
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    perplexity = "-" if result.best_perplexity is None else f"{result.best_perplexity:.2f}"
    console.print(
        f"validation loss {result.best_value:.4f} (perplexity {perplexity}); "
        f"best bot → {escape(str(result.bot))}\nstudy {escape(result.study_name)} in {escape(result.storage)}",
        highlight=False,
    )


# --- web app: serve ---------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 exposes the app to your network.",
)
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option(
    "--base-model", default=None, help="Default of the Base model field (default: the embedded SmolLM2-135M)."
)
@click.option(
    "--max-upload-mb",
    default=512,
    show_default=True,
    type=click.IntRange(1, limits.MAX_UPLOAD_MB),
    help="Largest upload accepted, in megabytes.",
)
@track_option("datasets and trainings")
def serve(host: str, port: int, base_model: str | None, max_upload_mb: int, track: str | None) -> None:
    """Serve the bot maker (data, train, generate, post, and each bot's page) as a local web app."""
    from .web.app import ServeConfig
    from .web.app import serve as serve_app

    config = ServeConfig(
        host=host,
        port=port,
        max_upload_mb=max_upload_mb,
        track=track,
        **({"base_model": base_model} if base_model else {}),
    )
    app = serve_app(config, block=False)  # said once it listens
    console.print(f"tweetling web app on [bold]http://{escape(host)}:{port}[/] (Ctrl-C to stop)")
    app.block_thread()


# --- bots that post: connect, connections, disconnect, draft, queue, post, run -------------------


class _Duration(click.ParamType):
    name = "DURATION"

    def convert(self, value, param, ctx):
        from .live import parse_duration

        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(value)
        except TweetlingError as error:
            self.fail(str(error), param, ctx)


class _AskOnTerminal:
    """What `tweetling connect` asks the operator, on stderr (stdout stays for results)."""

    def authorization_code(self, url: str) -> str:
        err_console.print(
            "Open this address in a browser, log in as the [bold]bot's[/] account, authorize tweetling"
            f" and paste the code it shows:\n{escape(url)}",
            soft_wrap=True,
        )
        return click.prompt("authorization code", hide_input=True, err=True)

    def app_password(self, handle: str) -> str:
        return click.prompt(f"app password of {handle}", hide_input=True, err=True)


def _post_options(visibility: str, content_warning: str | None):
    from .live import PostOptions

    return PostOptions(visibility=visibility, content_warning=content_warning or None)


def _visibility_options(command):
    command = click.option(
        "--content-warning", metavar="TEXT", help="Mastodon: a content warning the posts are folded behind."
    )(command)
    return click.option(
        "--visibility",
        type=click.Choice(["public", "unlisted", "private", "direct"]),
        default="unlisted",
        show_default=True,
        help="Mastodon: who sees the posts (unlisted: not on public timelines).",
    )(command)


@cli.command()
@click.argument("target", metavar="SERVICE:HANDLE")
@click.option("--bot", "bot_name", help="The bot that will post here; the offered bio line names its source accounts.")
@click.option("--operator", metavar="HANDLE", help="Your own account, named in the bio line as the bot's operator.")
@click.option("--bio/--no-bio", default=None, help="Add the disclosure line to the profile without asking (or don't).")
@click.option(
    "--token-env",
    metavar="NAME",
    help="Mastodon: take the access token in this variable instead of authorizing; X: an OAuth 2.0 user token.",
)
@click.option(
    "--password-env",
    metavar="NAME",
    default="BLUESKY_APP_PASSWORD",
    show_default=True,
    help="Bluesky: the variable holding the app password (asked for when unset).",
)
@click.option("--base-url", help="API root instead of the service's own (a self-hosted PDS, for instance).")
def connect(
    target: str,
    bot_name: str | None,
    operator: str | None,
    bio: bool | None,
    token_env: str | None,
    password_env: str,
    base_url: str | None,
) -> None:
    """Connect the bot's own account to post from: mastodon:@bot@instance, bluesky:bot.bsky.social, x:botname.

    Marks the account as automated (Mastodon's bot flag, Bluesky's bot label) and offers a bio
    line naming the source accounts and the operator. Credentials are kept in
    TWEETLING_HOME/credentials.json, readable only by you. X keys come from X_API_KEY,
    X_API_SECRET, X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET (OAuth 1.0a) or --token-env.
    """
    from .bots import read_metadata, resolve
    from .live import ConnectOptions, bio_line, parse_target
    from .live import connect as connect_account
    from .store import Store

    parse_target(target)  # a malformed target fails before anything is asked
    line = None
    if bot_name:
        folder = resolve(bot_name)
        line = bio_line(read_metadata(folder).accounts or [folder.name], operator)
        if bio is None:
            bio = click.confirm(f"Add this line to the bot's profile?\n  {line}\n", default=True, err=True)
    elif bio:
        raise TweetlingError("--bio needs --bot BOT (and --operator YOU) to write the line")
    options = ConnectOptions(
        base_url=base_url, token_env=token_env, password_env=password_env, bio_line=line if bio else None
    )
    with Store() as store:
        result = connect_account(store, target, options, _AskOnTerminal())
    connection = result.connection
    console.print(f"connected [bold]{escape(connection.target)}[/] (posts up to {connection.max_chars} characters)")
    for note in result.notes:
        console.print(f"  {escape(note)}", highlight=False)
    if not bot_name:
        console.print("  (pass --bot BOT --operator YOU to offer a bio line naming the source and the operator)")


@cli.command()
def connections() -> None:
    """List the accounts connected to post from."""
    from rich.table import Table

    from .live import connections as connected
    from .store import Store

    table = Table("characters", "bot flag", "bio line", "connected")
    table.add_column("account", no_wrap=True)
    with Store() as store:
        for c in connected(store):
            table.add_row(
                str(c.max_chars),
                "yes" if c.bot_flag else "no: set it by hand",
                "yes" if c.bio_line else "no",
                c.connected_at[:10],
                escape(c.target),
            )
    console.print(table)


@cli.command()
@click.argument("target", metavar="SERVICE:HANDLE")
def disconnect(target: str) -> None:
    """Forget a connected account's credentials (revoke the app on the service too)."""
    from .live import disconnect as forget
    from .store import Store

    with Store() as store:
        removed = forget(store, target)
    console.print(f"{'disconnected' if removed else 'was not connected:'} {escape(target)}")


def _blocklist(words: tuple[str, ...], path: Path | None):
    from .live import Blocklist

    return Blocklist.load(path, words)


@cli.command()
@click.argument("bot")
@click.option("-n", "count", default=20, show_default=True, type=POSTS, help="Posts to sample.")
@click.option("--to", "target", metavar="SERVICE:HANDLE", help="Only for this account (its length limit).")
@click.option("--prompt", default="", help="Start of every draft (default: none, a post from scratch).")
@click.option("--seed", type=int, help="Seed for reproducible samples.")
@click.option("--block", "blocked", multiple=True, metavar="WORD", help="Drop drafts with this word (repeatable).")
@click.option(
    "--blocklist",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File of blocked words, one a line (default: TWEETLING_HOME/blocklist.txt).",
)
def draft(
    bot: str, count: int, target: str | None, prompt: str, seed: int | None, blocked: tuple, blocklist: Path | None
) -> None:
    """Sample candidate posts (-n) into BOT's queue, where they wait for approval.

    Drafts that copy a training post, contain a blocked word or exceed the length limit (the
    account's with --to, else every service's) are dropped; mentions are neutralised and links
    removed. Review them with `tweetling queue BOT`.
    """
    from .live import DraftConfig, draft_posts
    from .store import Store

    words = _blocklist(blocked, blocklist)
    loaded = load_bot(bot)
    with Store() as store, err_console.status("writing drafts…"):
        result = draft_posts(
            store, loaded, DraftConfig(n=count, prompt=prompt, seed=seed), target=target, blocklist=words
        )
    _print_drafts(result.drafts, f"{len(result.drafts)} new drafts")
    dropped = ", ".join(f"{n} {why}" for why, n in result.dropped.items() if n)
    err_console.print(
        f"{len(result.drafts)} of {result.sampled} samples queued" + (f"; dropped {dropped}" if dropped else "")
    )


def _print_drafts(drafts, title: str) -> None:
    from rich.table import Table

    table = Table("id", "status", "text", "for", "note", title=title)
    for d in drafts:
        note = d.remote_url or d.note or ""
        if d.reply_to:
            note = f"reply to @{d.reply_to.author}" + (f"; {note}" if note else "")
        if d.intent and d.status == "approved":
            note = f"send to {d.intent.target} interrupted: checked before retrying"
        table.add_row(str(d.id), d.status, escape(d.text), escape(d.target or "any"), escape(note))
    console.print(table)


@cli.command()
@click.argument("bot")
@click.option("--approve", "approve_ids", multiple=True, type=int, metavar="ID", help="Approve a draft (repeatable).")
@click.option("--reject", "reject_ids", multiple=True, type=int, metavar="ID", help="Reject a draft (repeatable).")
@click.option("--edit", "edits", multiple=True, type=(int, str), metavar="ID TEXT", help="Replace a draft's text.")
@click.option("--approve-all", is_flag=True, help="Approve every pending draft.")
@click.option("--review", is_flag=True, help="Go through the pending drafts one by one: approve, edit, reject or skip.")
@click.option("--all", "show_all", is_flag=True, help="List rejected and posted drafts too.")
@click.option("--json", "as_json", is_flag=True, help="Print the drafts as JSON.")
def queue(
    bot: str,
    approve_ids: tuple[int, ...],
    reject_ids: tuple[int, ...],
    edits: tuple[tuple[int, str], ...],
    approve_all: bool,
    review: bool,
    show_all: bool,
    as_json: bool,
) -> None:
    """List BOT's drafts; approve, edit or reject them."""
    import json

    from .live import Queue, bot_key, edit_draft
    from .store import Store

    name = bot_key(bot)
    if both := sorted(set(approve_ids) & set(reject_ids)):
        raise click.UsageError(f"draft {both[0]} is both approved and rejected: say which")
    with Store() as store:
        drafts = Queue(store)
        with store.transaction():  # all of the changes asked for, or none when one is refused
            for draft_id, text in edits:
                edit_draft(store, draft_id, text, name)
            for draft_id in approve_ids:
                drafts.approve(draft_id, name)
            for draft_id in reject_ids:
                drafts.reject(draft_id, name)
            if approve_all:
                for d in drafts.drafts(name, ("pending",)):
                    drafts.approve(d.id, name)
        if review:
            _review(store, drafts, name)
        shown = drafts.drafts(name) if show_all else drafts.drafts(name, ("pending", "approved"))
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in shown], ensure_ascii=False))
        return
    _print_drafts(shown, f"drafts of {escape(name)}")


def _review(store, drafts, name: str) -> None:
    from .live import edit_draft

    # An editor opened without a terminal (answers piped in) would wait for keys that never come.
    can_edit = sys.stdin.isatty()
    question = "[a]pprove, [e]dit, [r]eject, [s]kip, [q]uit" if can_edit else "[a]pprove, [r]eject, [s]kip, [q]uit"
    for d in drafts.drafts(name, ("pending",)):
        console.print(f"\n[dim]{d.id}.[/] {escape(d.text)}", highlight=False)
        choice = click.prompt(question, type=click.Choice(list("aersq" if can_edit else "arsq")), default="s")
        if choice == "q":
            return
        if choice == "e":
            d = edit_draft(store, d.id, click.edit(d.text) or d.text, name)
            choice = "a" if click.confirm("approve it?", default=True) else "s"
        if choice == "a":
            drafts.approve(d.id, name)
        elif choice == "r":
            drafts.reject(d.id, name)


@cli.command()
@click.argument("bot")
@click.option("--to", "target", required=True, metavar="SERVICE:HANDLE", help="The connected account to post from.")
@click.option("--draft", "draft_id", type=int, metavar="ID", help="Post this approved draft instead of the next one.")
@_visibility_options
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
def post(
    bot: str, target: str, draft_id: int | None, visibility: str, content_warning: str | None, dry_run: bool
) -> None:
    """Post BOT's next approved draft to a connected account, once: an interrupted post is
    checked for before it is sent again."""
    from .live import bot_key, post_draft, post_next
    from .store import Store

    options = _post_options(visibility, content_warning)
    with Store() as store, err_console.status(f"posting to {escape(target)}…"):
        result = (
            post_draft(store, draft_id, target, options, bot=bot_key(bot), dry_run=dry_run)
            if draft_id is not None
            else post_next(store, bot_key(bot), target, options, dry_run=dry_run)
        )
    if result is None:
        console.print(f"no approved drafts for {escape(target)}: approve some with `tweetling queue {escape(bot)}`")
        return
    if result.refused:
        raise TweetlingError(f"draft {result.draft.id} cannot be posted: {result.refused}")
    if result.dry_run:
        console.print(
            f"would post draft {result.draft.id} to {escape(target)}:\n{escape(result.text)}", highlight=False
        )
        return
    where = result.draft.remote_url or result.draft.remote_id or "(the service did not say where)"
    resumed = " (finishing an interrupted send)" if result.resumed else ""
    console.print(f"posted draft {result.draft.id}{resumed} → {escape(where)}", highlight=False)


@cli.command()
@click.argument("bot")
@click.option("--to", "target", required=True, metavar="SERVICE:HANDLE", help="The connected account to post from.")
@click.option("--every", type=_Duration(), default="3h", show_default=True, help="Time between posts, e.g. 3h, 45m.")
@click.option("--jitter", type=_Duration(), default="30m", show_default=True, help="Move each post by up to this much.")
@click.option("--auto-approve", is_flag=True, help="Post without approval: drafts are written and approved as needed.")
@click.option(
    "--reply",
    is_flag=True,
    help="Answer mentions (X: with a paid API tier); replies wait for approval unless --auto-approve.",
)
@click.option("--max-replies-per-hour", default=5, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--max-depth",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Leave mentions deeper in a thread alone.",
)
@click.option("--max-age", type=_Duration(), default="6h", show_default=True, help="Leave older mentions alone.")
@click.option(
    "--poll", type=_Duration(), default="2m", show_default=True, help="How often mentions and the queue are checked."
)
@click.option("--max-posts", type=click.IntRange(min=1), help="Stop after this many scheduled posts.")
@_visibility_options
@click.option(
    "--dry-run", is_flag=True, help="Show the schedule and the mentions that would be answered; send nothing."
)
def run(
    bot: str,
    target: str,
    every: float,
    jitter: float,
    auto_approve: bool,
    reply: bool,
    max_replies_per_hour: int,
    max_depth: int,
    max_age: float,
    poll: float,
    max_posts: int | None,
    visibility: str,
    content_warning: str | None,
    dry_run: bool,
) -> None:
    """Keep BOT posting to a connected account in the foreground, on a schedule (Ctrl-C stops;
    approved drafts stay queued). See README "Run your bot" for systemd and cron."""
    from datetime import datetime

    from .live import ReplyPolicy, RunConfig, Runner, bot_key
    from .store import Store

    config = RunConfig(
        every_s=every,
        jitter_s=jitter,
        auto_approve=auto_approve,
        reply=reply,
        poll_s=poll,
        max_posts=max_posts,
        post=_post_options(visibility, content_warning),
        replies=ReplyPolicy(max_age_s=max_age, max_depth=max_depth, max_per_hour=max_replies_per_hour),
    )

    def say(message: str) -> None:
        console.print(f"[dim]{datetime.now():%Y-%m-%d %H:%M:%S}[/] {escape(message)}", highlight=False)

    with Store() as store:
        runner = Runner(store, bot_key(bot), target, config, load_bot=lambda: load_bot(bot), on_event=say)
        if dry_run:
            _print_plan(runner, jitter, reply)
            return
        say(f"posting {bot_key(bot)} to {runner.target} every {every / 3600:g} h (± {jitter / 60:g} min)")
        try:
            runner.run()
        except KeyboardInterrupt:
            err_console.print("stopped: approved drafts stay queued; an interrupted send is finished on the next run")
            raise SystemExit(130) from None


def _print_plan(runner, jitter: float, reply: bool) -> None:
    from datetime import datetime

    from .live.service import NoReadAccess

    plan = runner.plan()
    if not plan:
        console.print(
            f"no approved drafts for {escape(runner.target)}"
            + (" (--auto-approve would write some)" if runner.config.auto_approve else "")
        )
    for planned in plan:
        when = datetime.fromtimestamp(planned.at).strftime("%Y-%m-%d %H:%M")
        console.print(
            f"{when} (± {jitter / 60:g} min)  draft {planned.draft.id}: {escape(planned.draft.text)}", highlight=False
        )
    if reply:
        try:
            mentions = runner.preview_replies()
        except NoReadAccess as error:
            console.print(f"{escape(str(error))}: `run --reply` would post without replies", highlight=False)
            return
        for mention, reason in mentions:
            verdict = f"skip: {reason}" if reason else "would answer"
            console.print(
                f"mention by @{escape(mention.author)}: {escape(mention.text[:80])} → {verdict}",
                highlight=False,
            )


# --- data rights: forget -----------------------------------------------------------------------------


@cli.command()
@click.argument("account")
@click.option("--post", "post_ids", multiple=True, metavar="ID", help="Forget only this post (repeatable).")
@click.option("--deleted", is_flag=True, help="Forget only the posts marked deleted at their source.")
def forget(account: str, post_ids: tuple[str, ...], deleted: bool) -> None:
    """Remove ACCOUNT's posts (or some of them) from the store, the datasets that hold them and
    their MLflow runs; bots trained on them are marked stale, with the command to retrain."""
    from .forget import forget as forget_account

    with err_console.status(f"forgetting {escape(account)}…"):
        result = forget_account(account, post_ids, deleted=deleted)
    console.print(escape(result.summary()), highlight=False)
    for bot in result.bots:
        remedy = (
            f"retrain: {escape(bot.retrain)}"
            if bot.retrain
            else f"nothing left to train on: delete {escape(str(bot.folder))}"
        )
        console.print(f"stale bot [bold]{escape(bot.name)}[/] ({escape(str(bot.folder))}): {remedy}", highlight=False)
    for note in result.notes:
        warn(note)


# --- export: GGUF for llama.cpp / Ollama / LM Studio, smaller safetensors ------------------------


@cli.command("export")
@click.argument("bot")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["gguf", "safetensors"]),
    default="gguf",
    show_default=True,
    help="gguf: one file for llama.cpp, Ollama and LM Studio, with an Ollama Modelfile beside it; "
    "safetensors: a copy of the bot folder in another precision.",
)
@click.option(
    "--type",
    "gguf_type",
    type=click.Choice(GGUF_TYPES),
    help="GGUF weights: f16, or q8_0 (about half the size).  [default: q8_0]  For q4_k_m, run llama.cpp's "
    "llama-quantize on the f16 file: the gguf package cannot write k-quants in Python.",
)
@click.option(
    "--dtype",
    type=click.Choice(DTYPES),
    help="Precision of a safetensors export; bfloat16 halves the folder.  [default: bfloat16]",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="The .gguf file, or the safetensors folder (default: under TWEETLING_HOME/exports).",
)
def export(bot: str, fmt: str, gguf_type: str | None, dtype: str | None, out: Path | None) -> None:
    """Export BOT to run outside tweetling: a GGUF file (llama.cpp, Ollama, LM Studio) or a
    smaller safetensors folder (transformers)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .export import export_gguf, export_safetensors

    quiet_transformers()
    if fmt == "gguf" and dtype:
        raise click.UsageError("--dtype applies to --format safetensors; GGUF takes --type")
    if fmt == "safetensors":
        if gguf_type:
            raise click.UsageError("--type applies to --format gguf; safetensors takes --dtype")
        with err_console.status(f"exporting {escape(bot)}…"):
            folder = export_safetensors(bot, out, dtype or "bfloat16")
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        console.print(f"wrote {escape(str(folder))} ({size / 1e6:,.1f} MB)")
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(f"exporting {escape(bot)} to GGUF", total=None)
        result = export_gguf(
            bot,
            out,
            gguf_type or "q8_0",
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(
        f"wrote {escape(str(result.path))} ({result.size / 1e6:,.1f} MB, {result.gguf_type}, "
        f"{result.seconds:.1f} s) and {escape(str(result.modelfile))}; from {escape(str(result.path.parent))}:",
        highlight=False,
        soft_wrap=True,
    )
    for runtime, command in result.commands.items():
        console.print(f"  {runtime}: {escape(command)}", highlight=False, soft_wrap=True)
