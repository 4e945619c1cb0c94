"""The bot maker in the browser (Gradio Blocks): 1. data, 2. train, 3. generate, 4. post, and
the bots (gallery and each bot's page: evaluation, download, publishing, deleting). Step 2 also
searches for a better recipe (a sweep) and lists the tracked runs.

The steps live in their modules (data, training, writing, posting, library) as functions of
plain values that tests call without a browser; this module lays out the page and wires them,
each with its message box beside its button (`feedback.wire`).
"""

from __future__ import annotations

import errno
import os
import socket

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read at import: never phone home

from dataclasses import dataclass

import gradio as gr

from .. import track
from ..dataset import MAX_ACCOUNTS
from ..errors import TweetlingError
from ..generate import DEFAULT_POSTS, DEFAULT_PROMPT, GenerateConfig
from ..models import DEFAULT_BASE
from . import autopilot, data, library, posting, render, sweeping, training, writing
from .feedback import problem, shown, wire
from .fields import text
from .library import BOTS  # noqa: F401 - the loaded-bot cache, for tests and scripts
from .training import RUNNER


@dataclass(frozen=True)
class ServeConfig:
    """Where the app listens and what it accepts."""

    host: str = "127.0.0.1"  # local only, unless the user asks otherwise
    port: int = 7860
    max_upload_mb: int = 512  # an X archive without media is far smaller; with media, upload tweets.js
    base_model: str = DEFAULT_BASE  # the "Base model" field's default: the embedded SmolLM2-135M
    track: str | None = None  # where trainings are recorded: mlflow, wandb or none (None: as the CLI decides)
    mlflow_ui: str = "http://127.0.0.1:5000"  # where `mlflow ui` serves, for the links to training runs


# System fonts: the default theme would fetch its fonts from Google.
# Gradio's copies of handed-out files (downloads, images): checked hourly, removed after a day.
CACHE_CLEANING = (3600, 86400)
RUNS_SHOWN = 20  # tracked runs listed in step 2, newest first (as `tweetling runs`)
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
INTRO = (
    "# tweetling\nTurn someone's posts into a bot that writes in their voice: get the posts, train, "
    "write with the bot, let it post. Train only on posts of people who agreed to it."
)


def bot_pickers(selected: str | None = None) -> tuple:
    """The four bot pickers (generate, post, the bot's page, the bot to continue) listing every
    bot, on SELECTED when it is one (else the newest), and the gallery."""
    names = library.bot_names()
    value = selected if selected in names else (names[0] if names else None)
    return (*[gr.update(choices=names, value=value) for _ in range(4)], library.gallery())


def accounts_picker() -> dict:
    names = data.stored_accounts()
    return gr.update(choices=names, value=None)


def datasets_picker(selected: str | None = None) -> tuple:
    """The dataset picker on SELECTED (else the newest) and what the chosen dataset holds."""
    choices = training.dataset_choices()
    values = [value for _, value in choices]
    value = selected if selected in values else (values[0] if values else None)
    return gr.update(choices=choices, value=value), render.dataset_summary(training.find_dataset(value))


def resumables_picker() -> dict:
    choices = training.resumable_choices()
    return gr.update(choices=choices, value=choices[0][1] if choices else None)


def build_app(config: ServeConfig = ServeConfig()) -> gr.Blocks:
    with gr.Blocks(title="tweetling", analytics_enabled=False, delete_cache=CACHE_CLEANING) as app:
        gr.Markdown(INTRO)
        seen_finish = gr.State(None)  # when the last finished job was shown, to refresh the bot lists once
        shown_prompt = gr.State("")  # the prompt of the posts on show, for their predictions image
        timer = gr.Timer(1.0, active=False)
        with gr.Tabs():
            # --- 1. data ---------------------------------------------------------------------
            with gr.Tab("1. Data", id="data"):
                with gr.Row(equal_height=False):
                    with gr.Column(min_width=300):
                        upload = gr.File(
                            label="X archive or file of posts",
                            file_types=data.UPLOAD_TYPES,
                            elem_id="tl-upload",
                            height=140,
                        )
                        gr.Markdown(
                            "An X archive (.zip or tweets.js), or posts as CSV, JSONL or text.",
                            elem_classes=["tl-muted"],
                        )
                        upload_account = gr.Textbox(
                            label="Account name", info="for a file that names no account", elem_id="tl-account"
                        )
                    with gr.Column(min_width=300):
                        source = gr.Radio(list(data.SOURCES), value="Mastodon", label="…or download from")
                        handles = gr.Textbox(
                            label="Handles",
                            info=f"up to {MAX_ACCOUNTS}, separated by commas",
                            placeholder="@user@mastodon.social, user.bsky.social",
                            elem_id="tl-handles",
                        )
                        max_posts = gr.Number(
                            data.DEFAULT_MAX_POSTS, label="Most posts per account", precision=0, minimum=1
                        )
                        account_owner = gr.Checkbox(
                            label="These are my own accounts",
                            info="download them even if their profiles opt out of bots (#nobot, #noai); recorded",
                            elem_id="tl-account-owner",
                        )
                with gr.Accordion("Cleaning options", open=False):
                    drop_replies = gr.Checkbox(label="Drop replies")
                    keep_newlines = gr.Checkbox(label="Keep line breaks")
                    drop_duplicates = gr.Checkbox(label="Drop repeated posts")
                load_button = gr.Button("Get data", variant="primary", elem_id="tl-load")
                data_message = gr.HTML(elem_id="tl-data-message")
                data_notes = gr.HTML(elem_id="tl-data-notes")
                data_table = gr.HTML()
                samples = gr.HTML()
                with gr.Accordion("Accounts in the store", open=False):
                    stored = gr.HTML(elem_id="tl-stored-box")
                with gr.Accordion("Forget an account", open=False):
                    gr.Markdown(
                        "Removes its posts from the store, with the datasets and tracking runs that hold them; "
                        "bots trained on them are marked stale. Bots cannot unlearn: retrain or delete them.",
                        elem_classes=["tl-muted"],
                    )
                    forget_pick = gr.Dropdown(label="Account", choices=[], elem_id="tl-forget-pick")
                    forget_deleted = gr.Checkbox(label="Only its posts deleted at their source")
                    forget_button = gr.Button("Forget…", variant="stop", elem_id="tl-forget")
                    confirm_forget = gr.Button(
                        "Yes, forget it for good", variant="stop", visible=False, elem_id="tl-forget-confirm"
                    )
                    forget_message = gr.HTML(elem_id="tl-forget-message")

            # --- 2. train --------------------------------------------------------------------
            with gr.Tab("2. Train", id="train"):
                dataset_pick = gr.Dropdown(label="Dataset", choices=[], elem_id="tl-dataset-pick")
                dataset_info = gr.HTML(render.dataset_summary(None))
                with gr.Row():
                    bot_name = gr.Textbox(label="Bot name", max_lines=3, elem_id="tl-bot-name", min_width=240)
                    base_model = gr.Textbox(
                        config.base_model,
                        label="Base model",
                        info="a name, a folder or a Hugging Face id",
                        elem_id="tl-base-model",
                        min_width=240,
                    )
                with gr.Group(visible=False) as replace_group:
                    name_note = gr.HTML(elem_id="tl-name-note")
                    replace_box = gr.Checkbox(label="Replace the existing bot", elem_id="tl-replace")
                recipe_name = gr.Radio(training.RECIPE_CHOICES, value="default", label="Recipe", elem_id="tl-recipe")
                method = gr.Radio(training.METHOD_CHOICES, value="full", label="Method", elem_id="tl-method")
                epochs = gr.Number(0, label="Epochs", info="0: the recipe's", precision=0, elem_id="tl-epochs")
                with gr.Accordion("More settings", open=False, elem_id="tl-more-settings"), gr.Row():
                    more_rate = gr.Number(0, label="Learning rate", info="0: the recipe's", elem_id="tl-rate",
                                          min_width=140)  # fmt: skip
                    more_batch = gr.Number(0, label="Batch size", info="posts a step; 0: the recipe's", precision=0,
                                           elem_id="tl-batch", min_width=140)  # fmt: skip
                    more_minutes = gr.Number(0, label="Time limit", info="minutes; 0: none", elem_id="tl-minutes",
                                             min_width=140)  # fmt: skip
                    more_seed = gr.Number(42, label="Seed", precision=0, elem_id="tl-seed", min_width=120)
                    more_rank = gr.Number(0, label="LoRA rank", info="with LoRA; 0: the recipe's (16)", precision=0,
                                          elem_id="tl-lora-rank", min_width=140)  # fmt: skip
                    more_dtype = gr.Radio(["float32", "bfloat16"], value="float32", label="Saved precision",
                                          info="bfloat16 halves the bot's folder", min_width=200)  # fmt: skip
                with gr.Row():
                    train_button = gr.Button("Train", variant="primary", elem_id="tl-train")
                    cancel_button = gr.Button("Cancel", variant="stop", elem_id="tl-cancel")
                train_message = gr.HTML(elem_id="tl-train-message")
                train_status = gr.HTML(render.training_status(None))
                loss_plot = gr.HTML(elem_id="tl-loss")
                run_link = gr.HTML(elem_id="tl-run")
                with gr.Accordion("Continue a stopped training", open=False):
                    resumable = gr.Dropdown(label="Stopped training", choices=[], elem_id="tl-resumable")
                    continue_button = gr.Button("Continue it", elem_id="tl-continue")
                    continue_message = gr.HTML()
                with gr.Accordion("Continue a bot on new posts", open=False):
                    gr.Markdown(
                        "After new posts of its accounts were downloaded or imported in step 1: trains the bot "
                        "further on them, with as many of its older posts replayed so it keeps its voice, "
                        "in a fraction of a full training's time.",
                        elem_classes=["tl-muted"],
                    )
                    update_bot = gr.Dropdown(label="Bot to continue", elem_id="tl-update-bot")
                    update_button = gr.Button("Continue this bot on new posts", elem_id="tl-update")
                    update_message = gr.HTML(elem_id="tl-update-message")
                with gr.Accordion("Search for a better recipe", open=False):
                    gr.Markdown(
                        "Trains the dataset above many times (trials), each with other settings (learning rate, "
                        "epochs, schedule, warm-up, batch size, full or LoRA) chosen by Optuna, and keeps the bot "
                        "with the lowest validation loss, named after the dataset with “-sweep” added. Searching the same dataset and base "
                        "model again adds trials to the same search. Each trial takes about as long as a training.",
                        elem_classes=["tl-muted"],
                    )
                    with gr.Row():
                        sweep_trials = gr.Number(
                            10, label="Trials", precision=0, minimum=1, maximum=sweeping.MAX_TRIALS, min_width=120
                        )
                        sweep_method = gr.Radio(sweeping.METHOD_CHOICES, value="both", label="Methods", min_width=240)
                        sweep_minutes = gr.Number(
                            0, label="Minutes per trial", info="at most; 0: no limit", minimum=0, min_width=160
                        )
                    sweep_button = gr.Button("Start the search", elem_id="tl-sweep")
                    sweep_message = gr.HTML(elem_id="tl-sweep-message")
                with gr.Accordion("Tracked runs", open=False):
                    runs_table = gr.HTML(elem_id="tl-runs-box")
                    runs_button = gr.Button("Show the newest runs", elem_id="tl-show-runs")

            # --- 3. generate -----------------------------------------------------------------
            with gr.Tab("3. Generate", id="generate"):
                with gr.Row():
                    bot = gr.Dropdown(label="Bot", elem_id="tl-bot", min_width=240)
                    prompt = gr.Textbox(
                        DEFAULT_PROMPT,
                        label="Prompt",
                        info=f"up to {writing.MAX_PROMPT_CHARS} characters",
                        max_length=writing.MAX_PROMPT_CHARS,
                        elem_id="tl-prompt",
                        min_width=240,
                    )
                with gr.Row():
                    n = gr.Slider(1, writing.MAX_SAMPLES, value=DEFAULT_POSTS, step=1, label="Posts", min_width=240)
                    seed = gr.Number(-1, label="Seed", info="-1: a new one each time", precision=0, min_width=160)
                defaults = GenerateConfig()
                with gr.Accordion("Sampling settings (huggingtweets' defaults)", open=False):
                    temperature = gr.Slider(
                        *writing.TEMPERATURE_RANGE,
                        value=defaults.temperature,
                        step=0.05,
                        label="Temperature",
                        info="higher: more surprising posts; lower: safer ones",
                        elem_id="tl-temperature",
                    )
                    top_p = gr.Slider(
                        *writing.TOP_P_RANGE,
                        value=defaults.top_p,
                        step=0.05,
                        label="Top-p",
                        info="draw each word from the likeliest ones that make up this share",
                        elem_id="tl-top-p",
                    )
                    max_length = gr.Slider(
                        *writing.LENGTH_RANGE,
                        value=defaults.max_length,
                        step=1,
                        label="Length",
                        info="most tokens per post, the prompt included",
                        elem_id="tl-length",
                    )
                generate_button = gr.Button("Generate", variant="primary", elem_id="tl-generate")
                generate_message = gr.HTML(elem_id="tl-generate-message")
                generated = gr.HTML()
                generate_notes = gr.HTML()
                preview_pick = gr.Radio(
                    [],
                    label="Post shown in the predictions image (its number)",
                    visible=False,
                    elem_id="tl-preview-pick",
                )
                predictions = gr.Image(
                    label="Predictions",
                    type="filepath",
                    interactive=False,
                    height=360,
                    visible=False,
                    elem_id="tl-predictions",
                )
                save_preview_button = gr.Button(
                    "Use this image on the bot's model card", visible=False, elem_id="tl-save-preview"
                )
                preview_message = gr.HTML(elem_id="tl-preview-message")

            # --- 4. post ---------------------------------------------------------------------
            with gr.Tab("4. Post", id="post"):
                gr.Markdown(
                    "Drafts wait for you: approve, edit or reject each; an approved draft is posted once, "
                    "from the bot's own account. “Answer mentions” drafts replies to new posts that mention "
                    "the account in “Post to”.",
                    elem_classes=["tl-muted"],
                )
                with gr.Row():
                    post_bot = gr.Dropdown(label="Bot", elem_id="tl-post-bot", min_width=240)
                    post_to = gr.Dropdown(label="Post to", choices=[], elem_id="tl-post-to", min_width=240)
                accounts = gr.HTML(elem_id="tl-accounts")
                with gr.Accordion("Connect an account", open=False, elem_id="tl-connect-box"):
                    gr.Markdown(
                        "The bot posts from its own account, marked as automated. Mastodon: a sign-in link "
                        "(sign in as the bot, paste the code it shows) or an access token of that account "
                        "(Preferences → Development → New application); Bluesky: an app "
                        "password; X: the four keys of your app's “Keys and tokens” page.",
                        elem_classes=["tl-muted"],
                    )
                    with gr.Row():
                        connect_target = gr.Textbox(
                            label="Account",
                            placeholder="mastodon:@bot@botsin.space, bluesky:bot.bsky.social or x:botname",
                            elem_id="tl-connect-account",
                            min_width=240,
                        )
                        connect_secret = gr.Textbox(
                            label="Access token or app password",
                            type="password",
                            info="used to connect, then kept in credentials.json (readable only by you)",
                            elem_id="tl-connect-secret",
                            min_width=240,
                        )
                    with gr.Row(equal_height=True):
                        sign_in_button = gr.Button(
                            "Get a sign-in link (Mastodon)", elem_id="tl-sign-in", min_width=200, scale=0
                        )
                        connect_code = gr.Textbox(
                            label="Authorization code",
                            info="Mastodon, instead of a token: the code the sign-in link shows",
                            elem_id="tl-connect-code",
                            min_width=240,
                        )
                    with gr.Accordion("X keys", open=False), gr.Row():
                        x_keys = [
                            gr.Textbox(label=label, type="password", min_width=200) for label in posting.X_KEY_LABELS
                        ]
                    with gr.Row():
                        connect_disclose = gr.Checkbox(
                            True,
                            label="Add a line to the profile saying it is a bot trained on the posts of the “Bot” above",
                            elem_id="tl-connect-disclose",
                        )
                        connect_operator = gr.Textbox(
                            label="Run by (your own account)", placeholder="@you@your.instance", min_width=200
                        )
                        connect_base = gr.Textbox(
                            label="API root (optional)",
                            placeholder="a self-hosted server's own",
                            elem_id="tl-connect-base",
                            min_width=200,
                        )
                    with gr.Row():
                        connect_button = gr.Button("Connect", elem_id="tl-connect")
                        disconnect_button = gr.Button(
                            "Disconnect the account in “Post to”", variant="stop", elem_id="tl-disconnect"
                        )
                    connect_message = gr.HTML(elem_id="tl-connect-message")
                with gr.Row():
                    draft_n = gr.Number(
                        5, label="Drafts", precision=0, minimum=1, maximum=posting.MAX_DRAFTS, min_width=120
                    )
                    draft_button = gr.Button("Draft more", elem_id="tl-draft-more", min_width=160)
                    mentions_button = gr.Button("Answer mentions", elem_id="tl-answer-mentions", min_width=160)
                post_message = gr.HTML(elem_id="tl-post-message")
                queue = gr.HTML(render.drafts([]), js_on_load=render.DRAFTS_JS, elem_id="tl-queue")
                with gr.Accordion("Keep posting on a schedule", open=False, elem_id="tl-autopilot-box"):
                    gr.Markdown(
                        "The bot in “Bot” posts its approved drafts to the account in “Post to”, one every so "
                        "often (moved by up to the jitter), as `tweetling run` does, for as long as this server "
                        "runs. Ticked, it also answers mentions under the rules of “Answer mentions”, and can "
                        "write and approve its drafts itself: then nobody reads them before they go out.",
                        elem_classes=["tl-muted"],
                    )
                    with gr.Row():
                        run_every = gr.Textbox("3h", label="Every", info="e.g. 3h, 45m, 1h30m; at least 10m",
                                               elem_id="tl-run-every", min_width=160)  # fmt: skip
                        run_jitter = gr.Textbox("30m", label="Jitter", elem_id="tl-run-jitter", min_width=160)
                        run_reply = gr.Checkbox(label="Answer mentions", elem_id="tl-run-reply")
                        run_auto = gr.Checkbox(
                            label="Post without my approval (writes and approves drafts itself)",
                            elem_id="tl-run-auto",
                        )
                    with gr.Row():
                        run_start = gr.Button("Start posting", elem_id="tl-run-start")
                        run_stop = gr.Button("Stop posting to the account in “Post to”", variant="stop",
                                             elem_id="tl-run-stop")  # fmt: skip
                    run_message = gr.HTML(elem_id="tl-run-message")
                    run_panel = gr.HTML(render.autopilot([]), elem_id="tl-autopilot-panel")
                    run_timer = gr.Timer(3.0, active=False)

            # --- the bots --------------------------------------------------------------------
            with gr.Tab("Bots", id="bots"):
                gallery = gr.HTML(js_on_load=render.GALLERY_JS, elem_id="tl-gallery-box")
                gallery_message = gr.HTML(elem_id="tl-gallery-message")
                page_bot = gr.Dropdown(label="Bot", elem_id="tl-page-bot")
                page_message = gr.HTML(elem_id="tl-page-message")
                facts = gr.HTML(elem_id="tl-facts")
                gr.Markdown("#### Evaluation")
                evaluation = gr.HTML(elem_id="tl-evaluation")
                eval_button = gr.Button("Evaluate", elem_id="tl-evaluate")
                eval_message = gr.HTML()
                gr.Markdown("#### Download")
                download_kind = gr.Radio([], label="Download as", elem_id="tl-download-kind")
                pack_button = gr.Button("Pack the download", elem_id="tl-pack")
                download = gr.DownloadButton("Download", visible=False, elem_id="tl-download-file")
                download_message = gr.HTML()
                gr.Markdown("#### Publish to the Hugging Face Hub")
                with gr.Row():
                    hub_token = gr.Textbox(
                        label="Hugging Face token",
                        type="password",
                        info="with write access; used for this upload only, never kept",
                        elem_id="tl-hub-token",
                        min_width=240,
                    )
                    hub_repo = gr.Textbox(
                        label="Repository", placeholder="your-name/bot-name", elem_id="tl-hub-repo", min_width=240
                    )
                hub_private = gr.Checkbox(label="Private repository", elem_id="tl-hub-private")
                publish_button = gr.Button("Publish", elem_id="tl-publish")
                publish_message = gr.HTML(elem_id="tl-publish-message")
                gr.Markdown("#### Delete")
                delete_button = gr.Button("Delete this bot…", variant="stop", elem_id="tl-delete")
                confirm_delete = gr.Button(
                    "Yes, delete it for good", variant="stop", visible=False, elem_id="tl-delete-confirm"
                )
                delete_message = gr.HTML(elem_id="tl-delete-message")

        pickers = [bot, post_bot, page_bot, update_bot, gallery]

        # --- step 1 -------------------------------------------------------------------------------
        def get_data(
            upload, upload_account, source, handles, max_posts, owner, drop_replies, keep_newlines, drop_duplicates,
            progress=data.no_progress,
        ):  # fmt: skip
            notes, table, sample, path, name = data.load_data(
                upload, upload_account, source, handles, max_posts, drop_replies, keep_newlines, drop_duplicates,
                config.track, progress, owner,
            )  # fmt: skip
            picker, summary = datasets_picker(path) if path else (gr.skip(), gr.skip())
            return notes, table, sample, picker, summary, name or gr.skip(), accounts_picker(), data.accounts_table()

        wire(
            load_button.click,
            get_data,
            [
                upload,
                upload_account,
                source,
                handles,
                max_posts,
                account_owner,
                drop_replies,
                keep_newlines,
                drop_duplicates,
            ],
            [data_notes, data_table, samples, dataset_pick, dataset_info, bot_name, forget_pick, stored],
            data_message,
        )

        def ask_forget(account):
            data.account_to_forget(account)
            return gr.update(visible=True)

        wire(forget_button.click, ask_forget, [forget_pick], [confirm_forget], forget_message)

        def forget(account, deleted_only):
            note = data.forget_account(account, deleted_only)
            picker, summary = datasets_picker()
            return (
                accounts_picker(), data.accounts_table(), picker, summary, *bot_pickers(), gr.update(visible=False),
                note,
            )  # fmt: skip

        wire(
            confirm_forget.click,
            forget,
            [forget_pick, forget_deleted],
            [forget_pick, stored, dataset_pick, dataset_info, *pickers, confirm_forget],
            forget_message,
            says=True,
        )
        forget_pick.input(lambda: gr.update(visible=False), None, confirm_forget, show_progress="hidden")

        # --- step 2 -------------------------------------------------------------------------------
        def pick_dataset(path):
            record = training.find_dataset(path)
            return render.dataset_summary(record), record.name if record else gr.skip()

        dataset_pick.input(pick_dataset, dataset_pick, [dataset_info, bot_name], show_progress="hidden")

        def check_name(name):
            note, ask = training.name_warning(name)
            return note, gr.update(value=False, label=f"Replace {text(name)}"), gr.update(visible=ask)

        bot_name.change(check_name, bot_name, [name_note, replace_box, replace_group], show_progress="hidden")

        more_settings = [more_rate, more_batch, more_minutes, more_seed, more_rank, more_dtype]

        def train(dataset_path, name, base, method_name, recipe_value, epochs_value, replace, *more_values):
            more = training.MoreSettings(*more_values)
            panel = training.start_training(
                dataset_path, name, base, method_name, recipe_value, epochs_value, replace, config.track,
                config.mlflow_ui, more,
            )  # fmt: skip
            return panel, gr.Timer(active=True), "", ""

        wire(
            train_button.click,
            train,
            [dataset_pick, bot_name, base_model, method, recipe_name, epochs, replace_box, *more_settings],
            [train_status, timer, loss_plot, run_link],
            train_message,
        )
        wire(cancel_button.click, training.cancel_training, [], [train_status], train_message)

        def continue_stopped(name):
            panel = training.continue_training(name, config.track, config.mlflow_ui)
            return panel, gr.Timer(active=True), ""

        wire(continue_button.click, continue_stopped, [resumable], [train_status, timer, loss_plot], continue_message)

        def continue_on_new_posts(name):
            panel, note = training.continue_on_new_posts(name, config.track, config.mlflow_ui)
            return panel, gr.Timer(active=True), "", note

        wire(
            update_button.click,
            continue_on_new_posts,
            [update_bot],
            [train_status, timer, loss_plot],
            update_message,
            says=True,
        )

        def start_sweep(dataset_path, base, trials, methods, minutes):
            panel = sweeping.start_sweep(dataset_path, base, trials, methods, minutes, config.track)
            return panel, gr.Timer(active=True), ""

        wire(
            sweep_button.click,
            start_sweep,
            [dataset_pick, base_model, sweep_trials, sweep_method, sweep_minutes],
            [train_status, timer, loss_plot],
            sweep_message,
        )

        def show_runs():
            return render.tracked_runs(track.recent_runs(RUNS_SHOWN), config.mlflow_ui, track.tracking_uri())

        wire(runs_button.click, show_runs, [], [runs_table], train_message)

        def poll(seen):
            """The live panel, chart and run link; once a job ends, its finish time (which refreshes the lists)."""
            status = RUNNER.status()
            active = status is not None and status.active
            link = render.run_link(status.progress.get("run_url") if status else None, track.tracking_uri())
            finished = status.finished_at if status is not None and not active else seen
            return (
                render.training_status(status),
                gr.Timer(active=active),
                training.loss_chart(status),
                link,
                finished,
            )

        poll_outputs = [train_status, timer, loss_plot, run_link, seen_finish]
        timer.tick(poll, [seen_finish], poll_outputs, show_progress="hidden", concurrency_limit=None)

        def after_training(name):
            status = RUNNER.status()
            new_bot = os.path.basename(status.result) if status is not None and status.result else None
            return (*bot_pickers(new_bot), resumables_picker(), *check_name(name), show_runs())

        seen_finish.change(
            after_training,
            [bot_name],
            [*pickers, resumable, name_note, replace_box, replace_group, runs_table],
            show_progress="hidden",
        )

        # --- step 3 -------------------------------------------------------------------------------
        def generate(bot_value, prompt_value, n_value, seed_value, temp, top, length, progress=data.no_progress):
            posts, summary, image, choices, used_prompt = writing.generate_step(
                bot_value, prompt_value, n_value, seed_value, temp, top, length, progress
            )
            return (
                posts,
                summary,
                gr.update(value=image, visible=image is not None),
                gr.update(choices=choices, value=choices[0][1] if choices else None, visible=bool(choices)),
                gr.update(visible=bool(choices)),
                used_prompt,
            )

        wire(
            generate_button.click,
            generate,
            [bot, prompt, n, seed, temperature, top_p, max_length],
            [generated, generate_notes, predictions, preview_pick, save_preview_button, shown_prompt],
            generate_message,
            concurrency_limit=1,
            concurrency_id="model",
        )
        wire(
            preview_pick.input,
            writing.show_preview,
            [bot, shown_prompt, preview_pick],
            [predictions],
            preview_message,
            show_progress="minimal",
        )
        wire(
            save_preview_button.click,
            writing.save_preview,
            [bot, shown_prompt, preview_pick],
            [],
            preview_message,
            says=True,
        )

        # --- step 4 -------------------------------------------------------------------------------
        def show_queue(name):
            return posting.queue_panel(name)

        def draft(name, count, target, progress=data.no_progress):
            return posting.draft_more(name, count, target, progress)

        wire(
            draft_button.click,
            draft,
            [post_bot, draft_n, post_to],
            [queue],
            post_message,
            says=True,
            concurrency_limit=1,
            concurrency_id="model",
        )

        def posting_panel(name):
            """The posting loops, their timer (ticking while one runs) and the queue they post from."""
            statuses = autopilot.AUTOPILOT.statuses()
            active = any(status.active for status in statuses)
            try:
                queue_now = posting.queue_panel(text(name))
            except TweetlingError as error:  # the timer's refresh: a bot deleted since says so in place
                queue_now = render.message(problem(error))
            return render.autopilot(statuses), gr.Timer(active=active), queue_now

        def start_posting(name, target, every, jitter, reply, auto):
            autopilot.AUTOPILOT.start(name, target, autopilot.run_config(every, jitter, auto, reply))
            return posting_panel(name)

        def stop_posting(name, target):
            autopilot.AUTOPILOT.stop(target)
            return posting_panel(name)

        posting_outputs = [run_panel, run_timer, queue]
        wire(
            run_start.click,
            start_posting,
            [post_bot, post_to, run_every, run_jitter, run_reply, run_auto],
            posting_outputs,
            run_message,
        )
        wire(run_stop.click, stop_posting, [post_bot, post_to], posting_outputs, run_message)
        run_timer.tick(posting_panel, [post_bot], posting_outputs, show_progress="hidden", concurrency_limit=None)

        def posting_to():
            choices = posting.account_choices()
            return gr.update(choices=choices, value=choices[0] if choices else None)

        wire(sign_in_button.click, posting.mastodon_sign_in, [connect_target, connect_base], [], connect_message,
             says=True)  # fmt: skip

        def connect(target, secret, key, key_secret, token, token_secret, name, operator, disclose, base_url, code):
            panel, note = posting.connect_account(
                target, secret, [key, key_secret, token, token_secret], name, operator, disclose, base_url, code
            )
            return panel, posting_to(), note

        # The secrets leave their fields once used, whether connecting worked or not.
        wire(
            connect_button.click,
            connect,
            [
                connect_target,
                connect_secret,
                *x_keys,
                post_bot,
                connect_operator,
                connect_disclose,
                connect_base,
                connect_code,
            ],
            [accounts, post_to],
            connect_message,
            says=True,
        ).then(lambda: ("",) * 6, None, [connect_secret, *x_keys, connect_code], queue=False, show_progress="hidden")

        def disconnect(target):
            panel, note = posting.disconnect_account(target)
            return panel, posting_to(), note

        wire(disconnect_button.click, disconnect, [post_to], [accounts, post_to], connect_message, says=True)

        def answer(name, target, progress=data.no_progress):
            return posting.answer_mentions(name, target, progress)

        wire(
            mentions_button.click,
            answer,
            [post_bot, post_to],
            [queue],
            post_message,
            says=True,
            concurrency_limit=1,
            concurrency_id="model",
        )

        def act_on_draft(name, target, evt: gr.EventData):
            values = getattr(evt, "_data", None) or {}
            return posting.queue_action(name, target, values.get("action"), values.get("draft"), values.get("text"))

        wire(queue.click, act_on_draft, [post_bot, post_to], [queue], post_message, says=True, reads_event=True)

        # --- the bots -----------------------------------------------------------------------------
        def open_page(name):
            facts_html, eval_html = library.bot_page(name)
            choices = library.download_formats(name)
            return (
                facts_html,
                eval_html,
                gr.update(choices=choices, value=choices[0][1] if choices else None),
                gr.update(visible=False),
                gr.update(visible=False),
            )

        page_outputs = [facts, evaluation, download_kind, download, confirm_delete]

        def open_card(evt: gr.EventData):
            name = (getattr(evt, "_data", None) or {}).get("bot")
            folder = library.bot_folder(name)
            return (*[gr.update(value=folder.name) for _ in range(3)], *open_page(folder.name))

        wire(
            gallery.click,
            open_card,
            [],
            [bot, post_bot, page_bot, *page_outputs],
            gallery_message,
            reads_event=True,
            scroll_to_output=True,
        )
        # Its own message box: a page reopened after a delete must not clear the delete's note.
        wire(page_bot.change, open_page, [page_bot], page_outputs, page_message, show_progress="hidden")

        def evaluate(name, progress=data.no_progress):
            return library.evaluate(name, progress, config.track)

        wire(
            eval_button.click,
            evaluate,
            [page_bot],
            [evaluation],
            eval_message,
            concurrency_limit=1,
            concurrency_id="model",
        )

        def pack(name, kind, progress=data.no_progress):
            packed, label = library.pack_download(name, kind, progress)
            return gr.update(value=packed, label=label, visible=True)

        wire(pack_button.click, pack, [page_bot, download_kind], [download], download_message)
        # A packed download is of the kind chosen then: choosing another hides it until packed.
        download_kind.change(lambda: gr.update(visible=False), None, download, show_progress="hidden")

        def publish(name, token, repo, private, progress=data.no_progress):
            return library.publish(name, token, repo, private, progress)

        # The token leaves the field once used, whether the upload worked or not.
        wire(
            publish_button.click, publish, [page_bot, hub_token, hub_repo, hub_private], [], publish_message, says=True
        ).then(lambda: "", None, hub_token, queue=False, show_progress="hidden")

        def ask_delete(name):
            library.bot_folder(name)
            return gr.update(visible=True)

        wire(delete_button.click, ask_delete, [page_bot], [confirm_delete], delete_message)

        def delete(name):
            note = library.remove(name)
            return (*bot_pickers(), gr.update(visible=False), "", note)

        wire(confirm_delete.click, delete, [page_bot], [*pickers, confirm_delete, facts], delete_message, says=True)

        # Choosing a bot in one step chooses it in the others.
        for picker in (bot, post_bot, page_bot):
            others = [other for other in (bot, post_bot, page_bot) if other is not picker]
            picker.input(lambda name: (name, name), picker, others, show_progress="hidden")
        post_bot.change(shown(show_queue, 1), post_bot, [queue, post_message], show_progress="hidden")

        # --- a fresh page ---------------------------------------------------------------------------
        def page_load():
            status = RUNNER.status()
            picker, summary = datasets_picker()
            return (
                render.training_status(status),
                gr.Timer(active=status is not None and status.active),
                status.finished_at if status else None,
                picker,
                summary,
                resumables_picker(),
                *bot_pickers(),
                posting.accounts_panel(),
                posting_to(),
                accounts_picker(),
                data.accounts_table(),
                show_runs(),
                *posting_panel(None)[:2],
            )

        app.load(
            page_load,
            None,
            [
                train_status,
                timer,
                seen_finish,
                dataset_pick,
                dataset_info,
                resumable,
                *pickers,
                accounts,
                post_to,
                forget_pick,
                stored,
                runs_table,
                run_panel,
                run_timer,
            ],
            show_progress="hidden",
        )
    return app


def serve(config: ServeConfig = ServeConfig(), *, block: bool = True) -> gr.Blocks:
    """Start the app on config.host:config.port; with block=False, return once it listens."""
    check_can_listen(config.host, config.port)
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


def check_can_listen(host: str, port: int) -> None:
    """Refuse, in one line, an address this machine cannot listen on: gradio would say only that
    it found no empty port."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or "not a host name"
        raise TweetlingError(f"cannot listen on {host!r}: {reason}; give an address of this machine") from None
    try:
        with socket.socket(family, kind, protocol) as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
            listener.bind(address)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise TweetlingError(f"port {port} on {host} is in use (another app?): pass another --port") from None
        raise TweetlingError(f"cannot listen on {host}:{port}: {error.strerror}") from None
