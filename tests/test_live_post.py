"""Posting approved drafts to the fake services: the exact requests, exactly once, through
network errors, lost replies, refusals, expired sessions and rate limits."""

from __future__ import annotations

import logging
import re
import time

import pytest

from http_payloads import json_response
from live_fakes import (
    POST_PATHS,
    TARGETS,
    Answers,
    FakeX,
    connect_fake,
    post_requests,
    posted_texts,
    secrets_of,
    start_fake,
)
from tweetling.errors import SourceError, TweetlingError
from tweetling.live import (
    Blocklist,
    ConnectOptions,
    PostOptions,
    Queue,
    connect,
    credentials,
    get_connection,
    post_draft,
    post_next,
)
from tweetling.live.service import ClientOptions, open_service
from tweetling.sources.http import RetryPolicy
from tweetling.store import Store

SERVICES = ["mastodon", "bluesky", "x"]
NO_WAIT = ClientOptions(retry=RetryPolicy(timeout=0.5, retries=1, backoff=0.0), sleep=lambda s: None)


@pytest.fixture
def store(tweetling_home):
    with Store() as store:
        yield store


def connected(service, httpserver, store, monkeypatch, **fake_args):
    fake = start_fake(service, httpserver, **fake_args)
    connect_fake(store, service, fake, monkeypatch)
    return fake, TARGETS[service]


def approve(store, *texts, bot="jack"):
    queue = Queue(store)
    return [queue.approve(draft.id) for draft in queue.add(bot, list(texts))]


def test_mastodon_request_is_unlisted_with_an_idempotency_key(httpserver, store, monkeypatch):
    fake, target = connected("mastodon", httpserver, store, monkeypatch)
    approve(store, "my dream is a robot, @alice https://example.com/x")

    result = post_next(store, "jack", target)

    (request,) = post_requests(fake, "mastodon")
    assert request.form == {"status": "my dream is a robot, alice", "visibility": "unlisted"}
    assert request.headers["Authorization"] == f"Bearer {fake.token}"
    assert request.headers["Idempotency-Key"] == result.draft.intent.key
    assert result.draft.status == "posted" and result.draft.remote_id == fake.statuses[0]["id"]
    assert result.draft.remote_url == fake.statuses[0]["url"]


def test_mastodon_visibility_and_content_warning(httpserver, store, monkeypatch):
    fake, target = connected("mastodon", httpserver, store, monkeypatch)
    approve(store, "hello")
    post_next(store, "jack", target, PostOptions(visibility="public", content_warning="bot talk"))
    (request,) = post_requests(fake, "mastodon")
    assert request.form == {"status": "hello", "visibility": "public", "spoiler_text": "bot talk"}


def test_bluesky_writes_the_post_under_a_record_key_fixed_before_sending(httpserver, store, monkeypatch):
    fake, target = connected("bluesky", httpserver, store, monkeypatch)
    approve(store, "my dream is a robot")

    result = post_next(store, "jack", target)

    (request,) = post_requests(fake, "bluesky")
    key = result.draft.intent.key
    assert re.fullmatch(r"[2-7a-j][2-7a-z]{12}", key)
    assert request.json["repo"] == fake.did and request.json["rkey"] == key
    record = request.json["record"]
    assert record["$type"] == "app.bsky.feed.post" and record["text"] == "my dream is a robot"
    assert record["createdAt"].endswith("Z") and set(record) == {"$type", "text", "createdAt"}
    assert request.headers["Authorization"].startswith("Bearer bsky-access-SECRET-")
    assert result.draft.remote_id == f"at://{fake.did}/app.bsky.feed.post/{key}"
    assert result.draft.remote_url == f"https://bsky.app/profile/bot.bsky.social/post/{key}"


def test_x_request_is_signed_json(httpserver, store, monkeypatch):
    fake, target = connected("x", httpserver, store, monkeypatch)
    approve(store, "tea & toast")

    result = post_next(store, "jack", target)

    (request,) = post_requests(fake, "x")
    assert request.json == {"text": "tea & toast"}
    assert request.headers["Authorization"].startswith("OAuth ")
    assert result.draft.remote_id == fake.tweets[0]["id"]
    assert result.draft.remote_url == f"https://x.com/botname/status/{fake.tweets[0]['id']}"


@pytest.mark.parametrize("service", SERVICES)
def test_a_draft_is_posted_once(httpserver, store, monkeypatch, service):
    fake, target = connected(service, httpserver, store, monkeypatch)
    first, second = approve(store, "first post", "second post")

    assert post_next(store, "jack", target).draft.id == first.id
    assert post_next(store, "jack", target).draft.id == second.id
    assert post_next(store, "jack", target) is None
    with pytest.raises(TweetlingError, match=f"draft {first.id} is already posted"):
        post_draft(store, first.id, target)
    assert posted_texts(fake) == ["first post", "second post"]


@pytest.mark.parametrize("service", SERVICES)
def test_network_errors_leave_the_draft_approved_then_it_goes_once(httpserver, store, monkeypatch, service):
    fake, target = connected(service, httpserver, store, monkeypatch)
    (draft,) = approve(store, "still here")
    for _ in range(3):
        fake.inject(POST_PATHS[service], json_response({"error": "upstream down"}, 502))

    with pytest.raises(SourceError, match="HTTP 502"):
        post_next(store, "jack", target, client=NO_WAIT)

    kept = Queue(store).get(draft.id)
    assert kept.status == "approved" and kept.intent is not None and posted_texts(fake) == []
    fake.injected.clear()
    result = post_next(store, "jack", target, client=NO_WAIT)
    assert result.draft.status == "posted" and result.resumed
    assert posted_texts(fake) == ["still here"]
    keys = {_key(r, service) for r in post_requests(fake, service)}
    assert keys == {kept.intent.key} or service == "x"  # X has no key: its retry checked first


def _key(request, service):
    return request.headers.get("Idempotency-Key") if service == "mastodon" else (request.json or {}).get("rkey")


@pytest.mark.parametrize(("service", "readable"), [("mastodon", True), ("bluesky", True), ("x", True), ("x", False)])
def test_a_lost_reply_does_not_post_twice(httpserver, store, monkeypatch, service, readable):
    """The post arrives but its reply does not (a timeout): the retry finds or repeats it harmlessly."""
    fake, target = connected(
        service, httpserver, store, monkeypatch, **({"readable": readable} if service == "x" else {})
    )
    approve(store, "only once please")
    delays = [0.8]
    fake.on_write = lambda moment: moment == "after" and delays and time.sleep(delays.pop())
    patient = ClientOptions(retry=RetryPolicy(timeout=0.5, retries=3, backoff=0.0), sleep=lambda s: None)

    try:  # Bluesky rewrites the same record at once
        result = post_next(store, "jack", target, client=patient)
    except SourceError:  # Mastodon and X never resend blindly: the next run checks first
        assert service != "bluesky"
        result = post_next(store, "jack", target, client=patient)

    assert result.draft.status == "posted"
    assert posted_texts(fake) == ["only once please"]
    if service == "x" and not readable:  # no timeline access: X's duplicate refusal told us
        assert result.draft.remote_id == "" and "already had it" in result.draft.note


def test_a_refused_post_is_rejected_and_the_next_one_goes(httpserver, store, monkeypatch):
    fake, target = connected("mastodon", httpserver, store, monkeypatch)
    long, short = approve(store, "word " * 30, "short one")
    fake.max_characters = 100  # the instance lowered its limit after connect read it

    refused = post_next(store, "jack", target)
    result = post_next(store, "jack", target)

    assert refused.draft.id == long.id and "Text character limit of 100 exceeded" in refused.refused
    assert result.draft.id == short.id and result.draft.status == "posted"
    refused_draft = Queue(store).get(long.id)
    assert refused_draft.status == "rejected" and "Text character limit of 100 exceeded" in refused_draft.note


def test_blocked_words_are_checked_again_when_posting(httpserver, store, monkeypatch):
    fake, target = connected("x", httpserver, store, monkeypatch)
    (draft,) = approve(store, "all about taxes today")

    assert post_next(store, "jack", target, blocklist=Blocklist.of(["taxes"])).refused == "blocked: contains 'taxes'"

    assert Queue(store).get(draft.id).status == "rejected"
    assert "blocked: contains 'taxes'" in Queue(store).get(draft.id).note
    assert post_requests(fake, "x") == []


def test_bluesky_session_is_refreshed_and_reused_not_logged_in_again(httpserver, store, monkeypatch):
    fake, target = connected("bluesky", httpserver, store, monkeypatch)
    approve(store, "one", "two", "three")
    post_next(store, "jack", target)
    fake.expire_access_tokens()

    post_next(store, "jack", target)

    assert fake.sessions_created == 1 and len(fake.sent("refreshSession")) == 1
    assert credentials.load(target)["access_jwt"].reveal() in fake.access  # the renewed session was saved
    fake.expire_access_tokens()
    fake.expire_refresh_tokens()  # weeks later: only the app password is left
    post_next(store, "jack", target)
    assert fake.sessions_created == 2
    assert posted_texts(fake) == ["one", "two", "three"]


def test_x_user_token_is_renewed_with_its_refresh_token(httpserver, store, monkeypatch):
    fake = FakeX(httpserver)
    monkeypatch.setenv("BOT_TOKEN", next(iter(fake.user_tokens)))
    monkeypatch.setenv("X_REFRESH_TOKEN", next(iter(fake.refresh_tokens)))
    monkeypatch.setenv("X_CLIENT_ID", fake.client_id)
    connect(store, "x:botname", ConnectOptions(base_url=fake.url + "/2", token_env="BOT_TOKEN"), Answers())
    approve(store, "hello")
    fake.user_tokens = {"a-token-the-bot-never-saw"}  # two hours later, the token has expired

    post_next(store, "jack", "x:botname")

    assert fake.sent("/2/oauth2/token")[0].form["grant_type"] == "refresh_token"
    assert credentials.load("x:botname")["user_token"].reveal() in fake.user_tokens
    assert posted_texts(fake) == ["hello"]


def test_429_retry_after_is_waited_out(httpserver, store, monkeypatch):
    fake, target = connected("mastodon", httpserver, store, monkeypatch)
    approve(store, "patience")
    fake.inject("/api/v1/statuses", json_response({"error": "Too many requests"}, 429, {"Retry-After": "7"}))
    waits, slept = [], []
    options = ClientOptions(on_wait=lambda s, why: waits.append((s, why)), sleep=slept.append)

    post_next(store, "jack", target, client=options)

    assert waits[0][0] == 7 and "rate limited" in waits[0][1] and slept == [7]
    assert posted_texts(fake) == ["patience"]


def test_a_used_up_rate_limit_window_is_waited_for_before_the_next_request(httpserver, store, monkeypatch):
    fake, target = connected("x", httpserver, store, monkeypatch)
    approve(store, "one", "two")
    reset = int(time.time()) + 30
    fake.rate_headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
    waits = []
    account = open_service(
        get_connection(store, target), ClientOptions(on_wait=lambda s, why: waits.append(s), sleep=lambda s: None)
    )

    post_next(store, "jack", target, service=account)
    post_next(store, "jack", target, service=account)

    assert len(waits) == 1 and 25 < waits[0] <= 30
    assert posted_texts(fake) == ["one", "two"]


def test_dry_run_sends_nothing(httpserver, store, monkeypatch):
    fake, target = connected("mastodon", httpserver, store, monkeypatch)
    (draft,) = approve(store, "hi @carol")
    result = post_next(store, "jack", target, dry_run=True)
    assert result.dry_run and result.text == "hi carol"
    assert post_requests(fake, "mastodon") == [] and Queue(store).get(draft.id) == draft


def test_pending_drafts_are_not_posted(httpserver, store, monkeypatch):
    _, target = connected("mastodon", httpserver, store, monkeypatch)
    (draft,) = Queue(store).add("jack", ["not yet"])
    assert post_next(store, "jack", target) is None
    with pytest.raises(TweetlingError, match=f"draft {draft.id} is pending: approve it before posting"):
        post_draft(store, draft.id, target)


def test_drafts_for_another_account_are_not_posted_here(httpserver, store, monkeypatch):
    _, target = connected("mastodon", httpserver, store, monkeypatch)
    (draft,) = Queue(store).add("jack", ["for x only"], target="x:botname")
    Queue(store).approve(draft.id)
    assert post_next(store, "jack", target) is None
    with pytest.raises(TweetlingError, match="is for x:botname"):
        post_draft(store, draft.id, target)


@pytest.mark.parametrize("service", SERVICES)
def test_no_secret_in_logs_or_errors(httpserver, store, monkeypatch, caplog, service):
    caplog.set_level(logging.DEBUG)
    fake, target = connected(service, httpserver, store, monkeypatch)
    approve(store, "hello")
    fake.inject(POST_PATHS[service], json_response({"error": "nope"}, 503))
    fake.inject(POST_PATHS[service], json_response({"error": "nope"}, 503))
    with pytest.raises(SourceError) as error:
        post_next(store, "jack", target, client=NO_WAIT)
    fake.injected.clear()
    post_next(store, "jack", target)
    for secret in secrets_of(fake):
        assert secret not in caplog.text and secret not in str(error.value)
    rows = store.db.execute("SELECT * FROM drafts").fetchall()
    assert not any(secret in str(tuple(row)) for row in rows for secret in secrets_of(fake))


def test_a_token_the_server_echoes_is_redacted_before_any_message(httpserver, store, monkeypatch):
    fake, target = connected("bluesky", httpserver, store, monkeypatch)
    (draft,) = approve(store, "hello")
    token = next(iter(fake.access))
    fake.inject("putRecord", json_response({"error": "InvalidRequest", "message": f"bad session {token}"}, 400))

    assert post_next(store, "jack", target).refused

    note = Queue(store).get(draft.id).note
    assert "rejected the record" in note and "[redacted]" in note and token not in note


def test_mastodon_503_after_the_status_was_made_is_not_posted_twice(httpserver, store, monkeypatch):
    """A proxy that drops the Idempotency-Key: the retry must find the status, not make another."""
    fake, target = connected("mastodon", httpserver, store, monkeypatch)
    fake.honours_keys = False
    (draft,) = approve(store, "only once please")
    lost = [json_response({"error": "upstream timed out"}, 503)]
    fake.on_write = lambda moment: lost.pop() if moment == "after" and lost else None
    patient = ClientOptions(retry=RetryPolicy(timeout=2, retries=3, backoff=0.0), sleep=lambda s: None)

    with pytest.raises(SourceError, match="HTTP 503"):
        post_next(store, "jack", target, client=patient)
    assert Queue(store).get(draft.id).status == "approved" and posted_texts(fake) == ["only once please"]
    result = post_next(store, "jack", target, client=patient)

    assert result.resumed and result.draft.status == "posted"
    assert result.draft.remote_id == fake.statuses[0]["id"]
    assert posted_texts(fake) == ["only once please"]


@pytest.mark.parametrize("readable", [True, False], ids=["readable", "write-only"])
def test_x_tweet_made_before_a_429_is_recorded_as_posted(httpserver, store, monkeypatch, readable):
    """X made the tweet yet answered 429: the draft is posted, never rejected as a duplicate."""
    fake, target = connected("x", httpserver, store, monkeypatch, readable=readable)
    (draft,) = approve(store, "made anyway")
    limited = [json_response({"title": "Too Many Requests", "status": 429}, 429, {"Retry-After": "1"})]
    fake.on_write = lambda moment: limited.pop() if moment == "after" and limited else None

    with pytest.raises(SourceError, match="rate limit"):
        post_next(store, "jack", target, client=NO_WAIT)
    assert Queue(store).get(draft.id).status == "approved"
    result = post_next(store, "jack", target, client=NO_WAIT)

    assert result.draft.status == "posted" and result.resumed
    assert result.draft.remote_id == (fake.tweets[0]["id"] if readable else "")
    assert posted_texts(fake) == ["made anyway"]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_that_refuses_every_post_costs_one_draft_per_call(httpserver, store, monkeypatch, service):
    fake, target = connected(service, httpserver, store, monkeypatch)
    first, second, third = approve(store, "one", "two", "three")
    status = {"mastodon": 422, "bluesky": 400, "x": 400}[service]
    refusal = {"error": "InvalidRequest", "message": "Validation failed: account is read-only"}
    for _ in range(3):
        fake.inject(POST_PATHS[service], json_response(refusal, status))

    result = post_next(store, "jack", target)

    assert result.draft.id == first.id and "account is read-only" in result.refused
    queue = Queue(store)
    assert queue.get(first.id).status == "rejected" and "account is read-only" in queue.get(first.id).note
    assert [queue.get(d.id).status for d in (second, third)] == ["approved", "approved"]
    assert posted_texts(fake) == []
