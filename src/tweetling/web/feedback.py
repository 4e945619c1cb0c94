"""What the page says when an action fails: one line beside the control it concerns, in the
page's own words, that stays until the next action and clears when an action succeeds.

Errors come from modules the CLI shares, worded for its flags and commands; `page_words`
rewrites those hints into the names of the page's fields and steps.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import wraps

import gradio as gr

from ..errors import TweetlingError
from . import render

log = logging.getLogger("tweetling.web")

# (CLI wording, the page's) — each names a flag or command that has a field or step on the page.
PAGE_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r",? or pass --account(?: NAME)?"), ": fill in “Account name”"),
    (re.compile(r"(?:: )?pass --account(?: NAME)?"), ": fill in “Account name”"),
    (re.compile(r"run `tweetling import` or `tweetling fetch` first"), "get them in step 1"),
    (re.compile(r"train one with `tweetling train`"), "train one in step 2"),
    (re.compile(r"prepare it again with `tweetling prepare` and retrain"), "get the data again in step 1 and retrain"),
    (re.compile(r"run `tweetling prepare [^`]*`"), "get the data in step 1"),
    (re.compile(r"start again without --resume"), "start it again with “Train” instead of continuing it"),
    (re.compile(r"run the same command with --resume to continue"), "continue it in step 2"),
    (re.compile(r"run `hf auth login` or set HF_TOKEN"), "paste a token into “Hugging Face token”"),
    (
        re.compile(r"log in again with `hf auth login` or use a token with write access"),
        "use a token with write access",
    ),
    (re.compile(r",? or name another variable with --token-env"), " where the app runs, then restart it"),
    (
        re.compile(r"put one from (\S+) in an environment variable and pass --token-env NAME"),
        r"this page cannot send one: download this account with the command line",
    ),
]


def page_words(message: str) -> str:
    """MESSAGE with the CLI's hints replaced by the page's controls."""
    for pattern, replacement in PAGE_WORDS:
        message = pattern.sub(replacement, message)
    return message


def problem(error: BaseException) -> str:
    """The one line the page shows for ERROR."""
    if isinstance(error, TweetlingError):
        return page_words(str(error))
    # A bug, not the user's input: say so in one line; the server log keeps the traceback.
    log.exception("unexpected error in a page action")
    return f"something went wrong ({type(error).__name__}: {error}); the server log has the details"


def shown(step: Callable, outputs: int, says: bool = False) -> Callable:
    """STEP as the page runs it: its OUTPUTS values, then its message box — cleared on success,
    or (SAYS) set to the note STEP returns last; when STEP fails, the message in the box and the
    other outputs left as they were."""

    @wraps(step)  # Gradio reads the signature through __wrapped__ (inputs, gr.Progress, gr.EventData)
    def run(*args, **kwargs):
        try:
            result = step(*args, **kwargs)
        except Exception as error:  # every failure becomes a readable line, never a bare "Error"
            return (*[gr.skip()] * outputs, render.message(problem(error), "error"))
        values = result if isinstance(result, tuple) else (result,)
        return values if says else (*values, "")

    return run


def clear() -> str:
    """The message box as an action starts: the last message no longer applies."""
    return ""


def wire(
    event: Callable,
    step: Callable,
    inputs: list,
    outputs: list,
    message,
    says: bool = False,
    reads_event: bool = False,
    **options,
):
    """Run STEP on EVENT (e.g. `button.click`) with its message box MESSAGE beside the control,
    which empties as the action starts; with SAYS, STEP returns the box's note after its
    OUTPUTS. A step that READS_EVENT (gr.EventData) runs on the event itself: a chained step
    would not see the event's data, so its box changes only when it ends."""
    run = shown(step, len(outputs), says)
    if reads_event:
        return event(run, inputs, [*outputs, message], **options)
    return event(clear, None, message, queue=False, show_progress="hidden").then(
        run, inputs, [*outputs, message], **options
    )
