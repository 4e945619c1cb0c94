"""Fetch orchestration and the shared HTTP client: retries, rate limits, resuming, the CLI."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import httpx
import pytest
from click.testing import CliRunner
from werkzeug import Response

from http_payloads import (
    FakeBluesky,
    FakeMastodon,
    FakeXApi,
    bluesky_item,
    bluesky_post,
    json_response,
    mastodon_status,
    x_tweet,
)
from tweetling.cli import cli
from tweetling.errors import SourceError, TweetlingError
from tweetling.fetch import FetchOptions, fetch, parse_target
from tweetling.sources.http import HttpClient, RetryPolicy, rate_limit_wait
from tweetling.store import Store

TARGET = "mastodon:@alice@social.example"
ACCOUNT = "alice@social.example"


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "t.db") as store:
        yield store


class Clock:
    """Stands in for time.sleep and on_wait: records every pause instead of taking it."""

    def __init__(self):
        self.slept: list[float] = []
        self.waits: list[tuple[float, str]] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def on_wait(self, seconds: float, reason: str) -> None:
        self.waits.append((seconds, reason))


def client(httpserver, clock: Clock, **policy) -> HttpClient:
    return HttpClient(httpserver.url_for("/"), policy=RetryPolicy(**policy), on_wait=clock.on_wait, sleep=clock.sleep)


@pytest.mark.parametrize(
    "target, expected",
    [
        ("mastodon:@alice@social.example", ("mastodon", "@alice@social.example")),
        ("Bluesky: alice.bsky.social", ("bluesky", "alice.bsky.social")),
        ("x:jack", ("x", "jack")),
    ],
)
def test_parse_target(target, expected):
    assert parse_target(target) == expected


@pytest.mark.parametrize("target", ["alice", "myspace:tom", "x:", "x:../../etc"])
def test_parse_target_rejects(target, store):
    with pytest.raises(TweetlingError, match="invalid"):
        fetch(store, target)


def test_account_option_overrides_and_is_checked(httpserver, store):
    FakeMastodon(httpserver, [mastodon_status(1)])
    result = fetch(store, TARGET, FetchOptions(base_url=httpserver.url_for("/"), account="alice"))
    assert result.account == "alice" and store.count_posts("alice") == 1
    with pytest.raises(TweetlingError, match="invalid account name"):
        fetch(store, TARGET, FetchOptions(base_url=httpserver.url_for("/"), account="../evil"))


def test_retry_after_seconds_is_reported_and_honoured(httpserver):
    clock = Clock()
    httpserver.expect_ordered_request("/v").respond_with_response(Response("slow down", 429, {"Retry-After": "7"}))
    httpserver.expect_ordered_request("/v").respond_with_json({"ok": True})
    with client(httpserver, clock) as http:
        assert http.get_json("/v").data == {"ok": True}
    assert clock.slept == [7.0]
    assert clock.waits == [(7.0, f"rate limited by {httpx.URL(httpserver.url_for('/')).host}")]


def test_retry_after_http_date():
    moment = datetime(2030, 1, 1, 0, 1, 30, tzinfo=timezone.utc)
    now = datetime(2030, 1, 1, 0, 0, 0, tzinfo=timezone.utc).timestamp()
    headers = httpx.Headers({"Retry-After": format_datetime(moment, usegmt=True)})
    assert rate_limit_wait(headers, now=now) == 90.0
    assert rate_limit_wait(httpx.Headers({"ratelimit-reset": str(int(now) + 30)}), now=now) == 30.0
    assert rate_limit_wait(httpx.Headers({"x-ratelimit-reset": "2030-01-01T00:00:45.000Z"}), now=now) == 45.0
    assert rate_limit_wait(httpx.Headers({}), now=now) is None


def test_too_long_rate_limit_is_an_error_not_a_hang(httpserver):
    clock = Clock()
    httpserver.expect_request("/v").respond_with_response(Response("", 429, {"Retry-After": "7200"}))
    with client(httpserver, clock) as http, pytest.raises(SourceError, match="asked to wait 7200 s"):
        http.get_json("/v")
    assert clock.slept == []


def test_server_error_then_success_backs_off(httpserver):
    clock = Clock()
    httpserver.expect_ordered_request("/v").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/v").respond_with_data("oops", status=503)
    httpserver.expect_ordered_request("/v").respond_with_json([1, 2])
    with client(httpserver, clock, backoff=1.5) as http:
        assert http.get_json("/v").data == [1, 2]
    assert clock.slept == [1.5, 3.0]
    assert "HTTP 500" in clock.waits[0][1] and "retry 1 of 4" in clock.waits[0][1]


def test_retries_run_out_with_a_resume_hint(httpserver):
    clock = Clock()
    httpserver.expect_request("/v").respond_with_data("oops", status=502)
    with (
        client(httpserver, clock, retries=2) as http,
        pytest.raises(SourceError, match="HTTP 502.*run the same command"),
    ):
        http.get_json("/v")
    assert len(clock.slept) == 2


def test_unreachable_host():
    clock = Clock()
    with (
        HttpClient(
            "http://127.0.0.1:9", policy=RetryPolicy(retries=1), on_wait=clock.on_wait, sleep=clock.sleep
        ) as http,
        pytest.raises(SourceError, match=r"cannot reach 127.0.0.1 \(ConnectError"),
    ):
        http.get_json("/v")
    assert len(clock.slept) == 1


def test_malformed_json_is_a_clear_error(httpserver, store):
    server = FakeMastodon(httpserver, [mastodon_status(1)])
    server.queued.append(Response('[{"id": "1", "content": ', 200, content_type="application/json"))
    with pytest.raises(SourceError, match="statuses is not valid JSON"):
        fetch(store, TARGET, FetchOptions(base_url=httpserver.url_for("/")))
    assert store.count_posts(ACCOUNT) == 0


def test_interrupted_run_resumes_without_refetching(httpserver, store):
    server = FakeMastodon(httpserver, [mastodon_status(i) for i in range(1, 101)])  # pages of 40, 40, 20
    server.broken_cursor = "21"  # the third page keeps failing
    clock = Clock()
    opts = FetchOptions(base_url=httpserver.url_for("/"), retry=RetryPolicy(retries=2))

    with pytest.raises(SourceError, match="HTTP 500"):
        fetch(store, TARGET, opts, on_wait=clock.on_wait, sleep=clock.sleep)

    assert store.count_posts(ACCOUNT) == 80  # the two committed pages are kept
    walk = store.get_state(f"fetch:mastodon:{ACCOUNT}")
    assert (walk["cursor"], walk["floor"]) == ("21", None) and walk["check"]  # a first walk is a full one
    assert store.account(ACCOUNT).display_name == "Alice 🌻"
    server.broken_cursor = None
    server.requests.clear()

    resumed = fetch(store, TARGET, opts, sleep=clock.sleep)

    assert (resumed.added, resumed.complete) == (20, True)
    assert [q.get("max_id") for q in server.queries("/statuses")] == ["21", "1"]
    assert sorted(int(p.post_id) for p in store.posts(ACCOUNT)) == list(range(1, 101))
    assert store.get_state(f"fetch:mastodon:{ACCOUNT}") is None


def test_ctrl_c_keeps_committed_pages_and_resumes_the_walk(httpserver, store):
    server = FakeBluesky(httpserver, [bluesky_item(bluesky_post(i)) for i in range(1, 251)])
    cursor_of_page_3 = server.items[199]["post"]["indexedAt"]
    server.broken_cursor = cursor_of_page_3

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch(store, "bluesky:alice.bsky.social", FetchOptions(base_url=httpserver.url_for("/")), sleep=interrupt)
    assert store.count_posts("alice.bsky.social") == 200

    server.broken_cursor = None
    server.requests.clear()
    resumed = fetch(store, "bluesky:alice.bsky.social", FetchOptions(base_url=httpserver.url_for("/")))
    assert (resumed.added, resumed.complete) == (50, True)
    assert server.queries("getAuthorFeed")[0]["cursor"] == cursor_of_page_3
    assert store.count_posts("alice.bsky.social") == 250


def test_progress_reports_posts_and_the_expected_total(httpserver, store):
    FakeMastodon(httpserver, [mastodon_status(i) for i in range(1, 51)])
    seen = []
    fetch(store, TARGET, FetchOptions(base_url=httpserver.url_for("/")), on_progress=lambda n, t: seen.append((n, t)))
    assert seen == [(40, 50), (50, 50), (50, 50)]


def test_cli_fetch(httpserver, tweetling_home):
    FakeBluesky(httpserver, [bluesky_item(bluesky_post(i)) for i in range(1, 6)])
    runner = CliRunner()

    result = runner.invoke(cli, ["fetch", "bluesky:alice.bsky.social", "--base-url", httpserver.url_for("/")])

    assert result.exit_code == 0, result.output
    assert "alice.bsky.social" in result.output and "5 new posts" in result.output
    with Store() as store:
        assert store.count_posts("alice.bsky.social") == 5

    partial = runner.invoke(cli, ["fetch", "bluesky:bob.bsky.social", "--base-url", httpserver.url_for("/")])
    assert partial.exit_code == 1
    assert "error: bluesky: no account bob.bsky.social" in partial.output


def test_cli_max_posts_says_to_run_again(httpserver, tweetling_home):
    FakeMastodon(httpserver, [mastodon_status(i) for i in range(1, 11)])
    result = CliRunner().invoke(cli, ["fetch", TARGET, "--max-posts", "4", "--base-url", httpserver.url_for("/")])
    assert result.exit_code == 0, result.output
    assert "4 new posts" in result.output and "run the same command to continue" in result.output


def test_cli_never_prints_the_token(httpserver, tweetling_home, monkeypatch):
    secret = "AAAAsecret-cli-0123456789"
    monkeypatch.setenv("X_BEARER_TOKEN", secret)
    FakeXApi(httpserver, [x_tweet(1)], token="another-token")
    result = CliRunner().invoke(cli, ["fetch", "x:alice", "--base-url", httpserver.url_for("/2")])
    assert result.exit_code == 1
    assert "rejected the bearer token" in result.output and secret not in result.output

    monkeypatch.delenv("X_BEARER_TOKEN")
    missing = CliRunner().invoke(cli, ["fetch", "x:alice", "--base-url", httpserver.url_for("/2")])
    assert missing.exit_code == 1 and "X_BEARER_TOKEN" in missing.output


def test_error_body_from_a_4xx_is_parsed(httpserver, store):
    httpserver.expect_request("/api/v1/accounts/lookup").respond_with_response(
        json_response({"error": "Too many redirects"}, 418)
    )
    with pytest.raises(SourceError, match="HTTP 418 .*Too many redirects"):
        fetch(store, TARGET, FetchOptions(base_url=httpserver.url_for("/")))


def test_cli_malformed_target_is_one_line_and_creates_nothing(tweetling_home):
    result = CliRunner().invoke(cli, ["fetch", "myspace:tom"])
    assert result.exit_code == 1 and "invalid source 'myspace:tom'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not tweetling_home.exists()  # no store was created for a command that could not run
