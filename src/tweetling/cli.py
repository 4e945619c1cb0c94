"""The `tweetling` command: thin commands over the Python API."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from .errors import TweetlingError
from .generate import DEFAULT_POSTS, DEFAULT_PROMPT, GenerateConfig
from .models import DEFAULT_BASE
from .recipes import METHODS
from .terminal import escape  # rich markup escaped and control characters removed: for all outside text
from .track import BACKENDS

if TYPE_CHECKING:
    from .clean import Table as Counts

console = Console()
err_console = Console(stderr=True)


class _Group(click.Group):
    """Shows a TweetlingError as one line on stderr and exits 1, without a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except TweetlingError as error:
            one_line = " ".join(str(error).split())
            err_console.print(f"[bold red]error:[/] {escape(one_line)}", highlight=False, soft_wrap=True)
            ctx.exit(1)


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
    from .store import Store

    with Store() as store, console.status(f"Importing {escape(path.name)}"):
        result = import_path(store, path, account=account, source=source, fmt=fmt)
    console.print(
        f"{escape(path.name)}: added {result.added:,}, updated {result.updated:,}, account {escape(result.account)}",
        highlight=False,
    )
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
):
    from .clean import CleanOptions

    return CleanOptions(
        keep_replies=not drop_replies,
        strip_reply_mentions=strip_reply_mentions,
        keep_newlines=keep_newlines,
        drop_duplicates=drop_duplicates,
        languages=tuple(languages),
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
@click.option("--valid-fraction", default=0.1, show_default=True, help="Share of posts held out.")
@click.option("--seed", default=42, show_default=True, help="Seed of the train/valid split.")
@click.option("--no-balance", is_flag=True, help="Don't upsample smaller accounts of a blend.")
@track_option()
def prepare(
    accounts: tuple[str, ...], valid_fraction: float, seed: int, no_balance: bool, track: str | None, **flags
) -> None:
    """Clean ACCOUNTS' posts (up to three: a blend) into a versioned train/valid dataset."""
    from .dataset import PrepareConfig
    from .pipeline import prepare_dataset

    config = PrepareConfig(
        clean=clean_options_from(**flags), valid_fraction=valid_fraction, seed=seed, balance=not no_balance
    )
    dataset = prepare_dataset(list(accounts), config, track_backend=track)
    print_data_table(dataset.tables)
    for warning in dataset.warnings:
        warn(warning)
    console.print(
        f"dataset [bold]{escape(dataset.name)}[/]: {len(dataset.train):,} train / "
        f"{len(dataset.valid):,} valid posts → {escape(str(dataset.path))}"
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
def fetch(target: str, account: str | None, max_posts: int | None, base_url: str | None, token_env: str | None) -> None:
    """Download an account's public posts: mastodon:@user@instance.social, bluesky:user.bsky.social, x:username.

    Each page is saved as it arrives: an interrupted fetch resumes on the next run, and a
    fetch after a complete one asks only for newer posts.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn

    from .fetch import FetchOptions, account_name
    from .fetch import fetch as fetch_account
    from .store import Store

    account_name(target)  # a malformed target fails here, before the store is created
    options = FetchOptions(account=account, max_posts=max_posts, base_url=base_url, token_env=token_env)
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
    if not result.complete:
        console.print("stopped before the oldest post: run the same command to continue")


# --- training: train, runs ----------------------------------------------------------------------


def training_dataset(sources: tuple[str, ...], clean_flags: dict, track: str | None):
    """SOURCES as a dataset: a dataset folder, stored accounts (prepared now; an unchanged
    version is reused), or the name of a prepared dataset."""
    from .dataset import Dataset, PrepareConfig, resolve
    from .pipeline import prepare_dataset
    from .store import Store

    if len(sources) == 1 and (Path(sources[0]) / "manifest.json").exists():
        return Dataset.load(sources[0])
    with Store() as store:
        stored = all(store.count_posts(source) for source in sources)
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
@click.option("--epochs", type=click.IntRange(min=1))
@click.option("--batch-size", type=click.IntRange(min=1))
@click.option("--learning-rate", "--lr", "learning_rate", type=float)
@click.option("--max-time", "max_time_s", type=float, metavar="SECONDS", help="Stop training after this long.")
@click.option("--checkpoint-every", type=click.IntRange(min=0), metavar="STEPS", help="0: only on Ctrl-C.")
@click.option("--seed", type=int)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Bot folder (default: TWEETLING_HOME/bots/<name>)."
)
@click.option("--resume", is_flag=True, help="Continue an interrupted training from its checkpoint.")
@track_option()
@clean_option_flags
def train(
    sources: tuple[str, ...],
    base: str,
    recipe_name: str,
    method: str | None,
    out: Path | None,
    resume: bool,
    track: str | None,
    epochs: int | None,
    batch_size: int | None,
    learning_rate: float | None,
    max_time_s: float | None,
    checkpoint_every: int | None,
    seed: int | None,
    **clean_flags,
) -> None:
    """Fine-tune a base model on a dataset, or on up to three accounts (a blend), into a bot.

    Ctrl-C stops after the current step and saves a checkpoint; --resume continues it.
    A CUDA GPU is used when present; several, when started by `torchrun` or `accelerate launch`.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .distributed import world
    from .pipeline import train_bot
    from .recipes import TrainingInterrupted, recipe

    quiet_transformers()
    config = recipe(
        recipe_name,
        method=method,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_time_s=max_time_s,
        checkpoint_every=checkpoint_every,
        seed=seed,
    )
    if not world().is_main:  # under a launcher, the main process speaks for all
        console.quiet = err_console.quiet = True
    with world().main_first():  # one process prepares the dataset version, the others read it
        dataset = training_dataset(sources, clean_flags, track)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} tok/s  loss {task.fields[loss]}  ETA {task.fields[eta]}"),
    )
    console.print(
        f"training [bold]{escape(dataset.name)}[/] on {escape(base)} "
        f"({config.recipe} recipe, {config.method}): {len(dataset.train):,} posts"
    )
    with Progress(*columns, console=err_console) as progress:
        task = progress.add_task("training", total=None, rate="-", loss="-", eta="-")

        def on_progress(update) -> None:
            if update.event == "step":
                eta = f"{update.eta_s // 60:.0f}:{update.eta_s % 60:02.0f}" if update.eta_s is not None else "-"
                progress.update(
                    task,
                    completed=update.step,
                    total=update.total_steps,
                    rate=f"{update.tokens_per_s:,.0f}",
                    loss=f"{update.loss:.3f}",
                    eta=eta,
                )
            elif update.event == "eval":
                progress.console.print(
                    f"epoch {update.epoch}, step {update.step}: validation loss {update.valid_loss:.4f}"
                )

        try:
            folder = train_bot(
                dataset, config, base, out, resume=resume, track_backend=track, on_progress=on_progress, on_warning=warn
            )
        except TrainingInterrupted as stopped:
            progress.stop()
            err_console.print(f"[yellow]{escape(str(stopped))}[/]")
            raise SystemExit(130) from None
    from .bots import read_metadata

    meta = read_metadata(folder)
    perplexity = meta.valid_perplexity
    console.print(
        f"bot [bold]{escape(meta.name)}[/] → {escape(str(folder))}\n"
        f"{meta.train_tokens:,} tokens in {meta.train_time_s:.0f} s "
        f"({meta.tokens_per_s:,.0f} tok/s); held-out perplexity "
        f"{'-' if perplexity is None else f'{perplexity:.2f}'}"
    )


@cli.command()
@click.option("--limit", default=20, show_default=True, help="How many runs to show, newest first.")
def runs(limit: int) -> None:
    """List recent prepare and train runs of the local MLflow store (`mlflow ui` shows more)."""
    from rich.table import Table

    from .track import recent_runs, tracking_uri

    table = Table("started", "kind", "name", "status", "time", "valid ppl", "run id")
    for run in recent_runs(limit):
        ppl = run.metrics.get("final_valid_perplexity")
        table.add_row(
            run.started,
            run.kind,
            escape(run.name),
            run.status,
            "-" if run.duration_s is None else f"{run.duration_s:.0f} s",
            "-" if ppl is None else f"{ppl:.2f}",
            run.id,
        )
    console.print(table)
    console.print(f"mlflow ui --backend-store-uri {tracking_uri()}", highlight=False)


# --- generation and publishing: generate, preview, push, share ----------------------------------


def load_bot(bot: str):
    from .bots import Bot

    quiet_transformers()

    with err_console.status(f"loading {escape(bot)}…"):
        return Bot.load(bot)


@cli.command()
@click.argument("bot")
@click.argument("prompt", default=DEFAULT_PROMPT)
@click.option(
    "-n", "count", default=DEFAULT_POSTS, show_default=True, type=click.IntRange(min=1), help="Posts to sample."
)
@click.option("--seed", type=int, help="Seed for reproducible samples.")
@click.option("--top-p", default=GenerateConfig.top_p, show_default=True, type=click.FloatRange(0, 1, min_open=True))
@click.option(
    "--temperature", default=GenerateConfig.temperature, show_default=True, type=click.FloatRange(0, min_open=True)
)
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
    """Write COUNT posts in BOT's voice that start with PROMPT."""
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
    err_console.print(result.summary(), highlight=False)


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
@click.option("--seed", type=int, help="Seed for a reproducible sample.")
def preview(bot: str, prompt: str, avatars: tuple[Path, ...], seed: int | None) -> None:
    """Draw predictions.png: a post-like card with a generated continuation of PROMPT."""
    from .card import write_card
    from .preview import write_preview

    image = write_preview(load_bot(bot), prompt, avatars, seed)
    write_card(image.parent)  # the card shows the image once it exists
    console.print(f"wrote {escape(str(image))}")


@cli.command()
@click.argument("bot")
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="Create the repository as private.")
def push(bot: str, repo_id: str, private: bool) -> None:
    """Publish BOT with its model card to the Hugging Face Hub as REPO_ID (owner/name).

    The token comes from HF_TOKEN or `hf auth login`."""
    from .hub import push as push_bot

    with err_console.status(f"uploading to {escape(repo_id)}…"):
        url = push_bot(bot, repo_id, private=private)
    console.print(f"published {escape(url)}")


@cli.command()
@click.argument("bot")
@click.argument("text")
@click.option("--instance", default="mastodon.social", show_default=True, help="Mastodon server to share on.")
def share(bot: str, text: str, instance: str) -> None:
    """Links to post TEXT (a generated post) on X and Mastodon, with a machine-generated disclosure."""
    from .bots import read_metadata, resolve
    from .share import share_links

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
    type=click.IntRange(min=1),
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
@click.option("--timeout", "timeout_s", type=float, metavar="SECONDS", help="Stop starting trials after this long.")
@click.option("--max-time", "max_time_s", type=float, metavar="SECONDS", help="Training time limit of each trial.")
@click.option("--method", type=click.Choice(METHODS), help="Search only this method (default: both).")
@click.option("--seed", default=42, show_default=True, help="Seed of training and of the sampler.")
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
    config = SweepConfig(trials=trials, timeout_s=timeout_s, base=base, space=space, max_time_s=max_time_s, seed=seed)
    dataset = training_dataset(sources, clean_flags, track)

    def on_trial(trial) -> None:
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        best = "-" if trial.best_value is None else f"{trial.best_value:.4f}"
        err_console.print(
            f"trial {trial.number}: {trial.state.lower()}, validation loss {value} (best {best})", highlight=False
        )

    console.print(f"sweeping [bold]{escape(dataset.name)}[/] on {escape(base)}: {trials} trials")
    with err_console.status("training trials…"):
        result = run_sweep(dataset, config, out, track_backend=track, on_trial=on_trial)
        for warning in finish_bot(result.bot):
            warn(warning)
    table = Table("parameter", "value", title=f"best trial {result.best_trial} of {result.trials}")
    for name, value in result.best_params.items():
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    perplexity = "-" if result.best_perplexity is None else f"{result.best_perplexity:.2f}"
    console.print(
        f"validation loss {result.best_value:.4f} (perplexity {perplexity}); "
        f"best bot → {escape(str(result.bot))}\nstudy {escape(result.study_name)} in {result.storage}",
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
@click.option("--port", default=7860, show_default=True, help="Port to listen on.")
@click.option(
    "--base-model", default=None, help="Default of the Base model field (default: the embedded SmolLM2-135M)."
)
@click.option(
    "--max-upload-mb",
    default=512,
    show_default=True,
    type=click.IntRange(min=1),
    help="Largest upload accepted, in megabytes.",
)
@track_option("datasets and trainings")
def serve(host: str, port: int, base_model: str | None, max_upload_mb: int, track: str | None) -> None:
    """Serve the three-step bot maker (data, train, generate) as a local web app."""
    from .web.app import ServeConfig
    from .web.app import serve as serve_app

    config = ServeConfig(
        host=host,
        port=port,
        max_upload_mb=max_upload_mb,
        track=track,
        **({"base_model": base_model} if base_model else {}),
    )
    console.print(f"tweetling web app on [bold]http://{escape(host)}:{port}[/] (Ctrl-C to stop)")
    serve_app(config)
