"""The web app end to end in headless Chromium: upload the sample archive, train the tiny model,
generate, download; the page loads nothing from outside the local server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import SAMPLE_ARCHIVE

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

pytest.importorskip("gradio")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"),
    pytest.mark.skipif(not SAMPLE_ARCHIVE.exists(), reason="examples/sample-archive.zip is absent"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tweetling_home, tiny_model, tmp_path):
    """`tweetling serve` in a subprocess, on a free local port, training the tiny model."""
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    command = [
        sys.executable,
        "-c",
        "from tweetling.cli import main; main()",
        "serve",
        "--port",
        str(port),
        "--base-model",
        str(tiny_model),
        "--track",
        "none",
    ]
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "TWEETLING_HOME": str(tweetling_home)}
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        assert time.monotonic() < deadline, "the server did not start within 60 s"
        try:
            urllib.request.urlopen(url, timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(10)
    log.close()


def test_upload_train_generate_in_the_browser(server, tmp_path):
    expect = sync_api.expect
    hosts: set[str] = set()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
        page.goto(server)

        # 1. Data: upload the archive, see the data table and kept posts.
        page.set_input_files("#tl-upload input[type=file]", str(SAMPLE_ARCHIVE))
        page.click("#tl-load")
        table = page.locator("#tl-data-table")
        expect(table).to_contain_text("Posts kept", timeout=30_000)
        expect(table).to_contain_text("tweetling_sample")
        expect(page.locator("#tl-samples li")).to_have_count(8)

        # 2. Train: the tiny model, with live progress until done.
        page.get_by_role("tab", name="2. Train").click()
        expect(page.locator("#tl-dataset")).to_contain_text("Ready")
        expect(page.get_by_label("Bot name")).to_have_value("tweetling_sample")
        page.click("#tl-train")
        status = page.locator("#tl-train-status")
        expect(status).to_have_attribute("data-state", "done", timeout=60_000)
        expect(status).to_contain_text("loss")

        # 3. Generate: posts that start with the prompt, share links, the predictions image.
        page.get_by_role("tab", name="3. Generate").click()
        expect(page.locator("#tl-gallery")).to_contain_text("Sample Sprout (fictional)")
        page.get_by_label("Prompt").fill("My dream is")
        page.click("#tl-generate")
        posts = page.locator("#tl-generated .tl-post")
        expect(posts.first).to_contain_text("My dream is", timeout=30_000)
        expect(page.locator("#tl-generated a").first).to_have_attribute(
            "href", re.compile(r"^https://x\.com/intent/post\?text=My%20dream%20is")
        )
        expect(page.locator("#tl-predictions img")).to_be_visible()
        page.click("#tl-download")
        expect(page.locator("#tl-download-file a")).to_have_attribute(
            "href", re.compile(r"/tweetling_sample\.zip$"), timeout=20_000
        )
        page.screenshot(path=str(tmp_path / "generate.png"), full_page=True)
        browser.close()

    assert (tmp_path / "generate.png").stat().st_size > 10_000
    assert hosts == {urlparse(server).netloc}  # no fonts, analytics or avatars from elsewhere
