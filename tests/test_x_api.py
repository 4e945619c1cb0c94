"""X API v2 source against a local server shaped like api.x.com/2."""

from __future__ import annotations

import time

import pytest

from http_payloads import FakeXApi, json_response, x_tweet
from tweetling.errors import SourceError
from tweetling.fetch import FetchOptions, fetch
from tweetling.store import Store

TOKEN = "AAAA-test-token"


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "t.db") as store:
        yield store


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.delenv("TWITTER_BEARER_TOKEN", raising=False)
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)


def options(httpserver, **kwargs) -> FetchOptions:
    return FetchOptions(base_url=httpserver.url_for("/2"), **kwargs)


def test_fetch_stores_kinds_long_posts_and_profile(httpserver, store):
    tweets = [
        x_tweet(1001, "hello world"),
        x_tweet(1002, "RT @bob: something bob said", refs=(("retweeted", "900"),)),
        x_tweet(1003, "@bob yes", refs=(("replied_to", "901"),)),
        x_tweet(1004, "this https://t.co/abc", refs=(("quoted", "902"),)),
        x_tweet(1005, "@bob and this", refs=(("replied_to", "903"), ("quoted", "904"))),
        x_tweet(1006, "A long start…", note_text="A long start, and the whole note that follows it."),
    ]
    server = FakeXApi(httpserver, tweets)

    result = fetch(store, "x:@alice", options(httpserver))

    assert (result.account, result.added, result.complete) == ("alice", 6, True)
    assert [(p.kind, p.text) for p in store.posts("alice")] == [
        ("original", "hello world"),
        ("retweet", "RT @bob: something bob said"),
        ("reply", "@bob yes"),
        ("quote", "this https://t.co/abc"),
        ("reply", "@bob and this"),
        ("original", "A long start, and the whole note that follows it."),
    ]
    query = server.queries("/tweets")[0]
    assert query["max_results"] == "100" and query["expansions"] == "referenced_tweets.id"
    assert set(query["tweet.fields"].split(",")) >= {"created_at", "lang", "referenced_tweets", "note_tweet"}
    assert "user.fields" in server.queries("/users/by/username/alice")[0]
    profile = store.account("alice")
    assert (profile.display_name, profile.bio, profile.source_id) == ("Alice", "Birds & trees", "2244994945")
    assert profile.avatar_url.endswith("alice_normal.jpg")


def test_pages_with_pagination_token_then_asks_since_newest(httpserver, store):
    server = FakeXApi(httpserver, [x_tweet(i) for i in range(2001, 2251)])

    first = fetch(store, "x:alice", options(httpserver))

    assert (first.added, first.pages, first.complete) == (250, 3, True)
    assert [q.get("pagination_token") for q in server.queries("/tweets")] == [None, "t100", "t200"]

    server.tweets[:0] = [x_tweet(2252), x_tweet(2251)]
    server.requests.clear()
    second = fetch(store, "x:alice", options(httpserver))

    assert (second.added, second.pages) == (2, 1)
    assert [q.get("since_id") for q in server.queries("/tweets")] == ["2250"]


def test_max_posts_below_the_api_minimum_loses_nothing(httpserver, store):
    server = FakeXApi(httpserver, [x_tweet(i) for i in range(3001, 3013)])

    partial = fetch(store, "x:alice", options(httpserver, max_posts=3))

    assert (partial.added, partial.complete) == (3, False)
    assert server.queries("/tweets")[0]["max_results"] == "5"  # the API's minimum; two are left for later
    rest = fetch(store, "x:alice", options(httpserver))
    assert (rest.added, rest.complete) == (9, True)
    assert store.count_posts("alice") == 12


def test_missing_token_names_the_variable(httpserver, store, monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN")
    with pytest.raises(SourceError, match="set X_BEARER_TOKEN .*--token-env"):
        fetch(store, "x:alice", options(httpserver))
    assert httpserver.log == []

    monkeypatch.setenv("TWITTER_BEARER_TOKEN", TOKEN)
    FakeXApi(httpserver, [x_tweet(1)])
    assert fetch(store, "x:alice", options(httpserver)).added == 1


def test_bad_token_is_a_clear_error_that_never_shows_the_token(httpserver, store, monkeypatch):
    FakeXApi(httpserver, [x_tweet(1)])
    secret = "AAAAsecret-do-not-print-0123456789"
    monkeypatch.setenv("MY_X_TOKEN", secret)
    with pytest.raises(SourceError) as caught:
        fetch(store, "x:alice", options(httpserver, token_env="MY_X_TOKEN"))
    assert "rejected the bearer token (HTTP 401)" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert secret not in repr(caught.value.__cause__) and secret not in repr(caught.value.__context__)
    assert httpserver.log[0][0].headers["Authorization"] == f"Bearer {secret}"
    assert store.accounts() == []


@pytest.mark.parametrize(
    "errors, message",
    [
        (
            [
                {
                    "value": "alice",
                    "detail": "Could not find user with username: [alice].",
                    "title": "Not Found Error",
                    "resource_type": "user",
                    "parameter": "username",
                    "resource_id": "alice",
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            ],
            "no account @alice",
        ),
        (
            [
                {
                    "value": "alice",
                    "detail": "User has been suspended: [alice].",
                    "title": "Forbidden",
                    "resource_type": "user",
                    "parameter": "username",
                    "resource_id": "alice",
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            ],
            "@alice is suspended",
        ),
    ],
)
def test_unknown_and_suspended_accounts(httpserver, store, errors, message):
    httpserver.expect_request("/2/users/by/username/alice").respond_with_json({"errors": errors})
    with pytest.raises(SourceError, match=message):
        fetch(store, "x:alice", options(httpserver))
    assert store.accounts() == []


def test_protected_account(httpserver, store):
    server = FakeXApi(httpserver, [])
    server.queued.append(
        json_response(
            {
                "errors": [
                    {
                        "resource_id": "2244994945",
                        "parameter": "id",
                        "resource_type": "user",
                        "section": "data",
                        "title": "Authorization Error",
                        "value": "2244994945",
                        "detail": "Sorry, you are not authorized to see the user with id: [2244994945].",
                        "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
                    }
                ]
            }
        )
    )
    with pytest.raises(SourceError, match="@alice is protected"):
        fetch(store, "x:alice", options(httpserver))
    assert store.count_posts("alice") == 0


def test_rate_limit_reset_header_is_waited_out(httpserver, store):
    server = FakeXApi(httpserver, [x_tweet(i) for i in range(1, 8)])
    reset = int(time.time()) + 120
    server.queued.append(
        json_response(
            {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
            429,
            {"x-rate-limit-limit": "900", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
        )
    )
    waits, slept = [], []

    result = fetch(store, "x:alice", options(httpserver), on_wait=lambda s, r: waits.append((s, r)), sleep=slept.append)

    assert result.added == 7
    assert len(waits) == 1 and 110 < waits[0][0] <= 120 and "rate limited" in waits[0][1]
    assert slept == [waits[0][0]]


def test_invalid_username():
    with pytest.raises(Exception, match="invalid X username"):
        fetch(None, "x:not a name")  # type: ignore[arg-type]
