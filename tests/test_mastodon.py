"""Mastodon source against a local server shaped like the instance REST API."""

from __future__ import annotations

import pytest

from http_payloads import FakeMastodon, json_response, mastodon_account, mastodon_status
from tweetling.errors import SourceError
from tweetling.fetch import FetchOptions, fetch
from tweetling.sources.mastodon import html_to_text
from tweetling.store import Store

TARGET = "mastodon:@alice@social.example"


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "t.db") as store:
        yield store


def options(httpserver, **kwargs) -> FetchOptions:
    return FetchOptions(base_url=httpserver.url_for("/"), **kwargs)


def test_html_to_text_keeps_what_was_typed():
    content = (
        '<p>Hi <span class="h-card"><a href="https://x.example/@bob" class="u-url mention">@<span>bob</span></a></span>'
        ' &amp; all,<br />see <a href="https://example.com/a/long/path" rel="nofollow noopener" target="_blank">'
        '<span class="invisible">https://</span><span class="ellipsis">example.com/a/long</span>'
        '<span class="invisible">/path</span></a></p><p>2 &lt; 3 &#39;ok&#39;</p>'
    )
    assert html_to_text(content) == "Hi @bob & all,\nsee https://example.com/a/long/path\n\n2 < 3 'ok'"


def test_fetch_stores_kinds_text_and_profile(httpserver, store):
    other = mastodon_account(id="7", username="bob")
    statuses = [
        mastodon_status(1, "<p>plain one</p>"),
        mastodon_status(2, reblog=mastodon_status(900, "<p>boosted words</p>", account=other)),
        mastodon_status(3, "<p>sure</p>", in_reply_to_id="555"),
        mastodon_status(
            4, "<p>look at this</p>", quote={"state": "accepted", "quoted_status": mastodon_status(901, account=other)}
        ),
        mastodon_status(5, "<p>bonjour</p>", language="fr"),
    ]
    FakeMastodon(httpserver, statuses)

    result = fetch(store, TARGET, options(httpserver))

    assert (result.account, result.added, result.complete) == ("alice@social.example", 5, True)
    posts = {p.post_id: p for p in store.posts("alice@social.example")}
    assert {k: (p.kind, p.text) for k, p in posts.items()} == {
        "1": ("original", "plain one"),
        "2": ("retweet", "boosted words"),
        "3": ("reply", "sure"),
        "4": ("quote", "look at this"),
        "5": ("original", "bonjour"),
    }
    assert posts["5"].lang == "fr"
    assert posts["1"].created_at == "2024-05-01T12:01:00+00:00"
    assert posts["2"].raw["reblog"]["id"] == "900"
    profile = store.account("alice@social.example")
    assert profile.display_name == "Alice 🌻"
    assert profile.bio == "Writes about #birds & trees"
    assert profile.avatar_url.endswith("/a.png") and profile.source_id == "109"


def test_pages_with_the_link_header_then_asks_only_for_newer(httpserver, store):
    statuses = [mastodon_status(i) for i in range(1, 96)]
    server = FakeMastodon(httpserver, statuses)

    first = fetch(store, TARGET, options(httpserver))

    assert (first.added, first.pages, first.complete) == (95, 4, True)  # 40 + 40 + 15, then an empty page
    pages = server.queries("/statuses")
    assert [q.get("max_id") for q in pages] == [None, "56", "16", "1"]
    assert all(q["limit"] == "40" and "since_id" not in q for q in pages)
    assert store.get_state("fetch:mastodon:alice@social.example") is None

    server.statuses[:0] = [mastodon_status(i) for i in (98, 97, 96)]
    server.requests.clear()
    second = fetch(store, TARGET, options(httpserver))

    assert (second.added, second.updated, second.complete) == (3, 0, True)
    assert [q.get("since_id") for q in server.queries("/statuses")] == ["95", "95"]
    assert store.count_posts("alice@social.example") == 98


def test_max_posts_stops_early_and_the_next_run_continues(httpserver, store):
    server = FakeMastodon(httpserver, [mastodon_status(i) for i in range(1, 51)])

    partial = fetch(store, TARGET, options(httpserver, max_posts=30))

    assert (partial.added, partial.complete) == (30, False)
    assert server.queries("/statuses")[0]["limit"] == "30"
    rest = fetch(store, TARGET, options(httpserver))
    assert (rest.added, rest.complete) == (20, True)
    assert server.queries("/statuses")[1]["max_id"] == "21"
    assert store.count_posts("alice@social.example") == 50


def test_unknown_account_is_a_clear_error_and_writes_nothing(httpserver, store):
    FakeMastodon(httpserver, [])
    with pytest.raises(SourceError, match=r"no account @nobody@social.example \(HTTP 404\)"):
        fetch(store, "mastodon:@nobody@social.example", options(httpserver))
    assert store.accounts() == []


@pytest.mark.parametrize(
    "reply",
    [
        json_response(mastodon_account(suspended=True)),
        json_response({"error": "Account has been suspended"}, 410),
    ],
)
def test_suspended_account(httpserver, store, reply):
    httpserver.expect_request("/api/v1/accounts/lookup").respond_with_response(reply)
    with pytest.raises(SourceError, match="suspended"):
        fetch(store, TARGET, options(httpserver))
    assert store.accounts() == []


def test_instance_that_requires_a_token(httpserver, store, monkeypatch):
    httpserver.expect_request("/api/v1/accounts/lookup").respond_with_json(
        {"error": "This API requires an authenticated user"}, status=401
    )
    with pytest.raises(SourceError, match="requires an access token.*--token-env"):
        fetch(store, TARGET, options(httpserver))

    secret = "mastodon-secret-123"
    monkeypatch.setenv("MY_MASTODON_TOKEN", secret)
    with pytest.raises(SourceError, match="refused the access token") as caught:
        fetch(store, TARGET, options(httpserver, token_env="MY_MASTODON_TOKEN"))
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert httpserver.log[-1][0].headers["Authorization"] == f"Bearer {secret}"


def test_token_is_sent_only_when_asked_for(httpserver, store, monkeypatch):
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "should-not-travel")
    FakeMastodon(httpserver, [mastodon_status(1)])
    fetch(store, TARGET, options(httpserver))
    assert all("Authorization" not in request.headers for request, _ in httpserver.log)


def test_invalid_handle():
    with pytest.raises(Exception, match="invalid Mastodon handle"):
        fetch(None, "mastodon:alice")  # type: ignore[arg-type]
