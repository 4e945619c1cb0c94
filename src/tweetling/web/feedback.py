"""What the page says when an action fails: one line beside the control it concerns, in the
page's own words, that stays until the next action and clears when an action succeeds.

Errors come from modules the CLI shares, worded for its flags and commands; `page_words`
rewrites those hints into the names of the page's fields and steps.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

import gradio as gr

from ..consent import OWNER_FLAG
from ..errors import TweetlingError
from . import render

log = logging.getLogger("tweetling.web")

# (CLI wording, the page's) — each names a flag or command that has a field or step on the page.
PAGE_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r",? or pass --account(?: NAME)?"), ": fill in “Account name”"),
    (re.compile(r"(?:: )?pass --account(?: NAME)?"), ": fill in “Account name”"),
    (re.compile(r"run `tweetling import` or `tweetling fetch` first"), "get them in step 1"),
    (re.compile(r"train one with `tweetling train`"), "train one in step 2"),
    (re.compile(r"approve some with `tweetling queue [^`]*`"), "approve some in step 4"),
    (re.compile(r"run `tweetling connect [^`]*` (first|again)"), r"connect it \1 in step 4 (“Connect an account”)"),
    (re.compile(r"run the same command again( later)? to (resume|continue)"), r"try again\1 to go on"),
    (re.compile(r"run the same command again later"), "try again later"),
    (re.compile(r"; pass a token with --token-env"), ""),
    (re.compile(r"prepare it again with `tweetling prepare` and retrain"), "get the data again in step 1 and retrain"),
    (re.compile(r"run `tweetling prepare [^`]*`"), "get the data in step 1"),
    (re.compile(r"fetch or import newer posts first"), "get its accounts' newer posts in step 1 first"),
    (re.compile(r"train it again without --continue"), "train it again with “Train”"),
    (
        re.compile(rf"If it is your account, pass {re.escape(OWNER_FLAG)}"),
        "If it is yours, tick “These are my own accounts”",
    ),
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
    log.error("unexpected error in a page action", exc_info=error)
    return f"something went wrong ({type(error).__name__}: {error}); the server log has the details"


def finished(result: Any, outputs: int, says: bool) -> tuple:
    values = result if isinstance(result, tuple) else (result,)
    return values if says else (*values, "")


def failed(error: BaseException, outputs: int) -> tuple:
    return (*[gr.skip()] * outputs, render.message(problem(error), "error"))


def shown(step: Callable, outputs: int, says: bool = False) -> Callable:
    """STEP as the page runs it: its OUTPUTS values, then its message box — cleared on success,
    or (SAYS) set to the note STEP returns last; when STEP fails, the message in the box and the
    other outputs left as they were. A STEP that takes `progress` says in the box what it is
    doing while it runs (`phases`)."""
    if "progress" in inspect.signature(step).parameters:
        return phases(step, outputs, says)

    @wraps(step)  # Gradio reads the signature through __wrapped__ (inputs, gr.EventData)
    def run(*args, **kwargs):
        try:
            result = step(*args, **kwargs)
        except Exception as error:  # every failure becomes a readable line, never a bare "Error"
            return failed(error, outputs)
        return finished(result, outputs, says)

    return run


def phases(step: Callable, outputs: int, says: bool) -> Callable:
    """STEP run in a thread while the page shows, beside its button, the phase it last reported
    through its `progress(fraction, desc=...)` callback ("loading the bot…")."""

    @wraps(step)
    def run(*args, **kwargs):
        said: list[str] = []
        done: dict[str, Any] = {}

        def report(fraction: Any = None, desc: str | None = None, **_: Any) -> None:
            if desc:
                said.append(desc)

        def work() -> None:
            try:
                done["result"] = step(*args, **kwargs, progress=report)
            except Exception as error:  # handed to the page below
                done["error"] = error

        thread = threading.Thread(target=work, daemon=True, name=f"tweetling-{step.__name__}")
        thread.start()
        shown_phase = None
        while thread.is_alive():
            thread.join(0.2)
            if said and said[-1] != shown_phase and thread.is_alive():
                shown_phase = said[-1]
                yield (*[gr.skip()] * outputs, render.message(f"{shown_phase}…", "busy"))
        if "error" in done:
            yield failed(done["error"], outputs)
        else:
            yield finished(done["result"], outputs, says)

    # Gradio fills every parameter it sees from the inputs: `progress` is this wrapper's to give.
    signature = inspect.signature(step)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[parameter for name, parameter in signature.parameters.items() if name != "progress"]
    )
    return run


# What each kind of field sends. Gradio's API passes any JSON value on to the step (a list for a
# dropdown, a number for a text), which would fail deep inside it; a wrong kind is refused first.
_SENDS: list[tuple[type, tuple[type, ...], str]] = [
    (gr.Checkbox, (bool,), "true or false"),
    (gr.Number, (int, float), "a number"),
    (gr.Slider, (int, float), "a number"),
    (gr.Textbox, (str,), "text"),
    (gr.Dropdown, (str,), "one of its choices"),
    (gr.Radio, (str,), "one of its choices"),
]


def checked_inputs(step: Callable, inputs: list) -> Callable:
    """STEP, refusing a value of the wrong kind for its field among INPUTS (None is left to STEP)."""
    expected = [
        next(((kinds, what) for cls, kinds, what in _SENDS if isinstance(field, cls)), None) for field in inputs
    ]
    labels = [getattr(field, "label", None) or getattr(field, "elem_id", None) or "a field" for field in inputs]

    @wraps(step)
    def run(*args, **kwargs):
        for value, kinds_what, label in zip(args, expected, labels, strict=False):  # args may add gr.EventData
            if kinds_what is None or value is None:
                continue
            kinds, what = kinds_what
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise TweetlingError(f"“{label}” must be {what}, not {type(value).__name__}")
        return step(*args, **kwargs)

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
    would not see the event's data, so its box changes only when it ends. A step that reports
    its progress says so in its box, in place of Gradio's spinner."""
    run = shown(checked_inputs(step, inputs), len(outputs), says)
    if "progress" in inspect.signature(step).parameters:
        options.setdefault("show_progress", "hidden")  # the box says what the step is doing
    if reads_event:
        return event(run, inputs, [*outputs, message], **options)
    return event(clear, None, message, queue=False, show_progress="hidden").then(
        run, inputs, [*outputs, message], **options
    )
