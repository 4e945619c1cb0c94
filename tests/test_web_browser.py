"""The web app end to end in headless Chromium, as a person uses it, at desktop and phone sizes:
the error paths keep their message beside the control; the journey uploads the sample archive,
trains the tiny model (the loss chart updates live), generates, chooses the preview, posts an
approved draft to a fake Mastodon, evaluates, downloads and publishes to a fake Hub; then the
phone layout and deleting a bot. Nothing is loaded from outside the local servers.

Each step's screenshot goes to $TWEETLING_ARTIFACTS (default: out/screenshots) for CI to keep.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import REPO, SAMPLE_ARCHIVE
from live_fakes import post_requests, posted_texts

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
HF_TOKEN = "hf_browsertestsecret123"
TOAST_LIFETIME_S = 10  # how long Gradio shows a toast; a message beside its control outlives it

pytest.importorskip("gradio")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"),
    pytest.mark.skipif(not SAMPLE_ARCHIVE.exists(), reason="examples/sample-archive.zip is absent"),
]
expect = sync_api.expect
expect.set_options(timeout=20_000)  # generous: the test machine may be shared


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("TWEETLING_ARTIFACTS") or REPO / "out" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("web-home")


@pytest.fixture(scope="module")
def fake_servers():
    """A fake Mastodon instance and a fake Hugging Face Hub, each on its own loopback server."""
    from pytest_httpserver import HTTPServer

    servers = [HTTPServer(host="127.0.0.1", port=0) for _ in range(2)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.clear()
        server.stop()


@pytest.fixture(scope="module")
def mastodon(fake_servers, home):
    """The bot's own account on the fake Mastodon, connected as `tweetling connect` does."""
    from live_fakes import FakeMastodon, connect_fake
    from tweetling.store import Store

    fake = FakeMastodon(fake_servers[0])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TWEETLING_HOME", str(home))
        with Store() as store:
            connect_fake(store, "mastodon", fake, patch)
    return fake


@pytest.fixture(scope="module")
def hub(fake_servers):
    from fake_hub import FakeHub

    return FakeHub(fake_servers[1])


@pytest.fixture(scope="module")
def server(home, tiny_model, mastodon, hub, tmp_path_factory):
    """`tweetling serve` in a subprocess on a free local port: the tiny model as base, MLflow
    tracking, the fake Hub as HF_ENDPOINT, no saved Hub token."""
    port = free_port()
    logs = tmp_path_factory.mktemp("serve")
    log = (logs / "serve.log").open("w")
    command = [sys.executable, "-c", "from tweetling.cli import main; main()", "serve", "--port", str(port)]
    command += ["--base-model", str(tiny_model), "--track", "mlflow"]
    env = {
        **os.environ,
        "TWEETLING_HOME": str(home),
        "HF_ENDPOINT": hub.server.url_for("").rstrip("/"),
        "HF_HOME": str(logs / "hf-home"),
    }
    env.pop("HF_TOKEN", None)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, (logs / "serve.log").read_text()
        assert time.monotonic() < deadline, "the server did not start within 90 s"
        try:
            urllib.request.urlopen(url, timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(10)
    log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Visit:
    """One page in one viewport, recording every host it asks for and saving numbered screenshots."""

    def __init__(self, browser, url: str, viewport: dict, artifacts: Path, prefix: str):
        self.page = browser.new_page(viewport=viewport)
        self.hosts: set[str] = set()
        self.page.on("request", lambda request: self.hosts.add(urlparse(request.url).netloc))
        self.page.goto(url)
        self.artifacts, self.prefix, self.count = artifacts, prefix, 0
        expect(self.page.get_by_role("tab", name="1. Data")).to_be_visible()

    def tab(self, name: str):
        self.page.get_by_role("tab", name=name).click()

    def shot(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.artifacts / f"{self.prefix}-{self.count:02d}-{name}.png"), full_page=True)

    def upload(self, path: Path) -> None:
        clear = self.page.locator("#tl-upload button[aria-label='Clear']")
        if clear.count():
            clear.click()
        self.page.set_input_files("#tl-upload input[type=file]", str(path))
        # Gradio shows the name's stem and suffix in two spans, sometimes with a space between.
        expect(self.page.locator("#tl-upload")).to_contain_text(path.stem)

    def fill(self, field, value: str) -> None:
        """Type VALUE into FIELD and leave it (a number field takes its value on blur). A field in
        an accordion just opened can still receive its initial value from the server under load,
        over what was typed: then type it again."""
        for _ in range(5):
            field.fill(value)
            field.press("Tab")
            try:
                expect(field).to_have_value(value, timeout=3_000)
                return
            except AssertionError:
                continue
        expect(field).to_have_value(value)

    def no_horizontal_scroll(self) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.page.viewport_size["width"], f"the page is {width} px wide"


def message(visit: Visit, box: str):
    return visit.page.locator(f"#{box} .tl-message")


def test_errors_stay_beside_their_control_until_the_next_action(server, browser, artifacts, tmp_path):
    visit = Visit(browser, server, PHONE, artifacts, "errors-phone")
    page = visit.page
    first_error = time.monotonic()
    page.click("#tl-load")  # no upload, no handles
    expect(message(visit, "tl-data-message")).to_contain_text("upload an X archive or a file of posts")
    visit.tab("2. Train")
    expect(page.locator("#tl-train-status")).to_contain_text("No training yet")
    expect(page.locator("#tl-train-status .tl-bar")).to_have_count(0)  # no bar, empty or full, before a training
    page.click("#tl-train")
    expect(message(visit, "tl-train-message")).to_contain_text("choose a dataset first (get data in step 1)")
    visit.tab("3. Generate")
    page.click("#tl-generate")
    expect(message(visit, "tl-generate-message")).to_contain_text("choose a bot first")
    visit.shot("no-bot")

    # Long after a toast would have gone, each message is still there, with no bare "Error" badge.
    time.sleep(max(0.0, TOAST_LIFETIME_S + 1 - (time.monotonic() - first_error)))
    expect(message(visit, "tl-generate-message")).to_be_visible()
    visit.tab("2. Train")
    expect(message(visit, "tl-train-message")).to_contain_text("choose a dataset first")
    visit.tab("1. Data")
    expect(message(visit, "tl-data-message")).to_contain_text("upload an X archive")
    expect(page.get_by_text("Error", exact=True)).to_have_count(0)

    # Bad uploads are told apart and worded for the page's fields.
    not_a_zip = tmp_path / "archive.zip"
    not_a_zip.write_text("this is not a zip file")
    visit.upload(not_a_zip)
    page.click("#tl-load")
    expect(message(visit, "tl-data-message")).to_contain_text("archive.zip: corrupt zip")
    visit.shot("corrupt-zip")
    nameless = tmp_path / "posts.txt"
    nameless.write_text("".join(f"a plain line of text number {i} to learn from\n" for i in range(300)))
    visit.upload(nameless)
    page.click("#tl-load")
    expect(message(visit, "tl-data-message")).to_contain_text("fill in “Account name”")
    expect(message(visit, "tl-data-message")).not_to_contain_text("--account")
    visit.shot("account-name")

    # Too few posts: the table shows why, the message says so, and nothing is offered to train.
    thin = tmp_path / "thin.txt"
    thin.write_text("just a few words here\n" * 5)
    visit.upload(thin)
    page.get_by_label("Account name").fill("thin_account")
    page.click("#tl-load")
    expect(page.locator("#tl-data-notes")).to_contain_text("not enough posts to train a bot")
    expect(page.locator("#tl-data-table")).to_contain_text("thin_account")
    expect(message(visit, "tl-data-message")).to_have_count(0)  # the action worked: the old error is gone
    visit.shot("thin-data")
    visit.no_horizontal_scroll()
    page.close()


def test_journey_upload_train_generate_post_evaluate_publish(server, browser, artifacts, home, mastodon, hub):
    visit = Visit(browser, server, DESKTOP, artifacts, "journey")
    page = visit.page

    # 1. Data: the sample archive, its table and kept posts; a second upload says it was there.
    visit.upload(SAMPLE_ARCHIVE)
    page.get_by_label("Account name").fill("")
    page.click("#tl-load")
    table = page.locator("#tl-data-table")
    expect(table).to_contain_text("Posts kept", timeout=30_000)
    expect(table).to_contain_text("tweetling_sample")
    expect(page.locator("#tl-samples li")).to_have_count(8)
    visit.shot("data")
    page.click("#tl-load")
    expect(page.locator("#tl-data-notes")).to_contain_text("were already in the store")

    # 2. Train: the dataset is picked, the recipe explained; the loss chart grows while it trains.
    visit.tab("2. Train")
    expect(page.locator("#tl-dataset")).to_contain_text("Ready: tweetling_sample")
    expect(page.locator("#tl-dataset-table")).to_contain_text("Posts kept")
    expect(page.get_by_label("Bot name")).to_have_value("tweetling_sample")
    expect(page.locator("#tl-recipe")).to_contain_text("the fastest")
    page.get_by_label("Epochs").fill("2")
    page.get_by_text("More settings", exact=True).click()
    expect(page.locator("#tl-seed input")).to_have_value("42")  # rendered: a fill before would be lost
    settings = (("#tl-seed input", "7"), ("#tl-minutes input", "10"))
    for field, value in settings:
        visit.fill(page.locator(field), value)
    for field, value in settings:
        expect(page.locator(field)).to_have_value(value)
    page.click("#tl-train")
    status = page.locator("#tl-train-status")
    chart = page.locator("#tl-loss-chart")
    expect(chart).to_have_attribute("data-training", re.compile(r"^[1-9]"), timeout=60_000)
    first = int(chart.get_attribute("data-training"))
    visit.shot("training")
    expect(status).to_have_attribute("data-state", "done", timeout=120_000)
    expect(status.locator(".tl-plan")).to_contain_text(
        re.compile(r"Plan: [\d,]+ posts \([\d,]+ near-duplicates left out\), 2 epochs")
    )
    assert int(chart.get_attribute("data-training")) > first  # it updated live
    assert int(chart.get_attribute("data-validation")) >= 1  # after each epoch, unless it stopped early
    expect(page.locator("#tl-run-link a")).to_have_attribute(
        "href", re.compile(r"^http://127\.0\.0\.1:5000/#/experiments/\d+/runs/\w+$")
    )
    visit.shot("trained")
    trained = json.loads((home / "bots" / "tweetling_sample" / "tweetling.json").read_text())["recipe"]
    assert (trained["seed"], trained["max_time_s"]) == (7, 600)  # "More settings" reached the training

    # Training again under the same name asks first.
    expect(page.locator("#tl-name-note")).to_contain_text("already exists")
    page.click("#tl-train")
    expect(message(visit, "tl-train-message")).to_contain_text("tick “Replace tweetling_sample”")
    expect(status).to_have_attribute("data-state", "done")
    visit.shot("overwrite-asks")

    # Continuing the bot needs posts newer than its dataset: the page says where to get them.
    page.get_by_text("Continue a bot on new posts", exact=True).click()
    page.click("#tl-update")
    expect(message(visit, "tl-update-message")).to_contain_text("no new posts for @tweetling_sample")
    expect(message(visit, "tl-update-message")).to_contain_text("in step 1 first")

    # 3. Generate with huggingtweets' sampling settings; choose which post makes the preview image.
    visit.tab("3. Generate")
    page.get_by_text("Sampling settings").click()
    expect(page.locator("#tl-top-p input[type=number]")).to_have_value("0.95")
    expect(page.locator("#tl-length input[type=number]")).to_have_value("160")
    page.get_by_label("Prompt").fill("My dream is")
    page.locator("#tl-generate").click()
    posts = page.locator("#tl-generated .tl-post")
    expect(posts.first).to_contain_text("My dream is", timeout=30_000)
    expect(page.locator("#tl-generated a").first).to_have_attribute(
        "href", re.compile(r"^https://x\.com/intent/post\?text=My%20dream%20is")
    )
    image = page.locator("#tl-predictions img")
    expect(image).to_be_visible()
    first_image = image.get_attribute("src")
    page.locator("#tl-preview-pick label").nth(1).click()
    expect(image).not_to_have_attribute("src", first_image, timeout=15_000)
    page.click("#tl-save-preview")
    expect(message(visit, "tl-preview-message")).to_contain_text("predictions.png of tweetling_sample now shows")
    visit.shot("generated")

    # 4. Post: draft, approve one, post it to the fake Mastodon.
    visit.tab("4. Post")
    expect(page.locator("#tl-connections")).to_contain_text("mastodon:@bot@botsin.space")
    page.get_by_label("Drafts").fill("4")
    page.click("#tl-draft-more")
    draft = page.locator(".tl-draft[data-status='pending']").first
    expect(draft).to_be_visible(timeout=30_000)
    draft_id = draft.get_attribute("data-draft")
    text = draft.locator("textarea").input_value()
    draft.locator("[data-action='approve']").click()
    approved = page.locator(f"#tl-draft-{draft_id}")
    expect(approved).to_have_attribute("data-status", "approved")
    approved.locator("[data-action='post']").click()
    expect(approved).to_have_attribute("data-status", "posted", timeout=20_000)
    expect(approved.locator("a")).to_have_attribute("href", re.compile(r"^https://botsin\.space/@bot/\d+$"))
    visit.shot("posted")
    assert posted_texts(mastodon) == [text]

    # Answer a mention: the reply waits for approval, then goes out threaded under the mention.
    asked = mastodon.mention("@bot any tips for tomatoes?", author="alice")
    page.click("#tl-answer-mentions")
    expect(message(visit, "tl-post-message")).to_contain_text("1 reply draft to approve", timeout=30_000)
    reply = page.locator(".tl-draft", has=page.locator(".tl-reply-to"))
    expect(reply.locator(".tl-reply-to")).to_contain_text("in reply to @alice: @bot any tips for tomatoes?")
    reply.locator("[data-action='approve']").click()
    expect(reply).to_have_attribute("data-status", "approved")
    reply.locator("[data-action='post']").click()
    expect(reply).to_have_attribute("data-status", "posted", timeout=20_000)
    assert post_requests(mastodon, "mastodon")[-1].form["in_reply_to_id"] == asked["status"]["id"]

    # Connect the account again from the page, with its access token typed in: the token leaves the field.
    page.get_by_text("Connect an account").click()
    page.get_by_label("Account", exact=True).fill("mastodon:@bot@botsin.space")
    secret = page.get_by_label("Access token or app password")
    secret.fill(mastodon.token)
    page.get_by_label("API root (optional)").fill(mastodon.url)
    page.click("#tl-connect")
    expect(message(visit, "tl-connect-message")).to_contain_text("Connected mastodon:@bot@botsin.space")
    expect(secret).to_have_value("")
    visit.shot("connected")
    # …and with a sign-in link instead: its code is traded for a token, and leaves its field too.
    page.click("#tl-sign-in")
    expect(message(visit, "tl-connect-message").locator("a")).to_have_attribute(
        "href", re.compile(rf"^{re.escape(mastodon.url)}/oauth/authorize\?response_type=code&client_id=")
    )
    code = page.get_by_label("Authorization code")
    code.fill(mastodon.code)
    page.click("#tl-connect")
    expect(message(visit, "tl-connect-message")).to_contain_text("Connected mastodon:@bot@botsin.space")
    expect(code).to_have_value("")
    assert mastodon.account["source"]["note"].endswith(
        "posts written by a language model trained on @tweetling_sample's public posts."
    )

    # Keep posting on a schedule: a post went out minutes ago, so the next waits out the interval.
    waiting = page.locator(".tl-draft[data-status='pending']").first
    scheduled_id = waiting.get_attribute("data-draft")
    waiting.locator("[data-action='approve']").click()
    scheduled = page.locator(f"#tl-draft-{scheduled_id}")
    expect(scheduled).to_have_attribute("data-status", "approved")
    page.get_by_text("Keep posting on a schedule").click()
    expect(page.locator("#tl-run-every textarea")).to_have_value("3h")  # rendered before it is filled
    visit.fill(page.locator("#tl-run-every textarea"), "2h")
    page.click("#tl-run-start")
    run = page.locator(".tl-autopilot-run[data-target='mastodon:@bot@botsin.space']")
    expect(run).to_have_attribute("data-state", "running")
    expect(run).to_contain_text("every 2 h ± 30 min · approved drafts only · not answering mentions · 0 posted")
    expect(run).to_contain_text(re.compile(r"next post \d{4}-\d\d-\d\d \d\d:\d\d"))
    page.click("#tl-run-start")
    expect(message(visit, "tl-run-message")).to_contain_text("is already posting to mastodon:@bot@botsin.space")
    visit.shot("keep-posting")
    expect(scheduled).to_have_attribute("data-status", "approved")
    page.click("#tl-run-stop")
    expect(run).to_have_attribute("data-state", "stopped", timeout=10_000)
    expect(run).to_contain_text("stopped: approved drafts stay queued")

    # The bots: a card opens the bot's page; evaluate, download, publish.
    visit.tab("Bots")
    page.locator("#tl-gallery .tl-card[data-bot='tweetling_sample']").click()
    expect(page.locator("#tl-bot-facts")).to_contain_text("Sample Sprout (fictional)")
    page.click("#tl-evaluate")
    expect(page.locator("#tl-eval-table")).to_contain_text("Perplexity on held-out posts", timeout=60_000)
    expect(page.locator("#tl-eval-table")).to_contain_text("Distinct word pairs")
    expect(page.locator("#tl-download-kind")).to_contain_text(re.compile(r"zipped, about [\d.]+ [KM]B"))
    page.click("#tl-pack")
    expect(page.locator("#tl-download-file")).to_contain_text("Download tweetling_sample.zip", timeout=30_000)
    page.get_by_role("radio", name=re.compile(r"^One GGUF file")).check()
    page.click("#tl-pack")
    expect(page.locator("#tl-download-file")).to_contain_text("tweetling_sample-q8_0.zip", timeout=60_000)
    page.get_by_label("Hugging Face token").fill(HF_TOKEN)
    page.get_by_label("Repository", exact=True).fill("me/sample-bot")
    page.click("#tl-publish")
    expect(message(visit, "tl-publish-message").locator("a")).to_have_attribute(
        "href", re.compile(r"/me/sample-bot$"), timeout=60_000
    )
    expect(page.get_by_label("Hugging Face token")).to_have_value("")  # not kept in the page
    assert hub.created[-1]["repo_id"] == "me/sample-bot" and f"Bearer {HF_TOKEN}" in hub.auth
    visit.shot("bot-page")
    assert HF_TOKEN not in page.content()

    # Step 2 lists the tracked runs, and searches for a better recipe: one LoRA trial here.
    visit.tab("2. Train")
    page.get_by_text("Tracked runs", exact=True).click()
    page.click("#tl-show-runs")
    expect(page.locator("#tl-runs a").first).to_have_attribute(
        "href", re.compile(r"^http://127\.0\.0\.1:5000/#/experiments/\d+/runs/\w+$")
    )
    expect(page.locator("#tl-runs")).to_contain_text("tweetling_sample")
    page.get_by_text("Search for a better recipe", exact=True).click()
    expect(page.get_by_label("Trials")).to_have_value("10")  # rendered before it is filled
    visit.fill(page.get_by_label("Trials"), "1")
    page.get_by_label("LoRA only").check()
    page.click("#tl-sweep")
    expect(status).to_have_attribute("data-state", "done", timeout=120_000)
    expect(status).to_contain_text("Done: tweetling_sample-sweep")
    expect(page.locator("#tl-sweep-trials tr")).to_have_count(2)
    expect(page.locator("#tl-sweep-trials")).to_contain_text("lora")
    visit.shot("searched")
    shutil.rmtree(home / "bots" / "tweetling_sample-sweep")  # the later tests expect one bot
    local = {urlparse(server).netloc}
    assert visit.hosts == local  # no fonts, analytics or avatars from elsewhere
    page.close()


def test_phone_layout_shows_every_step_without_cutting_names(server, browser, artifacts):
    visit = Visit(browser, server, PHONE, artifacts, "phone")
    page = visit.page
    tabs = ["1. Data", "2. Train", "3. Generate", "4. Post", "Bots"]
    for name in tabs:  # every step's tab is in sight, none hidden behind a "more" menu
        expect(page.get_by_role("tab", name=name)).to_be_visible()
    for name in tabs:
        visit.tab(name)
        page.wait_for_timeout(300)
        visit.no_horizontal_scroll()
        visit.shot(name.split()[-1].lower())
    visit.tab("3. Generate")
    picker = page.locator("#tl-bot input")
    expect(picker).to_have_value("tweetling_sample")
    assert picker.evaluate("input => input.scrollWidth <= input.clientWidth")  # the name is not cut
    page.close()


def test_delete_a_bot_from_its_page(server, browser, artifacts, home):
    visit = Visit(browser, server, DESKTOP, artifacts, "delete")
    page = visit.page
    visit.tab("Bots")
    page.locator("#tl-gallery .tl-card[data-bot='tweetling_sample']").click()
    expect(page.locator("#tl-page-bot input")).to_have_value("tweetling_sample")  # the page has opened the bot
    page.click("#tl-delete")
    page.click("#tl-delete-confirm")
    expect(message(visit, "tl-delete-message")).to_contain_text("Deleted tweetling_sample")
    expect(page.locator("#tl-gallery")).to_contain_text("No bots yet")
    # The emptied page says so, without an error, and the delete's note stays.
    expect(page.locator("#tl-facts")).to_contain_text("No bot chosen")
    expect(message(visit, "tl-page-message")).to_have_count(0)
    expect(message(visit, "tl-delete-message")).to_contain_text("Deleted tweetling_sample")
    assert not (home / "bots" / "tweetling_sample").exists()
    visit.shot("deleted")
    page.close()


def test_forget_an_account_from_the_data_step(server, browser, artifacts, home):
    visit = Visit(browser, server, DESKTOP, artifacts, "forget")
    page = visit.page
    page.get_by_text("Forget an account", exact=True).click()
    page.click("#tl-forget")
    expect(message(visit, "tl-forget-message")).to_contain_text("choose the account to forget")
    page.locator("#tl-forget-pick input").click()
    page.get_by_role("option", name="tweetling_sample").click()
    page.click("#tl-forget")
    page.click("#tl-forget-confirm")
    note = page.locator("#tl-forget-message .tl-notes")
    expect(note).to_contain_text(re.compile(r"tweetling_sample: [\d,]+ posts removed from the store, [1-9]"))
    expect(page.locator("#tl-forget-confirm")).to_be_hidden()
    expect(message(visit, "tl-forget-message")).to_have_count(0)  # the error went with the success
    visit.tab("2. Train")
    expect(page.locator("#tl-dataset")).not_to_contain_text("tweetling_sample")
    assert not any((home / "datasets").glob("tweetling_sample*"))
    visit.shot("forgotten")
    page.close()
