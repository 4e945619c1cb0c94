"""The `tweetling` command: thin commands over the Python API."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from .errors import TweetlingError

console = Console()
err_console = Console(stderr=True)


class _Group(click.Group):
    """Shows a TweetlingError as one line on stderr and exits 1, without a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except TweetlingError as error:
            err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(package_name="tweetling")
def cli() -> None:
    """Turn someone's posts into a language model that writes in their voice."""


main = cli


# --- data: import, stats, prepare -----------------------------------------------------------

@cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--account", help="Account name of the posts (default: the one the file names).")
@click.option("--source", type=click.Choice(["x", "mastodon", "bluesky", "file"]),
              help="Source of CSV/JSONL/text posts (default: x when they carry tweet ids, else file).")
@click.option("--format", "fmt", type=click.Choice(["auto", "x-archive", "csv", "jsonl", "text"]),
              default="auto", show_default=True, help="File format; auto looks at suffix and content.")
def import_(path: Path, account: str | None, source: str | None, fmt: str) -> None:
    """Import posts from an X archive (zip, folder or tweets.js), a CSV, JSONL or text file."""
    from rich.table import Table

    from .importer import import_path
    from .store import Store

    with Store() as store, console.status(f"Importing {escape(path.name)}"):
        result = import_path(store, path, account=account, source=source, fmt=fmt)
    console.print(f"{escape(path.name)}: added {result.added:,}, updated {result.updated:,}, "
                  f"account {escape(result.account)}", highlight=False)
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
        click.option("--lang", "languages", multiple=True, metavar="CODE",
                     help="Keep only posts in this language (repeatable), e.g. --lang en."),
    ]
    for flag in reversed(flags):
        command = flag(command)
    return command


def clean_options_from(drop_replies: bool, strip_reply_mentions: bool, keep_newlines: bool,
                       drop_duplicates: bool, languages: tuple[str, ...]):
    from .clean import CleanOptions

    return CleanOptions(keep_replies=not drop_replies, strip_reply_mentions=strip_reply_mentions,
                        keep_newlines=keep_newlines, drop_duplicates=drop_duplicates,
                        languages=tuple(languages))


def print_data_table(tables: dict[str, dict]) -> None:
    """huggingtweets' data table: one column per account."""
    from rich.table import Table

    from .clean import Table as Counts

    counts = {account: Counts(**row) for account, row in tables.items()}
    table = Table(title="Data")
    table.add_column("")
    for account in counts:
        table.add_column(escape(account), justify="right")
    labels = dict.fromkeys(label for c in counts.values() for label, _ in c.rows())
    for label in labels:
        table.add_row(label, *(f"{dict(c.rows()).get(label, 0):,}" for c in counts.values()))
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
    print_data_table({c.account: c.table.to_dict() for c in cleaned})
    for part in cleaned:
        try:
            warning = check_sufficient(part)
        except TweetlingError as error:
            warning = str(error)
        if warning:
            err_console.print(f"[yellow]warning:[/] {escape(warning)}")


@cli.command()
@click.argument("accounts", nargs=-1, required=True)
@clean_option_flags
@click.option("--valid-fraction", default=0.1, show_default=True, help="Share of posts held out.")
@click.option("--seed", default=42, show_default=True, help="Seed of the train/valid split.")
@click.option("--no-balance", is_flag=True, help="Don't upsample smaller accounts of a blend.")
@click.option("--track", type=click.Choice(["mlflow", "wandb", "none"]), default=None,
              help="Where to record the run (default: mlflow, or wandb when configured).")
def prepare(accounts: tuple[str, ...], valid_fraction: float, seed: int, no_balance: bool,
            track: str | None, **flags) -> None:
    """Clean ACCOUNTS' posts (up to three: a blend) into a versioned train/valid dataset."""
    from .dataset import PrepareConfig
    from .pipeline import prepare_dataset

    config = PrepareConfig(clean=clean_options_from(**flags), valid_fraction=valid_fraction,
                           seed=seed, balance=not no_balance)
    dataset = prepare_dataset(list(accounts), config, track_backend=track)
    print_data_table(dataset.manifest["table"])
    for warning in dataset.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}")
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
            table.add_row(escape(profile.name), profile.source, escape(profile.display_name or ""),
                          f"{store.count_posts(profile.name):,}")
    console.print(table)


# --- network sources: fetch -------------------------------------------------------------------

@cli.command()
@click.argument("target", metavar="SOURCE:HANDLE")
@click.option("--account", help="Store the posts under this name instead of the handle.")
@click.option("--max-posts", type=click.IntRange(min=1), help="Stop after this many posts (run again to continue).")
@click.option("--base-url", help="API root instead of the public service, e.g. a self-hosted AppView.")
@click.option("--token-env", metavar="NAME",
              help="Environment variable holding the API token (X default: X_BEARER_TOKEN).")
def fetch(target: str, account: str | None, max_posts: int | None, base_url: str | None,
          token_env: str | None) -> None:
    """Download an account's public posts: mastodon:@user@instance.social, bluesky:user.bsky.social, x:username.

    Each page is saved as it arrives: an interrupted fetch resumes on the next run, and a
    fetch after a complete one asks only for newer posts.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn

    from .fetch import FetchOptions, fetch as fetch_account
    from .store import Store

    options = FetchOptions(account=account, max_posts=max_posts, base_url=base_url, token_env=token_env)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
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
            raise SystemExit(130)
    console.print(
        f"[bold]{escape(result.account)}[/] ({result.source}): {result.added:,} new posts,"
        f" {result.updated:,} updated, {result.pages:,} pages"
    )
    if not result.complete:
        console.print("stopped before the oldest post: run the same command to continue")

# --- training: train, runs ----------------------------------------------------------------------

# --- generation and publishing: generate, preview, push, share ----------------------------------

# --- evaluation: eval, sweep ------------------------------------------------------------------------

# --- web app: serve ---------------------------------------------------------------------------------

@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 exposes the app to your network.")
@click.option("--port", default=7860, show_default=True, help="Port to listen on.")
@click.option("--base-model", default=None, help="Default of the Base model field (default: the embedded SmolLM2-135M).")
@click.option("--max-upload-mb", default=512, show_default=True, type=click.IntRange(min=1),
              help="Largest upload accepted, in megabytes.")
def serve(host: str, port: int, base_model: str | None, max_upload_mb: int) -> None:
    """Serve the three-step bot maker (data, train, generate) as a local web app."""
    from .web.app import ServeConfig, serve as serve_app

    config = ServeConfig(host=host, port=port, max_upload_mb=max_upload_mb,
                         **({"base_model": base_model} if base_model else {}))
    console.print(f"tweetling web app on [bold]http://{escape(host)}:{port}[/] (Ctrl-C to stop)")
    serve_app(config)
