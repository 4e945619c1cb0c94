"""The web app's step functions, called directly (no browser): limits, escaping, the job runner."""

from __future__ import annotations

import re
import threading
import time
import zipfile
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from PIL import Image  # noqa: E402

from conftest import SAMPLE_ARCHIVE  # noqa: E402
from tiny_bot import build_tiny_bot  # noqa: E402
from tweetling.errors import TweetlingError  # noqa: E402
from tweetling.posts import Post, Profile  # noqa: E402
from tweetling.store import Store  # noqa: E402
from tweetling.web import app, render  # noqa: E402
from tweetling.web.jobs import JobRunner  # noqa: E402

NOISY = "<script>alert('x')</script>"


def store_posts(account: str, texts: list[str], display_name: str | None = None) -> None:
    with Store() as store:
        store.upsert_account(Profile(account, "file", display_name=display_name))
        store.upsert_posts(Post("file", f"{account}-{i}", account, text) for i, text in enumerate(texts))


def load(upload=None, source=app.STORED, handles="", upload_account="", **options):
    flags = {"drop_replies": False, "keep_newlines": False, "drop_duplicates": False, **options}
    return app.load_data(
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


@pytest.mark.skipif(not SAMPLE_ARCHIVE.exists(), reason="examples/sample-archive.zip is absent")
def test_data_step_imports_an_archive_and_shows_table_and_samples(tweetling_home):
    table, samples, notes, dataset_path, dataset_line, bot_name = load(str(SAMPLE_ARCHIVE), "Mastodon")

    assert "tweetling_sample" in table and "Posts downloaded" in table and "Posts kept" in table
    assert samples.count("<li>") == app.SAMPLE_POSTS
    assert "imported" in notes and "training" in notes
    assert (Path(dataset_path) / "manifest.json").exists()
    assert bot_name == "tweetling_sample" and "Ready" in dataset_line


def test_data_step_blends_stored_accounts_and_escapes_posts(tweetling_home):
    store_posts("ada", [f"{NOISY} post number {i} about gardens and bees" for i in range(300)])
    store_posts("bob", [f"bob writes about tides and the moon, take {i}" for i in range(300)])

    table, samples, _notes, dataset_path, _, bot_name = load(handles="ada, @bob")

    assert "<th>ada</th>" in table and "<th>bob</th>" in table
    assert "<script>" not in samples and "&lt;script&gt;" in samples
    assert bot_name == "ada-bob" and dataset_path


def test_thin_data_shows_the_table_and_why_it_cannot_train(tweetling_home):
    store_posts("tiny", ["just a few words here"] * 5)
    with pytest.warns(UserWarning, match="at least"):
        table, _samples, notes, dataset_path, dataset_line, _ = load(handles="tiny")
    assert "Posts kept" in table and dataset_path is None
    assert "at least" in notes and "Not enough data" in dataset_line


def test_thin_but_usable_data_warns(tweetling_home):
    store_posts("thin", [f"a modest post about compost heaps number {i}" for i in range(200)])
    with pytest.warns(UserWarning, match="better bots"):
        *_, dataset_path, _, _ = load(handles="thin")
    assert dataset_path


@pytest.mark.parametrize(
    "handles, message",
    [
        ("", "upload an X archive"),
        ("a b c d", "at most 3 handles"),
        ("../etc", "invalid account name"),
        ("nobody", "no posts for 'nobody'"),
    ],
)
def test_data_step_input_errors_are_clear(tweetling_home, handles, message):
    with pytest.raises(gr.Error, match=message):
        load(handles=handles)


def test_upload_and_three_handles_is_too_many_accounts(tweetling_home, tmp_path):
    upload = tmp_path / "d.txt"
    upload.write_text("one two three four\n")
    with pytest.raises(gr.Error, match="at most 3 accounts"):
        load(str(upload), handles="a b c")
    assert Store().count_posts() == 0  # refused before importing anything


def test_upload_of_a_text_file_takes_the_account_name_given(tweetling_home, tmp_path):
    upload = tmp_path / "posts.txt"
    upload.write_text("".join(f"line {i} of a plain text file of posts\n" for i in range(400)))
    table, *_, bot_name = load(str(upload), upload_account="plain")
    assert "<th>plain</th>" in table and bot_name == "plain"


@pytest.mark.parametrize(
    "bot, prompt, n, message",
    [
        (None, "My dream is", 10, "choose a bot"),
        ("b", "x" * (app.MAX_PROMPT_CHARS + 1), 10, "the limit is 200"),
        ("b", "My dream is", 0, "from 1 to 20"),
        ("b", "My dream is", 21, "from 1 to 20"),
        ("b", "My dream is", 2.5, "from 1 to 20"),
    ],
)
def test_generate_limits(tweetling_home, bot, prompt, n, message):
    with pytest.raises(gr.Error, match=message):
        app.generate_step(bot, prompt, n, None)


@pytest.fixture
def tiny_bot(tweetling_home, tiny_model):
    profiles = {
        "jack": {"display_name": "<img src=x onerror=alert(1)>", "avatar_url": None, "bio": None, "source": "x"}
    }
    return build_tiny_bot(tiny_model, tweetling_home / "bots" / "jack", profiles=profiles)


def test_generate_writes_posts_with_share_links_and_a_predictions_image(tiny_bot):
    posts, summary, image = app.generate_step("jack", "My dream is", 6, 0)

    texts = re.findall(r"<span class='tl-post'>(.*?)</span>", posts)
    assert texts and all(text.startswith("My dream is") for text in texts)
    assert posts.count("https://x.com/intent/post?text=My%20dream%20is") == len(texts)
    assert posts.count("https://mastodon.social/share?text=") == len(texts)
    assert len(texts) == 6 and "6 posts from " in summary
    with Image.open(image) as picture:
        assert picture.format == "PNG" and picture.width == 1200
    assert app.generate_step("jack", "My dream is", 6, 0)[0] == posts  # same seed, same posts
    assert app.BOTS.get("jack") is app.BOTS.get("jack")  # loaded once


def test_a_negative_seed_means_random(tiny_bot):
    first, second = (app.generate_step("jack", "My dream is", 3, -1)[0] for _ in range(2))
    assert first != second


def test_gallery_lists_bots_with_escaped_names(tiny_bot):
    assert app.bot_names() == ["jack"]
    cards = app.gallery()
    assert "<img" not in cards and "&lt;img src=x" in cards and "valid loss 3.500" in cards


def test_gallery_marks_stale_bots(tiny_bot):
    from dataclasses import replace

    from tweetling import bots

    assert "tl-stale" not in app.gallery()
    stale = bots.Stale("it learned from posts of @jack that were forgotten", "2025-01-01", "tweetling train jack <x>")
    bots.write_metadata(tiny_bot, replace(bots.read_metadata(tiny_bot), stale=stale))
    cards = app.gallery()
    assert "stale: retrain</span>" in cards and "tweetling train jack &lt;x&gt;" in cards
    assert [meta.name for _, meta in bots.stale_bots()] == ["jack"]


def test_download_is_a_zip_of_the_bot_folder(tiny_bot):
    with zipfile.ZipFile(app.download_bot("jack")) as archive:
        assert {"config.json", "tweetling.json"} <= set(archive.namelist())


def test_training_needs_data_and_a_valid_name(tweetling_home):
    with pytest.raises(gr.Error, match="get data in step 1"):
        app.start_training(None, "bot", "smollm2-135m", "full", "default", 0)
    with pytest.raises(gr.Error, match="invalid bot name"):
        app.start_training("/some/dataset", "../up", "smollm2-135m", "full", "default", 0)


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


def test_training_status_shows_steps_loss_and_eta():
    runner = JobRunner()
    release = threading.Event()

    def work(control):
        control.report(step=5, total=20, loss=3.25, tokens_per_s=1200.0, eta_s=75)
        release.wait(5)

    runner.start("ada", work)
    for _ in range(100):
        if runner.status().progress:
            break
        threading.Event().wait(0.02)
    panel = render.training_status(runner.status())
    release.set()
    runner.wait(5)
    assert "step 5 / 20" in panel and "loss 3.250" in panel and "ETA 1:15" in panel and "1,200 tokens/s" in panel


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_training_runs_one_at_a_time_cancels_safely_and_resumes(tweetling_home, tiny_model):
    store_posts("ada", [f"ada writes about gardens, bees and compost, note {i}" for i in range(150)])
    *_, dataset_path, _, _ = load(handles="ada")
    runner = app.RUNNER

    app.start_training(dataset_path, "ada", str(tiny_model), "full", "default", 1, False, "none")
    wait_for(lambda: runner.status().progress.get("step", 0) >= 1)
    with pytest.raises(gr.Error, match="already running"):
        app.start_training(dataset_path, "other", str(tiny_model), "full", "default", 0)
    app.cancel_training()
    status = runner.wait(60)
    assert status.state == "cancelled" and "checkpoint saved" in status.message
    assert (tweetling_home / "bots" / "ada.checkpoint.pt").exists() and app.bot_names() == []

    app.start_training(dataset_path, "ada", str(tiny_model), "full", "default", 1, True, "none")
    status = runner.wait(120)
    assert status.state == "done", status.message
    assert status.progress["step"] == status.progress["total"] and status.progress["loss"] > 0
    panel, _, bots, cards, seen = app.poll_training(None)
    assert "Done" in panel and bots["value"] == "ada" and "ada" in cards and seen == status.finished_at
