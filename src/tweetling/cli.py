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

# --- network sources: fetch -------------------------------------------------------------------

# --- training: train, runs ----------------------------------------------------------------------

# --- generation and publishing: generate, preview, push, share ----------------------------------

# --- evaluation: eval, sweep ------------------------------------------------------------------------

# --- web app: serve ---------------------------------------------------------------------------------
