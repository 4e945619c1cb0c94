"""`tweetling run`: the schedule with jitter, restarts that do not post at once, auto-approve,
replies, network faults, and the CLI of post and run."""

from __future__ import annotations

import contextlib
import itertools
import random
import sqlite3
import time

import pytest
from click.testing import CliRunner

from http_payloads import json_response
from live_fakes import TARGETS, connect_fake, posted_texts, start_fake
from tweetling import Bot
from tweetling.cli import cli
from tweetling.errors import TweetlingError
from tweetling.generate import GenerateConfig
from tweetling.live import Blocklist, Queue, ReplyPolicy, RunConfig, Runner, publish
from tweetling.live import runner as runner_module
from tweetling.live.service import ClientOptions
from tweetling.store import Store

HOUR = 3600.0


class Clock:
    def __init__(self):
        self.now = time.time()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def store(tweetling_home):
    with Store() as store:
        yield store


def connected(service, httpserver, store, monkeypatch):
    fake = start_fake(service, httpserver)
    connect_fake(store, service, fake, monkeypatch)
    return fake


def approve(store, *texts):
    queue = Queue(store)
    return [queue.approve(d.id) for d in queue.add("jack", list(texts))]


def runner(store, config, clock, load_bot=None, events=None):
    return Runner(
        store,
        "jack",
        TARGETS["mastodon"],
        config,
        load_bot=load_bot or (lambda: pytest.fail("the model is not needed")),
        blocklist=Blocklist(),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(7),
        on_event=(events if events is not None else []).append,
    )


def test_posts_on_schedule_with_jitter(httpserver, store, monkeypatch):
    fake = connected("mastodon", httpserver, store, monkeypatch)
    approve(store, "one", "two", "three")
    clock = Clock()
    start = clock.now
    moments = []
    fake.on_write = lambda moment: moment == "after" and moments.append(clock.now)

    runner(store, RunConfig(every_s=3 * HOUR, jitter_s=0.5 * HOUR, max_posts=3), clock).run()

    assert posted_texts(fake) == ["one", "two", "three"]
    assert moments[0] == start  # nothing posted before: the first goes at once
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert all(2.5 * HOUR <= gap <= 3.5 * HOUR for gap in gaps) and gaps[0] != gaps[1]


def test_a_restart_waits_out_the_interval(httpserver, store, monkeypatch):
    fake = connected("mastodon", httpserver, store, monkeypatch)
    approve(store, "one", "two")
    clock = Clock()
    runner(store, RunConfig(every_s=3 * HOUR, jitter_s=600, max_posts=1), clock).run()

    restarted = runner(store, RunConfig(every_s=3 * HOUR, jitter_s=600), Clock())
    wait = restarted.step()

    assert posted_texts(fake) == ["one"]  # no second post right after the restart
    assert 3 * HOUR - 600 - 60 <= wait <= 3 * HOUR + 600


def test_network_faults_keep_the_draft_and_are_retried(httpserver, store, monkeypatch):
    fake = connected("mastodon", httpserver, store, monkeypatch)
    (draft,) = approve(store, "persistent")
    for _ in range(5):
        fake.inject("/api/v1/statuses", json_response({"error": "down"}, 503))
    events: list[str] = []
    clock = Clock()
    run = runner(store, RunConfig(every_s=HOUR, jitter_s=0, poll_s=60), clock, events=events)
    run.service.client._sleep = lambda s: None  # retries of the client itself: no real waiting

    assert run.step() == 60
    assert "HTTP 503" in events[-1] and "trying again in 60 s" in events[-1]
    assert Queue(store).get(draft.id).status == "approved"
    fake.injected.clear()
    run.step()
    assert posted_texts(fake) == ["persistent"]


def test_nothing_approved_waits_for_approval(httpserver, store, monkeypatch):
    connected("mastodon", httpserver, store, monkeypatch)
    Queue(store).add("jack", ["pending only"])
    events: list[str] = []
    assert runner(store, RunConfig(poll_s=90, jitter_s=0), Clock(), events=events).step() == 90
    assert "no approved drafts" in events[-1]


def test_auto_approve_writes_drafts_with_the_tiny_bot(httpserver, store, monkeypatch, tiny_bot):
    fake = connected("mastodon", httpserver, store, monkeypatch)
    bot = Bot.load(tiny_bot)
    real = bot.sample
    monkeypatch.setattr(
        bot, "sample", lambda p, n, seed=None, config=None: real(p, n, 0, GenerateConfig(max_length=40))
    )
    events: list[str] = []

    runner(store, RunConfig(auto_approve=True, batch=4, max_posts=1, jitter_s=0), Clock(), lambda: bot, events).run()

    assert len(posted_texts(fake)) == 1
    assert any(e.startswith("auto-approved") for e in events)
    posted = Queue(store).drafts("jack", ("posted",))
    assert posted[0].text == posted_texts(fake)[0]


def test_replies_are_written_and_posted_within_the_hourly_limit(httpserver, store, monkeypatch, tiny_bot):
    fake = connected("mastodon", httpserver, store, monkeypatch)
    for name in ("a1", "a2", "a3"):
        fake.mention("@bot hello", author=name)
    bot = Bot.load(tiny_bot)
    real = bot.sample
    monkeypatch.setattr(
        bot, "sample", lambda p, n, seed=None, config=None: real(p, n, 0, GenerateConfig(max_length=40))
    )
    policy = ReplyPolicy(max_per_hour=2, candidates=2)
    config = RunConfig(reply=True, auto_approve=True, replies=policy, jitter_s=0)
    run = runner(store, config, Clock(), lambda: bot)
    monkeypatch.setattr(run, "_post", lambda: "not this time")  # only replies in this test

    run.step()
    run.step()

    replies = [r.form for r in fake.sent("/api/v1/statuses", "POST")]
    assert len(replies) == 2 and all(r["in_reply_to_id"] for r in replies)


def test_run_config_is_checked():
    with pytest.raises(TweetlingError, match="jitter"):
        RunConfig(every_s=HOUR, jitter_s=HOUR)
    with pytest.raises(TweetlingError, match="at most once every 10 minutes, not every 3 s"):
        RunConfig(every_s=3, jitter_s=0)


def test_cli_post_and_dry_runs(httpserver, tiny_bot, tweetling_home, monkeypatch):
    with Store() as store:
        fake = connected("mastodon", httpserver, store, monkeypatch)
        approve(store, "hello @alice from the queue")
    cli_runner = CliRunner()
    target = TARGETS["mastodon"]

    dry = cli_runner.invoke(cli, ["post", "jack", "--to", target, "--dry-run"])
    assert "would post draft 1" in dry.output and "hello alice from the queue" in dry.output
    plan = cli_runner.invoke(cli, ["run", "jack", "--to", target, "--every", "2h", "--dry-run"])
    assert "draft 1: hello @alice from the queue" in plan.output and "(± 30 min)" in plan.output
    assert posted_texts(fake) == []

    posted = cli_runner.invoke(cli, ["post", "jack", "--to", target, "--visibility", "public"])
    assert posted.exit_code == 0, posted.output
    assert "posted draft 1 → https://botsin.space/@bot/" in posted.output
    assert fake.sent("/api/v1/statuses", "POST")[0].form["visibility"] == "public"
    empty = cli_runner.invoke(cli, ["post", "jack", "--to", target])
    assert "no approved drafts" in empty.output


def test_cli_run_stops_after_max_posts(httpserver, tiny_bot, tweetling_home, monkeypatch):
    monkeypatch.setattr(runner_module, "MIN_EVERY_S", 0)  # two posts a second apart: the test's own clock
    with Store() as store:
        fake = connected("bluesky", httpserver, store, monkeypatch)
        approve(store, "first", "second")
    result = CliRunner().invoke(
        cli, ["run", "jack", "--to", TARGETS["bluesky"], "--every", "1s", "--jitter", "0s", "--max-posts", "2"]
    )
    assert result.exit_code == 0, result.output
    assert posted_texts(fake) == ["first", "second"]
    assert result.output.count("posted draft") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "soon"], "invalid duration 'soon'"),
        (["--every", "3"], "a bot posts at most once every 10 minutes, not every 3 s"),
        (["--every", "1h", "--jitter", "2h"], "the jitter must be at least 0 and shorter than the interval"),
        (["--to", "x:nobody"], "x:nobody is not connected"),
    ],
)
def test_cli_run_bad_options(tiny_bot, tweetling_home, args, message):
    full = ["run", "jack", *(["--to", "mastodon:@bot@botsin.space"] if "--to" not in args else []), *args]
    result = CliRunner().invoke(cli, full)
    assert result.exit_code != 0 and message in result.output


def test_write_only_x_keys_post_on_without_replies(httpserver, store, monkeypatch, tiny_bot):
    fake = start_fake("x", httpserver, readable=False)  # X's free tier: posting, but no reading
    connect_fake(store, "x", fake, monkeypatch)
    approve(store, "one", "two")
    events: list[str] = []
    clock = Clock()
    run = Runner(
        store,
        "jack",
        "x:botname",
        RunConfig(every_s=HOUR, jitter_s=0, reply=True, max_posts=2),
        load_bot=lambda: Bot.load(tiny_bot),
        blocklist=Blocklist(),
        clock=clock,
        sleep=clock.sleep,
        on_event=events.append,
    )

    run.run()

    assert posted_texts(fake) == ["one", "two"]
    refusals = [e for e in events if "may not read mentions" in e]
    assert len(refusals) == 1 and "HTTP 403" in refusals[0] and refusals[0].endswith("in this run")
    assert len(fake.sent("/mentions")) == 1  # not asked again

    plan = CliRunner().invoke(cli, ["run", "jack", "--to", "x:botname", "--reply", "--dry-run"])
    assert plan.exit_code == 0, plan.output
    assert "may not read mentions" in plan.output and "would post without replies" in plan.output


@pytest.mark.parametrize("fault", ["locks-folder-is-a-file", "lock-held", "store-full"])
def test_a_failing_step_is_one_line_and_the_next_step_posts(httpserver, store, monkeypatch, tweetling_home, fault):
    """Not only the network: the disk, the store or another process may fail one step."""
    fake = connected("mastodon", httpserver, store, monkeypatch)
    approve(store, "after the fault")
    events: list[str] = []
    run = runner(store, RunConfig(every_s=HOUR, jitter_s=0, poll_s=60), Clock(), events=events)
    with contextlib.ExitStack() as faults:
        if fault == "lock-held":
            faults.enter_context(publish._lock("jack", TARGETS["mastodon"]))
        elif fault == "store-full":
            full = sqlite3.OperationalError("database or disk is full")
            faults.enter_context(monkeypatch.context()).setattr(Queue, "next_to_send", _raises(full))
        else:
            (tweetling_home / "locks").write_text("not a folder")
            faults.callback((tweetling_home / "locks").unlink)

        assert run.step() == 60

    assert "trying again in 60 s" in events[-1] and "\n" not in events[-1] and posted_texts(fake) == []
    run.step()
    assert posted_texts(fake) == ["after the fault"]


def _raises(error):
    def fail(*args, **kwargs):
        raise error

    return fail


def test_a_refused_draft_is_said_and_the_next_goes_at_the_next_step(httpserver, store, monkeypatch):
    fake = connected("mastodon", httpserver, store, monkeypatch)
    refused, kept = approve(store, "refused", "kept")
    fake.inject("/api/v1/statuses", json_response({"error": "Validation failed: Text is invalid"}, 422))
    events: list[str] = []
    run = runner(store, RunConfig(every_s=HOUR, jitter_s=0, poll_s=60), Clock(), events=events)

    assert run.step() == 60

    assert f"draft {refused.id} not posted, rejected: " in events[-1] and "Text is invalid" in events[-1]
    assert Queue(store).get(kept.id).status == "approved" and run.posted == 0
    run.step()
    assert posted_texts(fake) == ["kept"] and run.posted == 1


@pytest.mark.parametrize(
    ("retry_after", "waited", "sleeper"), [("950", [], "client"), ("30", [30.0], "client"), ("30", [30.0], "runner")]
)
def test_long_rate_limit_waits_end_the_step_and_are_said(httpserver, store, monkeypatch, retry_after, waited, sleeper):
    fake = connected("mastodon", httpserver, store, monkeypatch)
    approve(store, "patient")
    fake.inject("/api/v1/statuses", json_response({"error": "Too many requests"}, 429, {"Retry-After": retry_after}))
    events: list[str] = []
    slept: list[float] = []
    # The runner's own sleep is the web app's pause, which its Stop ends at once.
    sleep = {"client": ClientOptions(sleep=slept.append)} if sleeper == "client" else {"sleep": slept.append}
    run = Runner(
        store,
        "jack",
        TARGETS["mastodon"],
        RunConfig(every_s=HOUR, jitter_s=0, poll_s=60),
        load_bot=lambda: pytest.fail("the model is not needed"),
        blocklist=Blocklist(),
        clock=Clock(),
        on_event=events.append,
        **sleep,
    )

    run.step()

    assert slept == waited and any(f"waiting {retry_after} s" in e or "asked to wait" in e for e in events)
    if not waited:  # past the cap: said, and tried again at the next step
        assert "asked to wait 950 s" in events[-1] and "trying again in 60 s" in events[-1]
        run.step()
    assert posted_texts(fake) == ["patient"]
