"""Crash injection: a real `tweetling post` process is killed (SIGKILL) while its post is at the
service, before it can record the reply; restarted, it posts every approved draft exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from live_fakes import TARGETS, connect_fake, posted_texts, start_fake
from tweetling.live import Queue
from tweetling.store import Store

SRC = Path(__file__).resolve().parents[1] / "src"
DRAFTS = ["the first approved draft", "the second approved draft"]


class KillSwitch:
    """Holds the server's handling of one post until the test has killed the client."""

    def __init__(self, moment: str, drop: bool):
        self.moment, self.drop = moment, drop
        self.armed = True
        self.arrived = threading.Event()
        self.killed = threading.Event()

    def __call__(self, moment: str) -> str | None:
        if not self.armed or moment != self.moment:
            return None
        self.armed = False
        self.arrived.set()
        self.killed.wait(timeout=60)
        return "drop" if self.drop else None


def tweetling(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "TWEETLING_HOME": str(home), "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-m", "tweetling", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize(
    ("service", "fake_args"),
    [("mastodon", {}), ("bluesky", {}), ("x", {}), ("x", {"readable": False})],
    ids=["mastodon", "bluesky", "x", "x-write-only"],
)
@pytest.mark.parametrize(
    ("moment", "drop"),
    [("after", False), ("before", True)],
    ids=["stored-reply-lost", "request-lost"],
)
def test_killed_between_send_and_record_posts_each_draft_once(
    httpserver, tweetling_home, monkeypatch, service, fake_args, moment, drop
):
    fake = start_fake(service, httpserver, **fake_args)
    with Store() as store:
        connect_fake(store, service, fake, monkeypatch)
        queue = Queue(store)
        for draft in queue.add("jack", DRAFTS):
            queue.approve(draft.id)
    (tweetling_home / "bots" / "jack").mkdir(parents=True)
    (tweetling_home / "bots" / "jack" / "config.json").write_text("{}")  # posting never loads the model
    switch = KillSwitch(moment, drop)
    fake.on_write = switch
    target = TARGETS[service]

    process = tweetling(tweetling_home, "post", "jack", "--to", target)
    while process.poll() is None and not switch.arrived.wait(0.05):
        pass
    assert switch.arrived.is_set(), process.communicate()
    process.kill()  # SIGKILL: no cleanup, no chance to record anything
    process.wait()
    switch.killed.set()

    with Store() as store:
        (interrupted, waiting) = Queue(store).drafts("jack")
        assert interrupted.status == "approved" and interrupted.intent is not None
        assert waiting.intent is None
    outputs = []
    for _ in range(3):  # restarts until the queue is empty
        out, err = tweetling(tweetling_home, "post", "jack", "--to", target).communicate(timeout=120)
        assert not err.strip() or "error" not in err, err
        outputs.append(out)
    assert "finishing an interrupted send" in outputs[0]
    assert "no approved drafts" in outputs[2]
    assert posted_texts(fake) == DRAFTS  # each once, in order
    with Store() as store:
        drafts = Queue(store).drafts("jack")
    assert [d.status for d in drafts] == ["posted", "posted"]
