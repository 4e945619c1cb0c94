"""The three-step bot maker in the browser (Gradio Blocks): 1. data, 2. train, 3. generate.

The step functions below take and return plain values, so tests call them without a browser;
`build_app` lays them out and wires them to the page.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read at import: never phone home

import random
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import wraps
from pathlib import Path
from typing import Any

import gradio as gr

from .. import bots, paths, preview, share
from ..bots import Bot, BotMeta
from ..clean import CleanOptions
from ..dataset import MAX_ACCOUNTS, Dataset, PrepareConfig, clean_accounts
from ..errors import InsufficientDataError, TweetlingError
from ..fetch import FetchOptions, fetch
from ..generate import DEFAULT_POSTS, DEFAULT_PROMPT
from ..importer import import_path
from ..models import DEFAULT_BASE
from ..pipeline import prepare_dataset, train_bot
from ..recipes import METHODS, RECIPES, TrainConfig, TrainingInterrupted, TrainProgress, recipe
from ..store import Store
from . import render
from .jobs import Cancelled, JobControl, JobRunner

MAX_PROMPT_CHARS = 200
MAX_SAMPLES = 20
DEFAULT_MAX_POSTS = 3200  # what the X API let huggingtweets download per account
SAMPLE_POSTS = 8  # kept posts shown after the data step
UPLOAD_TYPES = [".zip", ".js", ".csv", ".jsonl", ".ndjson", ".txt"]
STORED = "Already in the store"
SOURCES = {"Mastodon": "mastodon", "Bluesky": "bluesky", "X API": "x", STORED: "store"}
MAX_EPOCHS = 20

Progress = Callable[..., Any]  # gr.Progress, or any callable taking (fraction, desc=...)


@dataclass(frozen=True)
class ServeConfig:
    """Where the app listens and what it accepts."""

    host: str = "127.0.0.1"  # local only, unless the user asks otherwise
    port: int = 7860
    max_upload_mb: int = 512  # an X archive without media is far smaller; with media, upload tweets.js
    base_model: str = DEFAULT_BASE  # the "Base model" field's default: the embedded SmolLM2-135M
    track: str | None = None  # where trainings are recorded: mlflow, wandb or none (None: as the CLI decides)


def _no_progress(*args: Any, **kwargs: Any) -> None:
    """Progress sink for calls made outside a Gradio event (tests, scripts)."""


def user_errors(step: Callable) -> Callable:
    """Show a TweetlingError as a readable message on the page instead of a bare "Error"."""

    @wraps(step)
    def wrapper(*args, **kwargs):
        try:
            return step(*args, **kwargs)
        except TweetlingError as error:
            raise gr.Error(str(error), print_exception=False) from None

    return wrapper


# --- step 1: data -----------------------------------------------------------------------------


def parse_handles(text: str) -> list[str]:
    """Handles separated by commas, spaces or new lines; at most three."""
    handles = [h for h in re.split(r"[,\s]+", text or "") if h]
    if len(handles) > MAX_ACCOUNTS:
        raise TweetlingError(f"enter at most {MAX_ACCOUNTS} handles (a blend), not {len(handles)}")
    return handles


def collect_accounts(
    store: Store,
    upload: str | None,
    upload_account: str | None,
    source: str,
    handles: list[str],
    max_posts: int,
    progress: Progress = _no_progress,
) -> tuple[list[str], list[str]]:
    """Import the upload and fetch (or look up) each handle; return the account names and what happened."""
    if not upload and not handles:
        raise TweetlingError("upload an X archive or a file of posts, or enter up to three handles")
    if bool(upload) + len(handles) > MAX_ACCOUNTS:
        raise TweetlingError(
            f"a bot blends at most {MAX_ACCOUNTS} accounts: the upload and "
            f"{len(handles)} handles make {len(handles) + 1}"
        )
    accounts, events = [], []
    if upload:
        progress(None, desc="importing the upload")
        result = import_path(store, upload, account=upload_account or None)
        accounts.append(result.account)
        events.append(f"{result.account}: imported {result.added:,} new posts, {result.updated:,} updated")
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

        fetched = fetch(store, target, FetchOptions(max_posts=max_posts), on_progress=on_progress)
        accounts.append(fetched.account)
        events.append(f"{fetched.account}: downloaded {fetched.added:,} new posts")
    return accounts, events


def sample_posts(dataset: Dataset, k: int = SAMPLE_POSTS, seed: int = 0) -> list[str]:
    examples = dataset.train + dataset.valid
    return [e.text for e in random.Random(seed).sample(examples, min(k, len(examples)))]


@user_errors
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
    progress: Progress = gr.Progress(),
) -> tuple[str, str, str, str | None, str, str]:
    """Step 1: gather posts, prepare the dataset; show the data table, sample posts and warnings.

    Returns (table, samples, notes, dataset path or None, the train step's dataset line, bot name).
    """
    source = SOURCES.get(source_label)
    if source is None:
        raise TweetlingError(f"unknown source {source_label!r}")
    handles = parse_handles(handles_text)
    max_posts = int(max_posts or DEFAULT_MAX_POSTS)
    if max_posts < 1:
        raise TweetlingError("the number of posts to download must be at least 1")
    options = CleanOptions(keep_replies=not drop_replies, keep_newlines=keep_newlines, drop_duplicates=drop_duplicates)
    with Store() as store:
        accounts, events = collect_accounts(
            store, upload, (upload_account or "").strip(), source, handles, max_posts, progress
        )
        progress(None, desc="cleaning and splitting")
        try:
            dataset = prepare_dataset(accounts, PrepareConfig(clean=options), track)
        except InsufficientDataError as error:  # still show the table, so the user sees why
            tables = {c.account: c.table for c in clean_accounts(store, accounts, options)}
            gr.Warning(str(error))
            return (
                render.data_table(tables),
                "",
                render.notes([*events, str(error)], "warning"),
                None,
                "Not enough data yet: go back to step 1.",
                "",
            )
    for warning in dataset.warnings:
        gr.Warning(warning)
    summary = f"dataset {dataset.name}: {len(dataset.train):,} training and {len(dataset.valid):,} validation posts"
    return (
        render.data_table(dataset.tables),
        "<h4>A sample of kept posts</h4>" + render.post_list(sample_posts(dataset), "tl-samples"),
        render.notes([*events, summary]) + render.notes(dataset.warnings, "warning"),
        str(dataset.path),
        f"<p id='tl-dataset'>Ready: {render.esc(summary)}.</p>",
        dataset.name,
    )


# --- step 2: train ----------------------------------------------------------------------------

RUNNER = JobRunner()  # one training at a time for the whole server


def training_work(
    dataset_path: str, name: str, base_model: str, config: TrainConfig, resume: bool, track: str | None
) -> Callable[[JobControl], str]:
    """The job that trains a bot: each reported step may raise Cancelled, which the trainer
    answers by saving a checkpoint and stopping."""

    def work(control: JobControl) -> str:
        def on_progress(update: TrainProgress) -> None:
            fields: dict[str, Any] = {
                "step": update.step,
                "total": update.total_steps,
                "tokens_per_s": update.tokens_per_s,
            }
            if update.event == "step":
                fields.update(loss=update.loss, eta_s=update.eta_s)
            elif update.event == "eval":
                fields.update(valid_loss=update.valid_loss)
            control.report(**fields)

        try:
            return str(
                train_bot(
                    Dataset.load(dataset_path),
                    config,
                    base_model,
                    bots.default_dir(name),
                    resume=resume,
                    track_backend=track,
                    on_progress=on_progress,
                )
            )
        except TrainingInterrupted as stopped:
            if not control.cancel_requested.is_set():
                raise
            where = "checkpoint saved: tick Continue to resume" if stopped.checkpoint else "no checkpoint yet"
            raise Cancelled(f"stopped at step {stopped.step} of {stopped.total_steps}; {where}") from None

    return work


@user_errors
def start_training(
    dataset_path: str | None,
    bot_name: str,
    base_model: str,
    method: str,
    recipe_name: str,
    epochs: float | None,
    resume: bool = False,
    track: str | None = None,
) -> tuple[str, gr.Timer]:
    """Step 2: start training in the background; the page polls its progress."""
    if not dataset_path:
        raise TweetlingError("get data in step 1 first")
    name = paths.checked_name((bot_name or "").strip(), "bot name")
    base_model = (base_model or "").strip()
    if not base_model:
        raise TweetlingError("enter a base model")
    epochs = epochs or 0
    if int(epochs) != epochs or not 0 <= epochs <= MAX_EPOCHS:
        raise TweetlingError(f"epochs must be a whole number from 1 to {MAX_EPOCHS} (0: the recipe's)")
    config = recipe(recipe_name, method=method, epochs=int(epochs) or None)
    status = RUNNER.start(name, training_work(dataset_path, name, base_model, config, resume, track))
    return render.training_status(status), gr.Timer(active=True)


def cancel_training() -> str:
    if not RUNNER.cancel():
        gr.Info("No training is running.")
    return render.training_status(RUNNER.status())


def poll_training(seen_finish: float | None) -> tuple:
    """The live progress; once a job ends, refresh the bot list (selecting the new bot) and gallery."""
    status = RUNNER.status()
    active = status is not None and status.active
    if status is None or active or status.finished_at == seen_finish:
        return render.training_status(status), gr.Timer(active=active), gr.skip(), gr.skip(), seen_finish
    new_bot = Path(status.result).name if status.result else None
    return (render.training_status(status), gr.Timer(active=False), bot_choices(new_bot), gallery(), status.finished_at)


def page_load() -> tuple:
    """What a fresh page shows: the current job (still polled if running), the bots, the gallery."""
    status = RUNNER.status()
    return (
        render.training_status(status),
        gr.Timer(active=status is not None and status.active),
        bot_choices(),
        gallery(),
        status.finished_at if status else None,
    )


# --- step 3: generate -------------------------------------------------------------------------


def list_bots() -> list[BotMeta]:
    """Metadata of every trained bot under TWEETLING_HOME/bots (named after its folder), newest first."""
    found = []
    root = paths.bots_dir()
    for meta_file in root.glob(f"*/{bots.METADATA_FILE}") if root.exists() else []:
        try:
            meta = bots.read_metadata(meta_file.parent)
        except (OSError, TweetlingError):
            continue  # a bot being written or damaged is left out of the gallery, not fatal to it
        found.append(replace(meta, name=meta_file.parent.name))
    return sorted(found, key=lambda meta: meta.created_at or "", reverse=True)


def bot_names() -> list[str]:
    return [meta.name for meta in list_bots()]


def bot_folder(name: str) -> Path:
    """The folder of a bot NAME under TWEETLING_HOME/bots: the page never reads other folders."""
    folder = bots.default_dir(name)
    if not (folder / "config.json").exists():
        raise TweetlingError(f"no bot named {name!r}; train one in step 2")
    return folder


class BotCache:
    """The last bot loaded stays in memory: repeated generations skip loading the model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._bot: Bot | None = None

    def get(self, name: str) -> Bot:
        folder = bot_folder(name)
        meta_file = folder / bots.METADATA_FILE
        key = (folder.resolve(), meta_file.stat().st_mtime_ns if meta_file.exists() else None)
        with self._lock:
            if self._bot is None or key != self._key:
                self._bot, self._key = None, None  # free the old model before loading the next
                self._bot, self._key = Bot.load(folder), key
            return self._bot


BOTS = BotCache()


def check_generate_inputs(bot: str | None, prompt: str, n: float | None) -> tuple[str, int]:
    """The limits of the generate step; returns the bot and the number of posts as an int."""
    if not bot:
        raise TweetlingError("choose a bot first (train one in step 2)")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise TweetlingError(f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}")
    if n is None or int(n) != n or not 1 <= n <= MAX_SAMPLES:
        raise TweetlingError(f"the number of posts must be a whole number from 1 to {MAX_SAMPLES}")
    return bot, int(n)


def predictions_image(bot: Bot, prompt: str, text: str) -> str:
    """huggingtweets' predictions image for one generated post, as a PNG file to show."""
    image = preview.post_image(bot, prompt, text)
    target = Path(tempfile.mkdtemp(prefix="tweetling-predictions-")) / "predictions.png"
    image.save(target, format="PNG")
    return str(target)


@user_errors
def generate_step(
    bot: str | None, prompt: str, n: float | None, seed: float | None, progress: Progress = gr.Progress()
) -> tuple[str, str, str | None]:
    """Step 3: sample posts; returns (posts with share links, summary, predictions image of the first)."""
    prompt = prompt or ""
    bot, count = check_generate_inputs(bot, prompt, n)
    progress(None, desc="loading the bot")
    loaded = BOTS.get(bot)
    progress(None, desc="writing posts")
    # A drawn seed, shown in the summary, so any result can be written again.
    seed = random.SystemRandom().randrange(2**31) if seed is None or seed < 0 else int(seed)
    result = loaded.generate(prompt, n=count, seed=seed)
    summary = f"{result.summary()}; seed {seed}"
    if not result.outputs:
        return "", render.notes([summary], "warning"), None
    posts = [(text, share.share_links(text, loaded.accounts)) for text in result.texts]
    image = predictions_image(loaded, prompt, result.texts[0])
    return render.generated_posts(posts), render.notes([summary], "info" if result.complete else "warning"), image


@user_errors
def download_bot(bot: str | None) -> str:
    """The bot folder as a zip file to download."""
    if not bot:
        raise TweetlingError("choose a bot first")
    folder = bot_folder(bot)
    out = Path(tempfile.mkdtemp(prefix="tweetling-download-")) / folder.name
    return shutil.make_archive(str(out), "zip", root_dir=folder)


def bot_choices(selected: str | None = None) -> dict:
    names = bot_names()
    return gr.update(choices=names, value=selected if selected in names else (names[0] if names else None))


def gallery() -> str:
    return render.bot_cards(list_bots())


# --- the page ---------------------------------------------------------------------------------

# System fonts: the default theme would fetch its fonts from Google.
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def build_app(config: ServeConfig = ServeConfig()) -> gr.Blocks:
    with gr.Blocks(title="tweetling", analytics_enabled=False) as app:
        gr.Markdown("# tweetling\nTurn someone's posts into a bot that writes in their voice, in three steps.")
        dataset_path = gr.State(None)
        track = gr.State(config.track)
        seen_finish = gr.State(None)  # when the last finished job was shown, to refresh the bot list once
        timer = gr.Timer(1.0, active=False)
        with gr.Tabs():
            with gr.Tab("1. Data", id="data"):
                with gr.Row():
                    with gr.Column():
                        upload = gr.File(
                            label="Upload an X archive (.zip) or a file of posts",
                            file_types=UPLOAD_TYPES,
                            elem_id="tl-upload",
                        )
                        upload_account = gr.Textbox(label="Account name (for files that name none)")
                    with gr.Column():
                        source = gr.Radio(list(SOURCES), value="Mastodon", label="…or download from")
                        handles = gr.Textbox(
                            label=f"Handles (up to {MAX_ACCOUNTS}, separated by commas)",
                            placeholder="@user@mastodon.social, user.bsky.social",
                        )
                        max_posts = gr.Number(DEFAULT_MAX_POSTS, label="Most posts per account", precision=0, minimum=1)
                with gr.Accordion("Cleaning options", open=False):
                    drop_replies = gr.Checkbox(label="Drop replies")
                    keep_newlines = gr.Checkbox(label="Keep line breaks")
                    drop_duplicates = gr.Checkbox(label="Drop repeated posts")
                load_button = gr.Button("Get data", variant="primary", elem_id="tl-load")
                data_notes = gr.HTML()
                data_table = gr.HTML()
                samples = gr.HTML()
            with gr.Tab("2. Train", id="train"):
                dataset_line = gr.HTML("<p id='tl-dataset'>Get data in step 1 first.</p>")
                with gr.Row():
                    bot_name = gr.Textbox(label="Bot name", elem_id="tl-bot-name")
                    base_model = gr.Textbox(
                        config.base_model, label="Base model (name, folder or Hub id)", elem_id="tl-base-model"
                    )
                with gr.Row():
                    method = gr.Radio(list(METHODS), value=METHODS[0], label="Method (LoRA: lighter, full: closer fit)")
                    recipe_name = gr.Radio(list(RECIPES), value="default", label="Recipe")
                    epochs = gr.Number(0, label="Epochs (0: the recipe's)", precision=0, elem_id="tl-epochs")
                    resume = gr.Checkbox(label="Continue a cancelled training")
                with gr.Row():
                    train_button = gr.Button("Train", variant="primary", elem_id="tl-train")
                    cancel_button = gr.Button("Cancel", variant="stop", elem_id="tl-cancel")
                train_status = gr.HTML(render.training_status(None))
            with gr.Tab("3. Generate", id="generate"):
                with gr.Row():
                    bot = gr.Dropdown(label="Bot", elem_id="tl-bot")
                    prompt = gr.Textbox(
                        DEFAULT_PROMPT,
                        label=f"Prompt (up to {MAX_PROMPT_CHARS} characters)",
                        max_length=MAX_PROMPT_CHARS,
                        elem_id="tl-prompt",
                    )
                with gr.Row():
                    n = gr.Slider(1, MAX_SAMPLES, value=DEFAULT_POSTS, step=1, label="Posts")
                    seed = gr.Number(-1, label="Seed (-1: random)", precision=0)
                generate_button = gr.Button("Generate", variant="primary", elem_id="tl-generate")
                generated = gr.HTML()
                generate_notes = gr.HTML()
                predictions = gr.Image(
                    label="Predictions", type="filepath", interactive=False, height=360, elem_id="tl-predictions"
                )
                with gr.Row():
                    download_button = gr.Button("Download the bot folder", elem_id="tl-download")
                    download = gr.File(label="Bot folder (.zip)", interactive=False, elem_id="tl-download-file")
                gr.Markdown("### Bots already trained")
                bot_gallery = gr.HTML()

        load_button.click(
            load_data,
            [upload, upload_account, source, handles, max_posts, drop_replies, keep_newlines, drop_duplicates, track],
            [data_table, samples, data_notes, dataset_path, dataset_line, bot_name],
        )
        train_button.click(
            start_training,
            [dataset_path, bot_name, base_model, method, recipe_name, epochs, resume, track],
            [train_status, timer],
        )
        cancel_button.click(cancel_training, None, train_status)
        poll_outputs = [train_status, timer, bot, bot_gallery, seen_finish]
        timer.tick(poll_training, [seen_finish], poll_outputs, show_progress="hidden", concurrency_limit=None)
        app.load(page_load, None, poll_outputs, show_progress="hidden")
        generate_button.click(
            generate_step,
            [bot, prompt, n, seed],
            [generated, generate_notes, predictions],
            concurrency_limit=1,
            concurrency_id="generate",
        )
        download_button.click(download_bot, bot, download)
    return app


def serve(config: ServeConfig = ServeConfig(), *, block: bool = True) -> gr.Blocks:
    """Start the app on config.host:config.port; with block=False, return once it listens."""
    app = build_app(config)
    app.queue(default_concurrency_limit=1)
    app.launch(
        server_name=config.host,
        server_port=config.port,
        share=False,
        ssr_mode=False,
        max_file_size=f"{config.max_upload_mb}mb",
        theme=THEME,
        css=render.CSS,
        prevent_thread_lock=not block,
        quiet=True,
    )
    return app
