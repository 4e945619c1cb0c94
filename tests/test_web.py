"""The web app's step functions, called directly (no browser): limits, wording, escaping, the job
runner, training and its cancel and resume, the bot's page, the queue of drafts."""

from __future__ import annotations

import html
import inspect
import json
import re
import shutil
import threading
import time
import zipfile
from functools import partial
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from PIL import Image  # noqa: E402

from conftest import SAMPLE_ARCHIVE  # noqa: E402
from fake_hub import FakeHub  # noqa: E402
from http_payloads import FakeMastodon, mastodon_account, mastodon_status  # noqa: E402
from live_fakes import OAUTH1, TARGETS, connect_fake, post_requests, posted_texts, secrets_of, start_fake  # noqa: E402
from tiny_bot import build_tiny_bot  # noqa: E402
from tweetling import bots, pipeline  # noqa: E402
from tweetling.consent import OWNER_FLAG, OptedOutError  # noqa: E402
from tweetling.dataset import Dataset  # noqa: E402
from tweetling.errors import InputError, TweetlingError  # noqa: E402
from tweetling.fetch import FetchOptions  # noqa: E402
from tweetling.importer import ImportResult  # noqa: E402
from tweetling.live import Queue, bio_line, credentials  # noqa: E402
from tweetling.posts import Post, Profile  # noqa: E402
from tweetling.store import Store  # noqa: E402
from tweetling.track import RunSummary  # noqa: E402
from tweetling.train import TrainPlan  # noqa: E402
from tweetling.web import autopilot, data, feedback, library, posting, render, sweeping, training, writing  # noqa: E402
from tweetling.web.jobs import JobRunner  # noqa: E402

NOISY = "<script>alert('x')</script>"


def store_posts(account: str, texts: list[str], display_name: str | None = None) -> None:
    with Store() as store:
        store.upsert_account(Profile(account, "file", display_name=display_name))
        store.upsert_posts(Post("file", f"{account}-{i}", account, text) for i, text in enumerate(texts))


def load(upload=None, source=data.STORED, handles="", upload_account="", **options):
    flags = {"drop_replies": False, "keep_newlines": False, "drop_duplicates": False, **options}
    return data.load_data(
        upload,
        upload_account,
        source,
        handles,
        100,
        flags["drop_replies"],
        flags["keep_newlines"],
        flags["drop_duplicates"],
        "none",
    )


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- step 1 ---------------------------------------------------------------------------------------


@pytest.mark.skipif(not SAMPLE_ARCHIVE.exists(), reason="examples/sample-archive.zip is absent")
def test_data_step_imports_an_archive_and_shows_table_and_samples(tweetling_home):
    notes, table, samples, dataset_path, bot_name = load(str(SAMPLE_ARCHIVE), "Mastodon")

    assert "tweetling_sample" in table and "Posts downloaded" in table and "Posts kept" in table
    assert samples.count("<li>") == data.SAMPLE_POSTS
    assert "imported" in notes and "training" in notes
    assert (Path(dataset_path) / "manifest.json").exists() and bot_name == "tweetling_sample"
    again = load(str(SAMPLE_ARCHIVE), "Mastodon")[0]
    assert "all 500 posts of the upload were already in the store" in again


@pytest.mark.parametrize(
    "result, said",
    [
        (ImportResult("ada", 0, 0, {"post": 40}), "ada: all 40 posts of the upload were already in the store"),
        (ImportResult("ada", 10, 0, {"post": 40}), "ada: imported 10 new posts, 30 already there"),
        (ImportResult("ada", 40, 0, {"post": 40}), "ada: imported 40 new posts"),
        (ImportResult("ada", 5, 2, {"post": 40}), "ada: imported 5 new posts, 2 updated, 33 already there"),
        (
            ImportResult("ada", 0, 40, {"post": 40}, moved_from={"bob": 40}),
            "ada: imported 0 new posts, 40 updated; posts already stored under another account moved here: 40 from bob",
        ),
    ],
)
def test_an_import_says_what_was_new_and_what_was_there(result, said):
    assert data.import_event(result) == said


def test_data_step_blends_stored_accounts_and_escapes_posts(tweetling_home):
    store_posts("ada", [f"{NOISY} post number {i} about gardens and bees" for i in range(300)])
    store_posts("bob", [f"bob writes about tides and the moon, take {i}" for i in range(300)])

    _notes, table, samples, dataset_path, bot_name = load(handles="ada, @bob")

    assert "<th>ada</th>" in table and "<th>bob</th>" in table
    assert "<script>" not in samples and "&lt;script&gt;" in samples
    assert bot_name == "ada-bob" and dataset_path


def test_thin_data_shows_the_table_and_why_it_cannot_train(tweetling_home):
    store_posts("tiny", ["just a few words here"] * 5)
    notes, table, _samples, dataset_path, bot_name = load(handles="tiny")
    assert "Posts kept" in table and dataset_path is None and bot_name == ""
    assert "tl-error" in notes and "not enough posts to train a bot" in notes and "at least" in notes


def test_thin_but_usable_data_warns_in_a_warning_style(tweetling_home):
    store_posts("thin", [f"a modest post about compost heaps number {i}" for i in range(200)])
    notes, *_, dataset_path, _ = load(handles="thin")
    assert dataset_path and "tl-message tl-warning" in notes and "better bots" in notes


@pytest.mark.parametrize(
    "handles, message",
    [
        ("", "upload an X archive or a file of posts, or enter up to three handles in “Handles”"),
        ("a b c d", "at most 3 handles in “Handles”"),
        ("../etc", "invalid account name"),
        ("nobody", "no posts for 'nobody'"),
    ],
)
def test_data_step_input_errors_are_clear(tweetling_home, handles, message):
    with pytest.raises(TweetlingError, match=re.escape(message)):
        load(handles=handles)


@pytest.mark.parametrize("most", [float("nan"), float("inf"), -3, 2.5])
def test_most_posts_per_account_must_be_a_whole_number(tweetling_home, most):
    with pytest.raises(TweetlingError, match="“Most posts per account” must be a whole number from 1 to 2,000,000"):
        data.load_data(None, "", data.STORED, "ada", most, False, False, False, "none")


def test_upload_and_three_handles_is_too_many_accounts(tweetling_home, tmp_path):
    upload = tmp_path / "d.txt"
    upload.write_text("one two three four\n")
    with pytest.raises(TweetlingError, match="at most 3 accounts"):
        load(str(upload), handles="a b c")
    assert Store().count_posts() == 0  # refused before importing anything


def test_upload_of_a_text_file_takes_the_account_name_given(tweetling_home, tmp_path):
    upload = tmp_path / "posts.txt"
    upload.write_text("".join(f"line {i} of a plain text file of posts\n" for i in range(400)))
    _notes, table, *_, bot_name = load(str(upload), upload_account="plain")
    assert "<th>plain</th>" in table and bot_name == "plain"


@pytest.fixture
def opted_out_mastodon(tweetling_home, httpserver, monkeypatch):
    """A Mastodon account whose bio says #nobot, served on 127.0.0.1 (the page's fetches go there)."""
    account = mastodon_account(note="<p>Birds. #nobot</p>", statuses_count=3)
    FakeMastodon(httpserver, [mastodon_status(i, account=account) for i in range(1, 4)], account=account)
    monkeypatch.setattr(data, "FetchOptions", partial(FetchOptions, base_url=httpserver.url_for("/")))
    return "@alice@social.example"


def fetch_handle(handle: str, owner: bool):
    return data.load_data(None, "", "Mastodon", handle, 100, False, False, False, "none", account_owner=owner)


def test_an_opted_out_account_is_refused_unless_these_are_my_own_accounts(opted_out_mastodon):
    with pytest.raises(OptedOutError) as refused:
        fetch_handle(opted_out_mastodon, owner=False)
    said = feedback.problem(refused.value)
    assert "#nobot in the bio" in said and "If it is yours, tick “These are my own accounts”" in said
    assert "--" not in said and Store().count_posts() == 0
    notes = fetch_handle(opted_out_mastodon, owner=True)[0]
    assert "downloaded 3 new posts" in notes
    with Store() as store:
        [origin] = store.origins(store.accounts()[0].name)
    assert origin.owner == OWNER_FLAG and "#nobot in the bio" in origin.opt_outs


# --- what the page says ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cli, page",
    [
        ("posts.txt: a text file names no account: pass --account NAME", "posts.txt: a text file names no account: fill in “Account name”"),
        ("x.csv:3: 'user' 'b' differs from 'a' above; one account per file, or pass --account", "x.csv:3: 'user' 'b' differs from 'a' above; one account per file: fill in “Account name”"),
        ("no posts for account 'ada' in the store; run `tweetling import` or `tweetling fetch` first", "no posts for account 'ada' in the store; get them in step 1"),
        ("no bot named 'x'; train one with `tweetling train`", "no bot named 'x'; train one in step 2"),
        ("no Hugging Face token: run `hf auth login` or set HF_TOKEN", "no Hugging Face token: paste a token into “Hugging Face token”"),
        ("/b.pt was made with other settings or data; start again without --resume", "/b.pt was made with other settings or data; start it again with “Train” instead of continuing it"),
        ("x:bot is not connected: run `tweetling connect x:bot` first", "x:bot is not connected: connect it first in step 4 (“Connect an account”)"),
        ("cannot reach h (ReadTimeout); run the same command again to resume", "cannot reach h (ReadTimeout); try again to go on"),
        ("h rate limit: no requests left for 5 min; run the same command again later", "h rate limit: no requests left for 5 min; try again later"),
        ("invalid base URL 'http://…@h': credentials do not belong in the URL; pass a token with --token-env", "invalid base URL 'http://…@h': credentials do not belong in the URL"),
    ],
)  # fmt: skip
def test_messages_speak_of_the_page_controls(cli, page):
    assert feedback.page_words(cli) == page and "--" not in page and "`" not in page


def test_a_real_import_error_reads_in_the_page_words(tweetling_home, tmp_path):
    nameless = tmp_path / "posts.txt"
    nameless.write_text("a line of text\n")
    with pytest.raises(InputError) as raised:
        load(str(nameless))
    assert feedback.problem(raised.value) == "posts.txt: a text file names no account: fill in “Account name”"


def test_a_step_shows_its_error_beside_its_button_and_clears_it_on_success():
    def step(fail):
        if fail == "user":
            raise TweetlingError("pass --account NAME")
        if fail == "bug":
            raise KeyError("oops")
        return "a", "b"

    run = feedback.shown(step, 2)
    assert run(None) == ("a", "b", "")
    *kept, box = run("user")
    assert all(value == gr.skip() for value in kept) and "tl-error" in box and "fill in “Account name”" in box
    assert "something went wrong (KeyError: &#x27;oops&#x27;); the server log has the details" in run("bug")[-1]
    assert feedback.shown(lambda: ("queue", "<p>note</p>"), 1, says=True)() == ("queue", "<p>note</p>")


FIELDS = (gr.Dropdown, gr.Radio, gr.Textbox, gr.Number, gr.Checkbox, gr.Slider)


@pytest.mark.parametrize("sent", [["x"], {"a": 1}, 3.5, "text", True])
def test_every_page_action_refuses_values_of_the_wrong_kind_in_one_line(tweetling_home, sent):
    """Gradio's API passes any JSON value to a step: none may end in a traceback or "something went wrong"."""
    from tweetling.web.app import build_app

    app = build_app()
    called = 0
    for block_fn in app.fns.values():
        if block_fn.fn is None or not any(isinstance(field, FIELDS) for field in block_fn.inputs):
            continue
        args = [sent] * len(block_fn.inputs)
        if len(inspect.signature(block_fn.fn).parameters) > len(args):  # a step that reads the event
            args.append(gr.EventData(None, {"action": sent, "draft": sent, "text": sent}))
        out = block_fn.fn(*args)
        out = list(out)[-1] if inspect.isgenerator(out) else out
        said = " ".join(str(value) for value in (out if isinstance(out, tuple) else (out,)))
        assert "something went wrong" not in said, (block_fn.name, said)
        called += 1
    assert called > 25
    if isinstance(sent, list):
        train = next(f.fn for f in app.fns.values() if f.name == "train")
        assert "“Dataset” must be one of its choices, not list" in train(*[sent] * 13)[-1]


def test_forget_removes_an_account_and_its_datasets_from_the_page(tweetling_home):
    store_posts("ada", [f"{NOISY} ada writes about gardens, bees and compost, note {i}" for i in range(150)])
    store_posts("bob", [f"bob writes about tides and the moon, take {i}" for i in range(150)])
    load(handles="ada")
    assert data.stored_accounts() == ["ada", "bob"]
    with pytest.raises(TweetlingError, match="choose the account to forget"):
        data.forget_account(None, False)

    note = data.forget_account("ada", False)

    assert "ada: 150 posts removed from the store, 1 datasets and 0 tracking runs deleted" in note
    assert data.stored_accounts() == ["bob"]
    assert ">ada<" not in data.accounts_table() and "<td>bob</td><td>file</td>" in data.accounts_table()
    assert training.dataset_choices() == []
    with pytest.raises(TweetlingError, match="nothing to forget"):
        data.forget_account("ada", False)


# --- step 2 ---------------------------------------------------------------------------------------


@pytest.fixture
def ada_dataset(tweetling_home) -> str:
    # Any 8 words in a row hold the post's number: no post is a near-duplicate of another.
    store_posts("ada", [f"ada on gardens and bees, note number {i} today" for i in range(150)])
    return load(handles="ada")[3]


@pytest.mark.parametrize(
    "path, name, base, epochs, message",
    [
        (None, "bot", "b", 0, "choose a dataset first (get data in step 1)"),
        ("/not/a/dataset", "bot", "b", 0, "choose a dataset first"),
        ("DATASET", "../up", "b", 0, "invalid bot name"),
        ("DATASET", "bot", " ", 0, "enter a “Base model”"),
        ("DATASET", "bot", "b", 2.5, "“Epochs” must be a whole number from 0 to 20 (0: the recipe's)"),
    ],
)
def test_training_needs_a_dataset_a_name_and_sane_options(ada_dataset, path, name, base, epochs, message):
    path = ada_dataset if path == "DATASET" else path
    with pytest.raises(TweetlingError, match=re.escape(message)):
        training.start_training(path, name, base, "full", "default", epochs)


@pytest.mark.parametrize(
    "more, message",
    [
        (
            training.MoreSettings(learning_rate=-1e-4),
            "“Learning rate” must be a number from 0 up to 1 (0: the recipe's)",
        ),
        (training.MoreSettings(learning_rate=float("nan")), "“Learning rate” must be a number from 0 up to 1"),
        (training.MoreSettings(batch_size=2.5), "“Batch size” must be a whole number from 0 to 512"),
        (training.MoreSettings(batch_size=10**6), "“Batch size” must be a whole number"),
        (training.MoreSettings(minutes=-1), "“Time limit” must be a number from 0 up to 10080 minutes (0: none)"),
        (training.MoreSettings(minutes=float("inf")), "“Time limit” must be a number from 0 up to 10080"),
        (training.MoreSettings(seed=-3), "“Seed” must be a whole number from 0 to 2,147,483,647"),
        (training.MoreSettings(lora_r=1000), "“LoRA rank” must be a whole number from 0 to 256"),
        (training.MoreSettings(dtype="int4"), "“Saved precision” must be one of"),
    ],
)
def test_more_settings_are_checked_before_training(ada_dataset, more, message):
    with pytest.raises(TweetlingError, match=re.escape(message)):
        training.start_training(ada_dataset, "bot", "b", "lora", "default", 0, more=more)
    assert training.RUNNER.status() is None or not training.RUNNER.status().active


def test_more_settings_reach_the_training(ada_dataset, tiny_model, tweetling_home):
    more = training.MoreSettings(learning_rate=1e-3, batch_size=8, minutes=5, seed=7, lora_r=4, dtype="bfloat16")
    training.start_training(ada_dataset, "ada", str(tiny_model), "lora", "default", 1, False, "none", more=more)
    status = training.RUNNER.wait(120)
    assert status.state == "done", status.message
    meta = bots.read_metadata(tweetling_home / "bots" / "ada")
    trained = meta.recipe
    assert (trained["learning_rate"], trained["batch_size"], trained["max_time_s"], trained["seed"]) == (
        1e-3,
        8,
        300,
        7,
    )
    assert (trained["method"], trained["lora_r"], trained["lora_alpha"]) == ("lora", 4, 8)
    assert "bfloat16" in json.dumps(json.loads((tweetling_home / "bots" / "ada" / "config.json").read_text()))


def test_the_dataset_picker_lists_prepared_datasets_with_their_table(ada_dataset, tweetling_home):
    broken = tweetling_home / "datasets" / "broken-000"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    [(label, value)] = training.dataset_choices()
    assert value == ada_dataset and label.startswith("ada (")
    summary = render.dataset_summary(training.find_dataset(value))
    assert "Ready: <strong>ada</strong>" in summary and "Posts kept" in summary


def test_training_over_an_existing_bot_asks_first(tiny_bot, ada_dataset):
    note, ask = training.name_warning("jack")
    assert ask and "already exists" in note and "tl-warning" in note
    assert training.name_warning("someone-new") == ("", False)
    with pytest.raises(TweetlingError, match="a bot named jack already exists: tick “Replace jack”"):
        training.start_training(ada_dataset, "jack", "b", "full", "default", 0)
    assert training.RUNNER.status() is None or training.RUNNER.status().name != "jack"


def test_a_cancel_while_the_model_loads_stops_before_the_first_step(ada_dataset, tiny_model, tweetling_home):
    panel = training.start_training(ada_dataset, "ada", str(tiny_model), "full", "default", 1, False, "none")
    assert "loading the base model" in panel and "tl-bar-waiting" in panel
    assert "stopping as soon as the base model has loaded" in training.cancel_training()
    status = training.RUNNER.wait(60)
    assert status.state == "cancelled" and "it had not started training" in status.message
    assert not (tweetling_home / "bots" / "ada.checkpoint.pt").exists() and training.resumable_choices() == []


def test_training_runs_one_at_a_time_cancels_safely_and_continues(ada_dataset, tiny_model, tweetling_home):
    runner = training.RUNNER
    bf16 = training.MoreSettings(dtype="bfloat16")
    training.start_training(ada_dataset, "ada", str(tiny_model), "full", "default", 1, False, "none", more=bf16)
    wait_for(lambda: runner.status().progress.get("step", 0) >= 1)
    plan = runner.status().progress["plan"]  # known before the first step
    posts = len(Dataset.load(ada_dataset).train)
    assert (plan.posts, plan.epochs) == (posts, 1) and plan.estimated_s is not None
    assert f"Plan: {posts} posts, 1 epoch, {plan.steps} steps of" in render.training_status(runner.status())
    with pytest.raises(TweetlingError, match="already running"):
        training.start_training(ada_dataset, "other", str(tiny_model), "full", "default", 0)
    training.cancel_training()
    status = runner.wait(60)
    assert status.state == "cancelled" and "the checkpoint is kept: continue it below" in status.message
    assert (tweetling_home / "bots" / "ada.checkpoint.pt").exists() and library.bot_names() == []
    with pytest.raises(TweetlingError, match="no training is running"):
        training.cancel_training()

    # After a reload the page offers the stopped training, with its dataset and settings.
    [(label, bot)] = training.resumable_choices()
    assert bot == "ada" and "stopped at step" in label and "default, full" in label and label.endswith("· ada")
    training.continue_training("ada", "none")
    status = runner.wait(120)
    assert status.state == "done", status.message
    assert status.progress["step"] == status.progress["total"] and status.progress["phase"] == "finishing"
    assert library.bot_names() == ["ada"] and training.resumable_choices() == []
    assert bots.saved_dtype(tweetling_home / "bots" / "ada") == "bfloat16"  # as the stopped training was started
    chart = training.loss_chart(status)
    assert "<polyline class='tl-training'" in chart and "<circle class='tl-validation'" in chart
    assert "Done: ada" in render.training_status(status)


@pytest.mark.parametrize(
    "sampled, estimated_s, left_out, said",
    [
        (False, 130.0, 0, "Plan: 1,200 posts, 2 epochs, 300 steps of 8 on cpu; about 3 min on this machine"),
        (True, None, 0, "Plan: 1,200 posts, 2 epochs (a sample of the posts), 300 steps of 8 on cpu</p>"),
        (False, None, 31, "Plan: 1,200 posts (31 near-duplicates left out), 2 epochs, 300 steps of 8 on cpu</p>"),
    ],
)
def test_the_training_plan_says_posts_epochs_steps_and_minutes(sampled, estimated_s, left_out, said):
    tokens_per_s = 70.0 if estimated_s else None
    plan = TrainPlan(1200, 2, 300, 8, 9000, sampled, 1e-4, False, "cpu", tokens_per_s, estimated_s, left_out)
    assert said in render.training_plan(plan) and render.training_plan(None) == ""


def add_new_posts(account: str, count: int) -> None:
    with Store() as store:
        store.upsert_posts(
            Post("file", f"{account}-new-{i}", account, f"{account} has news, item {i}, about seedlings and hives")
            for i in range(count)
        )


def test_a_bot_continues_on_its_new_posts_from_the_page(ada_dataset, tiny_model, tweetling_home):
    with pytest.raises(TweetlingError, match="choose the bot to continue in “Bot to continue”"):
        training.continue_on_new_posts(None)
    bf16 = training.MoreSettings(dtype="bfloat16")
    training.start_training(ada_dataset, "ada", str(tiny_model), "full", "default", 1, False, "none", more=bf16)
    assert training.RUNNER.wait(120).state == "done"
    with pytest.raises(TweetlingError) as nothing_new:
        training.continue_on_new_posts("ada", "none")
    said = feedback.problem(nothing_new.value)
    assert said.startswith("no new posts for @ada since dataset ") and "in step 1 first" in said and "fetch" not in said

    add_new_posts("ada", 120)
    panel, note = training.continue_on_new_posts("ada", "none")
    assert "loading the bot and planning its update" in panel
    assert re.search(r"Continuing ada on \d+ new posts and \d+ older ones replayed", note)

    # Stopped, the update is offered with the stopped trainings and continues as an update.
    wait_for(lambda: training.RUNNER.status().progress.get("step", 0) >= 1)
    training.cancel_training()
    assert "the checkpoint is kept" in training.RUNNER.wait(60).message
    assert [bot for _, bot in training.resumable_choices()] == ["ada"]
    training.continue_training("ada", "none")
    status = training.RUNNER.wait(120)
    assert status.state == "done", status.message
    [update] = bots.read_metadata(tweetling_home / "bots" / "ada").continued
    assert update.new_posts > 0 and library.bot_names() == ["ada"]
    assert bots.saved_dtype(tweetling_home / "bots" / "ada") == "bfloat16"  # the bot's own precision is kept
    assert status.progress["plan"].posts == update.new_posts + update.replayed_posts


@pytest.mark.parametrize(
    "path, base, trials, minutes, message",
    [
        (None, "b", 5, 0, "choose a dataset first (get data in step 1)"),
        ("DATASET", " ", 5, 0, "enter a “Base model”"),
        ("DATASET", "b", 0, 0, "“Trials” must be a whole number from 1 to 50"),
        ("DATASET", "b", 2.5, 0, "“Trials” must be a whole number from 1 to 50"),
        ("DATASET", "b", 51, 0, "“Trials” must be a whole number from 1 to 50"),
        ("DATASET", "b", None, 0, "“Trials” must be a whole number"),
        ("DATASET", "b", 5, -1, "“Minutes per trial” must be a number from 0 up to 10080 (0: no limit)"),
        ("DATASET", "b", 5, 1e308, "“Minutes per trial” must be a number from 0 up to 10080"),
        ("DATASET", "b", 5, float("nan"), "“Minutes per trial” must be a number"),
        ("DATASET", "b", float("inf"), 0, "“Trials” must be a whole number from 1 to 50"),
    ],
)
def test_a_search_needs_a_dataset_a_base_and_sane_limits(ada_dataset, path, base, trials, minutes, message):
    path = ada_dataset if path == "DATASET" else path
    with pytest.raises(TweetlingError, match=re.escape(message)):
        sweeping.start_sweep(path, base, trials, "both", minutes)
    assert training.RUNNER.status() is None or not training.RUNNER.status().active


def test_a_search_shows_each_trial_and_keeps_the_best_bot(ada_dataset, tiny_model, tweetling_home):
    runner = training.RUNNER
    panel = sweeping.start_sweep(ada_dataset, str(tiny_model), 2, "lora", 0, "none")
    assert "trial 1 of 2" in panel and "loading the base model" in panel
    with pytest.raises(TweetlingError, match="already running"):
        training.start_training(ada_dataset, "other", str(tiny_model), "full", "default", 0)
    status = runner.wait(300)

    assert status.state == "done", status.message
    assert library.bot_names() == ["ada-sweep"] and Path(status.result) == tweetling_home / "bots" / "ada-sweep"
    trials = status.progress["trials"]
    assert [t.number for t in trials] == [0, 1] and all(t.params["method"] == "lora" for t in trials)
    best = min(trials, key=lambda t: t.value)
    meta = bots.read_metadata(Path(status.result))
    assert meta.sweep["trial"] == best.number and (Path(status.result) / "README.md").exists()
    shown = render.training_status(status)
    assert "Done: ada-sweep" in shown and "trial 2 of 2" in shown and f"best: trial {best.number}" in shown
    table = re.search(r"<table class='tl-table' id='tl-sweep-trials'>.*?</table>", shown).group()
    assert table.count("<tr>") == 3 and table.count("★") == 1 and f"{best.value:.4f}" in table
    assert not list((tweetling_home / "bots").glob(".ada-sweep.trial-*"))


def test_a_cancelled_search_keeps_no_half_trained_bot(ada_dataset, tiny_model, tweetling_home):
    runner = training.RUNNER
    sweeping.start_sweep(ada_dataset, str(tiny_model), 3, "full", 0, "none")
    wait_for(lambda: runner.status().progress.get("step", 0) >= 1 or not runner.status().active)
    training.cancel_training()
    status = runner.wait(120)

    assert status.state == "cancelled"
    assert status.message == "stopped during trial 1; no trial had finished, so no bot was kept"
    assert library.bot_names() == [] and not list((tweetling_home / "bots").glob(".ada-sweep*"))


def test_tracked_runs_link_to_the_mlflow_ui_and_escape_names():
    runs = [
        RunSummary("abc123", "train", NOISY, "FINISHED", "2026-11-28 04:00:00", 95.0,
                   {"final_valid_perplexity": 51.234, "final_test_perplexity": 49.5}, {}, "7"),
        RunSummary("def456", "prepare", "ada", "RUNNING", "2026-11-28 03:59:00", None, {}, {}, ""),
    ]  # fmt: skip
    table = render.tracked_runs(runs, "http://127.0.0.1:5000/", "sqlite:///home/mlflow.db")
    assert "href='http://127.0.0.1:5000/#/experiments/7/runs/abc123'" in table and NOISY not in table
    assert "<td>1:35</td><td>51.23</td><td>49.50</td>" in table and "<td>ada</td>" in table
    assert "mlflow ui --backend-store-uri sqlite:///home/mlflow.db" in table
    assert "No tracked runs yet" in render.tracked_runs([], "http://127.0.0.1:5000", "sqlite:///x")


def test_the_loss_chart_draws_steps_and_validations():
    points = [(1, 4.0, "training"), (2, 3.5, "training"), (2, 3.8, "validation"), (3, float("nan"), "training")]
    chart = render.loss_chart(points, total_steps=10)
    assert "data-training='2'" in chart and "data-validation='1'" in chart and chart.count("<circle") == 1
    assert render.loss_chart([]) == ""


def test_job_runner_runs_one_job_at_a_time_and_cancels():
    runner = JobRunner()
    started = threading.Event()

    def endless(control):
        step = 0
        started.set()
        while True:
            step += 1
            control.report(step=step, total=None)

    runner.start("first", endless)
    started.wait(5)
    with pytest.raises(TweetlingError, match="already running"):
        runner.start("second", lambda control: None)
    assert runner.cancel()
    status = runner.wait(5)
    assert status.state == "cancelled" and status.progress["step"] >= 1 and not status.active

    runner.start("second", lambda control: "result")
    assert runner.wait(5).state == "done" and runner.status().result == "result"


def test_job_runner_reports_failures():
    runner = JobRunner()

    def broken(control):
        raise TweetlingError("the base model is missing")

    runner.start("broken", broken)
    status = runner.wait(5)
    assert status.state == "failed" and status.message == "the base model is missing"
    assert "the base model is missing" in render.training_status(status)
    assert not runner.cancel()


def test_training_status_shows_what_it_does_steps_loss_and_eta():
    runner = JobRunner()
    release = threading.Event()

    def work(control):
        control.report(phase="training", step=5, total=20, loss=3.25, tokens_per_s=1200.0, eta_s=75)
        release.wait(5)

    runner.start("ada", work)
    wait_for(lambda: runner.status().progress, 5)
    panel = render.training_status(runner.status())
    release.set()
    runner.wait(5)
    assert "— training…" in panel and "aria-valuenow='5'" in panel
    assert "step 5 / 20" in panel and "loss 3.250" in panel and "ETA 1:15" in panel and "1,200 tokens/s" in panel
    assert "tl-bar" not in render.training_status(None)


# --- step 3 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bot, prompt, n, settings, message",
    [
        (None, "My dream is", 10, (), "choose a bot"),
        ("b", "x" * (writing.MAX_PROMPT_CHARS + 1), 10, (), "the limit is 200"),
        ("b", "My dream is", 0, (), "“Posts” must be a whole number from 1 to 20"),
        ("b", "My dream is", 21, (), "from 1 to 20"),
        ("b", "My dream is", 2.5, (), "from 1 to 20"),
        ("b", "My dream is", None, (), "“Posts” must be a whole number from 1 to 20"),
        ("b", "My dream is", 5, (3.0, None, None), "“Temperature” must be from 0.1 to 2.0"),
        ("b", "My dream is", 5, (None, 0.0, None), "“Top-p” must be from 0.05 to 1.0"),
        ("b", "My dream is", 5, (None, None, 4), "“Length” must be from 16 to 512"),
        ("b", "My dream is", 5, (None, None, 20.5), "“Length” must be a whole number"),
    ],
)
def test_generate_limits(tweetling_home, bot, prompt, n, settings, message):
    with pytest.raises(TweetlingError, match=re.escape(message)):
        writing.generate_step(bot, prompt, n, None, *settings)


@pytest.fixture
def escaped_bot(tweetling_home, tiny_model):
    profiles = {
        "jack": {"display_name": "<img src=x onerror=alert(1)>", "avatar_url": None, "bio": None, "source": "x"}
    }
    return build_tiny_bot(tiny_model, tweetling_home / "bots" / "jack", profiles=profiles)


def test_generate_writes_posts_with_share_links_an_image_and_preview_choices(escaped_bot):
    posts, summary, image, choices, prompt = writing.generate_step("jack", "My dream is", 6, 0)

    texts = re.findall(r"<span class='tl-post'>(.*?)</span>", posts)
    assert texts and all(text.startswith("My dream is") for text in texts) and prompt == "My dream is"
    assert posts.count("https://x.com/intent/post?text=My%20dream%20is") == len(texts)
    assert posts.count("https://mastodon.social/share?text=") == len(texts)
    assert len(texts) == 6 and "6 posts from " in summary
    assert [label for label, _ in choices] == [str(i) for i in range(1, len(texts) + 1)]
    with Image.open(image) as picture:
        assert picture.format == "PNG" and picture.width == 1200
    assert writing.generate_step("jack", "My dream is", 6, 0)[0] == posts  # same seed, same posts
    assert library.BOTS.get("jack") is library.BOTS.get("jack")  # loaded once
    cooler = writing.generate_step("jack", "My dream is", 6, 0, 0.2, 0.5, 40)[0]
    assert cooler != posts  # the sampling settings reach the sampler


@pytest.mark.parametrize("seed", [10**20, 2**63, float("nan"), float("inf"), 2.5])
def test_a_seed_torch_cannot_take_is_refused(escaped_bot, seed):
    with pytest.raises(TweetlingError, match="“Seed” must be a whole number"):
        writing.generate_step("jack", "", 1, seed)


def test_one_damaged_bot_is_left_out_of_the_gallery_not_fatal_to_it(escaped_bot, tweetling_home):
    broken = tweetling_home / "bots" / "broken"
    shutil.copytree(tweetling_home / "bots" / "jack", broken)
    meta = json.loads((broken / "tweetling.json").read_text())
    for field, value in (("created_at", 5), ("recipe", "str"), ("train_time_s", "x")):
        (broken / "tweetling.json").write_text(json.dumps({**meta, field: value}))
        assert library.bot_names() == ["jack"] and "data-bot='broken'" not in library.gallery()
        with pytest.raises(TweetlingError, match=f"field '{field}' holds a value of the wrong kind"):
            library.bot_page("broken")
    assert "Evaluated 7" in render.evaluation({"evaluated_at": 7})


def test_a_negative_seed_means_random(escaped_bot):
    first, second = (writing.generate_step("jack", "My dream is", 3, -1)[0] for _ in range(2))
    assert first != second


def test_the_chosen_post_becomes_the_bots_predictions_image(escaped_bot):
    _, _, _, choices, prompt = writing.generate_step("jack", "My dream is", 4, 0)
    chosen = choices[-1][1]
    with Image.open(writing.show_preview("jack", prompt, chosen)) as shown_image:
        assert shown_image.width == 1200
    note = writing.save_preview("jack", prompt, chosen)
    assert "predictions.png of jack now shows" in note
    assert (escaped_bot / "predictions.png").exists() and "predictions.png" in (escaped_bot / "README.md").read_text()
    with pytest.raises(TweetlingError, match="generate posts first"):
        writing.save_preview("jack", prompt, None)


# --- the bots -------------------------------------------------------------------------------------


def test_gallery_cards_open_their_bot_and_escape_names(escaped_bot):
    assert library.bot_names() == ["jack"]
    cards = library.gallery()
    assert "<img" not in cards and "&lt;img src=x" in cards and "valid loss 3.500" in cards
    assert "data-bot='jack'" in cards and "<button type='button' class='tl-card'" in cards
    assert library.bot_page(None) == ("<p class='tl-muted'>No bot chosen: train one in step 2.</p>", "")
    facts, evaluation = library.bot_page("jack")
    assert "tiny-gpt2" in facts and "Not evaluated yet" in evaluation
    with pytest.raises(TweetlingError, match="no bot named 'nobody'; train one in step 2"):
        library.bot_page("nobody")


def test_evaluation_results_show_as_a_table_with_what_could_not_be_measured():
    result = {
        "perplexity": 31.5,
        "base_perplexity": None,
        "base_perplexity_unavailable": "the base model tiny-gpt2 is not available offline",
        "distinct_2": 0.8,
        "memorized_rate": 0.02,
        "style": {"attribution_accuracy": 0.75, "reference_accuracy": 0.9},
        "evaluated_at": "2026-01-02T03:04:05+00:00",
    }
    table = render.evaluation(result)
    assert "Perplexity on held-out posts</th><td>31.50" in table and "2.0 %" in table and "75.0 %" in table
    assert "not available offline" in table and "Evaluated 2026-01-02 03:04" in table


def safetensors_dtypes(data: bytes) -> set[str]:
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    return {tensor["dtype"] for key, tensor in header.items() if key != "__metadata__"}


def check_folder_zip(archive: zipfile.ZipFile) -> None:
    assert {"config.json", "tweetling.json", "model.safetensors"} <= set(archive.namelist())
    assert safetensors_dtypes(archive.read("model.safetensors")) == {"F32"}


def check_gguf_zip(archive: zipfile.ZipFile) -> None:
    assert sorted(archive.namelist()) == ["Modelfile", "jack-q8_0.gguf"]
    assert archive.read("jack-q8_0.gguf")[:4] == b"GGUF"
    assert "FROM ./jack-q8_0.gguf" in archive.read("Modelfile").decode()


def check_bfloat16_zip(archive: zipfile.ZipFile) -> None:
    assert {"config.json", "tweetling.json", "README.md"} <= set(archive.namelist())
    assert safetensors_dtypes(archive.read("model.safetensors")) == {"BF16"}


@pytest.mark.parametrize(
    "kind, file_name, check",
    [
        ("folder", "jack.zip", check_folder_zip),
        ("gguf", "jack-q8_0.zip", check_gguf_zip),
        ("bfloat16", "jack-bfloat16.zip", check_bfloat16_zip),
    ],
)
def test_download_says_its_size_then_packs_each_kind(escaped_bot, kind, file_name, check):
    labels = dict((value, label) for label, value in library.download_formats("jack"))
    assert list(labels) == ["folder", "gguf", "bfloat16"]
    estimate = re.search(r"about ([\d.]+) (KB|MB)", labels[kind])
    assert estimate, labels[kind]
    phases: list[str] = []
    packed, label = library.pack_download("jack", kind, lambda fraction=None, desc=None: phases.append(desc))
    assert re.fullmatch(rf"Download {re.escape(file_name)} \([\d.]+ (KB|MB)\)", label)
    assert phases[-1].startswith("zipping the download (about ")
    with zipfile.ZipFile(packed) as archive:
        check(archive)
        unpacked = sum(info.file_size for info in archive.infolist())
    scale = {"KB": 1e3, "MB": 1e6}[estimate.group(2)]
    assert 0.8 < float(estimate.group(1)) * scale / unpacked < 1.25  # the estimate is about right
    assert [path.name for path in Path(packed).parent.iterdir()] == [file_name]  # one copy on disk


def test_a_bot_gguf_cannot_hold_says_so_in_the_download_list(escaped_bot):
    config = json.loads((escaped_bot / "config.json").read_text())
    (escaped_bot / "config.json").write_text(json.dumps({**config, "activation_function": "relu"}))
    labels = dict((value, label) for label, value in library.download_formats("jack"))
    assert "not for this bot: this GPT-2 model has activation 'relu'" in labels["gguf"]
    assert "zipped, about" in labels["folder"] and "zipped, about" in labels["bfloat16"]


def test_packing_again_replaces_the_last_download_on_disk(escaped_bot):
    first, _ = library.pack_download("jack", "folder")
    second, _ = library.pack_download("jack", "bfloat16")
    assert not Path(first).exists()  # a model's copy per click would fill the disk
    assert [path.name for path in Path(second).parent.iterdir()] == ["jack-bfloat16.zip"]


def test_a_gguf_download_says_its_phase_while_packing(escaped_bot):
    phases: list[str] = []
    library.pack_download("jack", "gguf", lambda fraction=None, desc=None: phases.append(desc))
    assert phases[0] == "loading the bot for the GGUF file"
    assert any(re.fullmatch(r"writing the GGUF file: \d+ of \d+ parts", phase) for phase in phases)
    with pytest.raises(TweetlingError, match="choose what to download in “Download as”"):
        library.pack_download("jack", "pickle")


def test_publish_uploads_with_the_token_given_and_never_shows_it(escaped_bot, monkeypatch, httpserver, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_TOKEN", "hf_SERVER_OWNER_TOKEN")  # the server's own: the page never uses it
    hub = FakeHub(httpserver)
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("").rstrip("/"))
    with pytest.raises(TweetlingError, match="paste a token with write access into “Hugging Face token”"):
        library.publish("jack", " ", "me/jack-bot", False)
    with pytest.raises(TweetlingError) as odd:
        library.publish("jack", "hf_SECRÉT", "me/jack-bot", False)
    assert (
        str(odd.value)
        == "“Hugging Face token” holds spaces, line breaks or characters outside ASCII: copy the token again"
    )
    assert hub.created == []
    with pytest.raises(TweetlingError, match="enter a “Repository”"):
        library.publish("jack", "hf_tokentokentoken", " ", False)
    note = library.publish("jack", " hf_tokentokentoken ", "me/jack-bot", True)
    assert "hf_tokentokentoken" not in note and re.search(r"href='http://[^']+/me/jack-bot'", note)
    assert hub.created[-1]["visibility"] == "private" and "Bearer hf_tokentokentoken" in hub.auth
    assert not any("SERVER_OWNER" in auth for auth in hub.auth)


def test_delete_removes_the_bot_and_its_checkpoint(escaped_bot, tweetling_home):
    checkpoint = tweetling_home / "bots" / "jack.checkpoint.pt"
    checkpoint.write_bytes(b"state")
    library.BOTS.get("jack")
    assert "Deleted jack" in library.remove("jack")
    assert not escaped_bot.exists() and not checkpoint.exists() and library.bot_names() == []
    assert not library.BOTS.is_loaded("jack")
    with pytest.raises(TweetlingError, match="no bot named 'jack'"):
        library.remove("jack")


# --- step 4 ---------------------------------------------------------------------------------------


@pytest.fixture
def mastodon(tiny_bot, httpserver, monkeypatch):
    fake = start_fake("mastodon", httpserver)
    with Store() as store:
        connect_fake(store, "mastodon", fake, monkeypatch)
    return fake


def test_the_post_step_drafts_approves_edits_rejects_and_posts_once(mastodon):
    target = TARGETS["mastodon"]
    assert posting.account_choices() == [target] and "marked as a bot" in posting.accounts_panel()
    panel, note = posting.draft_more("jack", 4, target)
    with Store() as store:
        drafts = Queue(store).drafts("jack")
    assert drafts and "new drafts" in note and all(f"data-draft='{d.id}'" in panel for d in drafts)
    first, *others = drafts

    panel, note = posting.queue_action("jack", target, "edit", first.id, "A better post about the garden")
    assert "saved" in note and "A better post about the garden</textarea>" in panel
    posting.queue_action("jack", target, "approve", first.id, None)
    with pytest.raises(TweetlingError, match="choose the account to “Post to” first"):
        posting.queue_action("jack", None, "post", first.id, None)
    panel, note = posting.queue_action("jack", target, "post", first.id, None)
    assert "posted to mastodon:@bot@botsin.space" in note and posted_texts(mastodon) == [
        "A better post about the garden"
    ]
    assert f"id='tl-draft-{first.id}'" in panel and "data-status='posted'" in panel
    with pytest.raises(TweetlingError, match="already posted"):
        posting.queue_action("jack", target, "post", first.id, None)
    if others:
        assert "rejected" in posting.queue_action("jack", target, "reject", others[0].id, None)[1]


def test_keep_posting_sends_approved_drafts_on_schedule_until_stopped(mastodon):
    target = TARGETS["mastodon"]
    posting.draft_more("jack", 3, target)
    with Store() as store:
        first, second, *_ = Queue(store).drafts("jack")
        Queue(store).approve(first.id)
    pilot = autopilot.Autopilot()

    pilot.start("jack", target, autopilot.run_config("10m", "0", auto_approve=False, reply=False))
    wait_for(lambda: pilot.statuses()[0].posted == 1)

    assert posted_texts(mastodon) == [first.text]  # the first goes at once, the next 10 minutes later
    assert 590 <= pilot.statuses()[0].next_post_at - time.time() <= 600
    with pytest.raises(TweetlingError, match="jack is already posting to mastodon:@bot@botsin.space: stop it first"):
        pilot.start("jack", target, autopilot.run_config("3h", "30m", auto_approve=False, reply=False))
    pilot.stop(target)
    status = pilot.wait(target, 30)
    assert status.state == "stopped" and status.events[-1][1] == "stopped: approved drafts stay queued"
    panel = render.autopilot(pilot.statuses())
    assert "jack → mastodon:@bot@botsin.space</strong>: stopped · every 10 min ± 0 min" in panel
    assert "approved drafts only · not answering mentions · 1 posted" in panel and "https://botsin.space/@bot/" in panel
    with pytest.raises(TweetlingError, match="nothing is posting to mastodon:@bot@botsin.space"):
        pilot.stop(target)
    assert posted_texts(mastodon) == [first.text]  # the unapproved drafts stayed drafts
    with Store() as store:
        assert Queue(store).get(second.id).status == "pending"


def test_keep_posting_without_approval_writes_its_own_and_says_what_it_did(mastodon):
    target = TARGETS["mastodon"]
    pilot = autopilot.Autopilot()
    pilot.start("jack", target, autopilot.run_config("1h", "5m", auto_approve=True, reply=False))
    wait_for(lambda: pilot.statuses()[0].posted == 1)
    pilot.stop(target)
    events = [text for _, text in pilot.wait(target, 30).events]
    assert events[0] == "posting jack to mastodon:@bot@botsin.space"
    assert re.fullmatch(r"auto-approved \d+ new drafts", events[1]) and events[2].startswith("posted draft ")
    assert len(posted_texts(mastodon)) == 1


def test_keep_posting_without_approved_drafts_says_where_to_approve_them(mastodon):
    target = TARGETS["mastodon"]
    pilot = autopilot.Autopilot()
    pilot.start("jack", target, autopilot.run_config("1h", "0", auto_approve=False, reply=False))
    wait_for(lambda: len(pilot.statuses()[0].events) >= 2)
    pilot.stop(target)
    assert pilot.wait(target, 30).events[1][1] == (
        "no approved drafts for mastodon:@bot@botsin.space; approve some in step 4"
    )
    assert posted_texts(mastodon) == []


@pytest.mark.parametrize(
    "bot, target, every, jitter, message",
    [
        ("jack", None, "3h", "30m", "choose the account in “Post to”"),
        ("jack", "mastodon:@other@botsin.space", "3h", "30m", "not connected"),
        ("jack", "TARGET", "3", "0", "“Every” must be at least 10 minutes here"),
        ("jack", "TARGET", "soon", "0", "“Every” and “Jitter”: invalid duration 'soon'"),
        ("jack", "TARGET", "1h", "1h", "“Jitter” must be shorter than “Every”"),
        ("jack", "TARGET", "300000000h", "0", "“Every” and “Jitter”: the duration '300000000h' is longer than a year"),
        (None, "TARGET", "3h", "30m", "choose a bot"),
    ],
)
def test_keep_posting_refuses_what_it_cannot_do(mastodon, bot, target, every, jitter, message):
    target = TARGETS["mastodon"] if target == "TARGET" else target
    pilot = autopilot.Autopilot()
    with pytest.raises(TweetlingError, match=re.escape(message)):
        pilot.start(bot, target, autopilot.run_config(every, jitter, auto_approve=False, reply=False))
    assert pilot.statuses() == []


@pytest.mark.parametrize("service", ["mastodon", "bluesky", "x"])
def test_connect_in_the_page_with_what_was_typed_in(tiny_bot, httpserver, service):
    fake = start_fake(service, httpserver)
    secret = {"mastodon": getattr(fake, "token", ""), "bluesky": getattr(fake, "password", "")}.get(service, "")
    keys = list(OAUTH1.values()) if service == "x" else ["", "", "", ""]
    base_url = fake.url + ("/2" if service == "x" else "")
    target = TARGETS[service]

    panel, note = posting.connect_account(
        f" {target} ", f" {secret} ", keys, "jack", "@me@botsin.space", True, base_url
    )

    assert f"Connected {target}" in note and target in panel and posting.account_choices() == [target]
    assert not any(s in panel + note for s in secrets_of(fake))
    line = bio_line(["jack"], "@me@botsin.space")
    if service == "mastodon":
        assert fake.account["bot"] is True and fake.account["source"]["note"].endswith(line)
    elif service == "bluesky":
        assert fake.records[("app.bsky.actor.profile", "self")]["description"].endswith(line)
    else:
        assert f"paste this line into the profile: {line}" in html.unescape(note)  # X has no API for the bio
    assert set(credentials.load(target)) >= ({"consumer_key"} if service == "x" else set())

    panel, note = posting.disconnect_account(target)
    assert f"Disconnected {target}" in note and posting.account_choices() == []
    assert "was not connected" in posting.disconnect_account(target)[1]


def test_connect_mastodon_with_a_sign_in_link_and_its_code(tiny_bot, httpserver):
    fake = start_fake("mastodon", httpserver)
    target = TARGETS["mastodon"]
    with pytest.raises(TweetlingError, match="press “Get a sign-in link” for mastodon:@bot@botsin.space first"):
        posting.connect_account(target, "", ["", "", "", ""], "jack", "", True, fake.url, fake.code)

    link = posting.mastodon_sign_in(f" {target} ", fake.url)

    address = re.search(r"href='([^']+)'", link).group(1)
    assert address.startswith(f"{fake.url}/oauth/authorize?response_type=code&amp;client_id=client-id-1&amp;")
    assert "paste the code it shows into “Authorization code”" in link and fake.client_secret not in link
    with pytest.raises(TweetlingError, match="did not accept the code"):
        posting.connect_account(target, "", ["", "", "", ""], "jack", "", True, fake.url, "wrong-code")
    panel, note = posting.connect_account(target, "", ["", "", "", ""], "jack", "", True, fake.url, f" {fake.code} ")
    assert f"Connected {target}" in note and not any(s in panel + note for s in secrets_of(fake))
    kept = credentials.load(target)
    assert kept["access_token"].reveal() == fake.token and kept["client_id"].reveal() == fake.client_id
    assert fake.account["bot"] is True
    with pytest.raises(TweetlingError, match="press “Get a sign-in link”"):  # a code is good once
        posting.connect_account(target, "", ["", "", "", ""], "jack", "", True, fake.url, fake.code)


@pytest.mark.parametrize("target", ["bluesky:bot.bsky.social", "x:botname", ""])
def test_a_sign_in_link_is_for_mastodon_accounts(tiny_bot, target):
    with pytest.raises(TweetlingError, match="a sign-in link is for Mastodon|type the bot's own account"):
        posting.mastodon_sign_in(target, "http://127.0.0.1:9")
    if target:
        with pytest.raises(TweetlingError, match="“Authorization code” is for Mastodon's sign-in link"):
            posting.connect_account(target, "", ["", "", "", ""], "jack", "", False, "http://127.0.0.1:9", "code")


@pytest.mark.parametrize(
    ("target", "secret", "keys", "bot", "message"),
    [
        ("", "token", [], "jack", "type the bot's own account into “Account”"),
        ("x:botname", "tok en", [], "jack", "“Access token or app password” holds spaces"),
        ("x:botname", "", ["key", "sec ret", "token", "secret"], "jack", "“API key secret” holds spaces"),
        ("mastodon:bot", "token", [], "jack", "invalid Mastodon handle 'bot'"),
        ("mastodon:@bot@botsin.space", " ", [], "jack", "paste an access token of the bot's account"),
        ("bluesky:bot.bsky.social", "", [], "jack", "paste an app password"),
        ("x:botname", "", [], "jack", "fill in the four “X keys”"),
        ("x:botname", "", ["key", "secret", "", ""], "jack", "fill in the four “X keys”"),
        ("mastodon:@bot@botsin.space", "token", [], None, "choose a bot first"),
    ],
)
def test_connecting_in_the_page_says_what_is_missing(tiny_bot, monkeypatch, target, secret, keys, bot, message):
    monkeypatch.delenv("BLUESKY_APP_PASSWORD", raising=False)
    with pytest.raises(TweetlingError, match=re.escape(message)):
        posting.connect_account(target, secret, keys or ["", "", "", ""], bot, "", True, "http://127.0.0.1:9")
    with pytest.raises(TweetlingError, match="choose the account to disconnect"):
        posting.disconnect_account(None)


def test_answer_mentions_queues_replies_to_approve_and_posts_them_threaded(mastodon):
    target = TARGETS["mastodon"]
    with pytest.raises(TweetlingError, match="choose the account in “Post to”"):
        posting.answer_mentions("jack", None)
    asked = mastodon.mention("@bot what grows in <b>winter</b>?", author="alice")
    mastodon.mention("@bot beep", author="otherbot", bot=True)

    panel, note = posting.answer_mentions("jack", target)

    assert "1 reply draft to approve; not answering @otherbot: @otherbot is a bot account" in note
    assert "in reply to @alice: @bot what grows in &lt;b&gt;winter&lt;/b&gt;?" in panel and "<b>" not in panel
    with Store() as store:
        (reply,) = Queue(store).drafts("jack")
    assert reply.status == "pending" and reply.reply_to.post_id == asked["status"]["id"]
    assert "no new mentions of mastodon:@bot@botsin.space" in posting.answer_mentions("jack", target)[1]

    posting.queue_action("jack", target, "approve", reply.id, None)
    posting.queue_action("jack", target, "post", reply.id, None)
    (sent,) = post_requests(mastodon, "mastodon")
    assert sent.form["in_reply_to_id"] == asked["status"]["id"] and sent.form["status"].startswith("@alice ")


@pytest.mark.parametrize(
    "action, draft, message",
    [("delete", 1, "unknown draft action"), ("approve", "1", "unknown draft action"), ("approve", 999, "no draft 999")],
)
def test_the_queue_refuses_what_the_page_never_sends(tiny_bot, action, draft, message):
    with pytest.raises(TweetlingError, match=message):
        posting.queue_action("jack", None, action, draft, None)


def test_the_queue_panel_escapes_drafts_and_only_links_http_addresses(tiny_bot):
    with Store() as store:
        queue = Queue(store)
        [draft] = queue.add("jack", [NOISY])
    panel = posting.queue_panel("jack")
    assert "<script>" not in panel and "&lt;script&gt;" in panel and f"data-draft='{draft.id}'" in panel


# --- what is on disk -----------------------------------------------------------------------------


def test_prepared_datasets_are_newest_first_and_broken_ones_left_out(tweetling_home):
    for name, day in (("old", "2025-01-01"), ("new", "2025-06-01")):
        folder = tweetling_home / "datasets" / f"{name}-abc"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps({"name": name, "created_at": day, "hash": name}))
    (tweetling_home / "datasets" / "half-written").mkdir()
    assert [record.name for record in pipeline.prepared_datasets()] == ["new", "old"]
