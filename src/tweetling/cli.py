"""The `tweetling` command: thin commands over the Python API."""

from __future__ import annotations

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
    dataset = prepare_dataset(list(accounts), config, track=track)
    print_data_table(dataset.manifest["table"])
    for warning in dataset.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}")
    console.print(
        f"dataset [bold]{escape(dataset.name)}[/]: {len(dataset.train):,} train / "
        f"{len(dataset.valid):,} valid posts → {escape(str(dataset.path))}"
    )


# --- network sources: fetch -------------------------------------------------------------------

# --- training: train, runs ----------------------------------------------------------------------

# --- generation and publishing: generate, preview, push, share ----------------------------------

# --- evaluation: eval, sweep ------------------------------------------------------------------------

# --- web app: serve ---------------------------------------------------------------------------------
