"""Bluesky source against a local server shaped like the public AppView."""

from __future__ import annotations

import pytest

from http_payloads import FakeBluesky, bluesky_author, bluesky_item, bluesky_post, bluesky_profile, json_response
from tweetling.errors import SourceError
from tweetling.fetch import FetchOptions, fetch
from tweetling.sources.bluesky import expand_links
from tweetling.store import Store

TARGET = "bluesky:alice.bsky.social"
ACCOUNT = "alice.bsky.social"


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "t.db") as store:
        yield store


def options(httpserver, **kwargs) -> FetchOptions:
    return FetchOptions(base_url=httpserver.url_for("/"), **kwargs)


def link(start: int, end: int, uri: str) -> dict:
    return {
        "$type": "app.bsky.richtext.facet",
        "index": {"byteStart": start, "byteEnd": end},
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
    }


def test_link_facets_get_their_full_uri_counting_utf8_bytes():
    text = "café ☕ see example.com/a/lo... and #tag"
    start = len("café ☕ see ".encode())
    end = start + len(b"example.com/a/lo...")
    tag = {
        "index": {"byteStart": end + 5, "byteEnd": end + 9},
        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "tag"}],
    }
    expanded = expand_links(text, [tag, link(start, end, "https://example.com/a/long/path")])
    assert expanded == "café ☕ see https://example.com/a/long/path and #tag"


def test_fetch_stores_kinds_and_profile(httpserver, store):
    other = bluesky_author("bob.bsky.social", "did:plc:bob")
    shared = bluesky_post(1, "bob's words", author=other)
    items = [
        bluesky_item(bluesky_post(2, "plain")),
        bluesky_item(shared, reposted_at=3),
        bluesky_item(shared, reposted_at=4),  # reposted again later: a second, distinct repost
        bluesky_item(bluesky_post(5, "agreed", reply=True)),
        bluesky_item(bluesky_post(6, "look", quote=True)),
        bluesky_item(
            bluesky_post(7, "read example.com/x...", facets=[link(5, 21, "https://example.com/xyz")], langs=("de",))
        ),
    ]
    FakeBluesky(httpserver, items)

    result = fetch(store, TARGET, options(httpserver))

    assert (result.account, result.added, result.complete) == (ACCOUNT, 6, True)
    posts = store.posts(ACCOUNT)
    assert [(p.kind, p.text) for p in posts] == [
        ("original", "plain"),
        ("retweet", "bob's words"),
        ("retweet", "bob's words"),
        ("reply", "agreed"),
        ("quote", "look"),
        ("original", "read https://example.com/xyz"),
    ]
    assert len({p.post_id for p in posts}) == 6
    assert posts[1].created_at == "2024-05-01T12:03:00+00:00"  # when it was reposted
    assert posts[-1].lang == "de"
    profile = store.account(ACCOUNT)
    assert (profile.display_name, profile.bio, profile.source_id) == (
        "Alice",
        "Birds, trees.\nhttps://alice.example",
        "did:plc:z72i7hdynmk6r22z27h6tvur",
    )
    assert profile.avatar_url.startswith("https://cdn.bsky.app/img/avatar/")


def test_pages_with_the_cursor_then_stops_at_known_posts(httpserver, store):
    server = FakeBluesky(httpserver, [bluesky_item(bluesky_post(i)) for i in range(1, 251)])

    first = fetch(store, TARGET, options(httpserver))

    assert (first.added, first.pages, first.complete) == (250, 4, True)
    feeds = server.queries("getAuthorFeed")
    assert [q.get("cursor") for q in feeds][:1] == [None] and all(q["limit"] == "100" for q in feeds)
    assert feeds[1]["cursor"] == server.items[99]["post"]["indexedAt"]
    assert all(q["actor"] == "did:plc:z72i7hdynmk6r22z27h6tvur" for q in feeds)

    server.items[:0] = [bluesky_item(bluesky_post(i)) for i in (252, 251)]
    server.requests.clear()
    second = fetch(store, TARGET, options(httpserver))

    # One page reached posts already stored: no need to walk the whole feed again.
    assert (second.added, second.pages, second.complete) == (2, 1, True)
    assert [q.get("cursor") for q in server.queries("getAuthorFeed")] == [None]
    assert store.count_posts(ACCOUNT) == 252


def test_unknown_account(httpserver, store):
    FakeBluesky(httpserver, [])
    with pytest.raises(SourceError, match=r"no account nobody.bsky.social \(Profile not found\)"):
        fetch(store, "bluesky:nobody.bsky.social", options(httpserver))
    assert store.accounts() == []


@pytest.mark.parametrize(
    "error, message",
    [
        ("AccountTakedown", "is suspended"),
        ("AccountDeactivated", "is deactivated"),
        ("BlockedActor", "blocks or is blocked"),
    ],
)
def test_unavailable_accounts(httpserver, store, error, message):
    httpserver.expect_request("/xrpc/app.bsky.actor.getProfile").respond_with_response(
        json_response({"error": error, "message": "Account is unavailable"}, 400)
    )
    with pytest.raises(SourceError, match=message):
        fetch(store, TARGET, options(httpserver))
    assert store.accounts() == []


def test_respects_accounts_hidden_from_logged_out_users(httpserver, store):
    profile = bluesky_profile(
        labels=[
            {
                "src": "did:plc:z72i7hdynmk6r22z27h6tvur",
                "val": "!no-unauthenticated",
                "uri": "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.actor.profile/self",
                "cts": "2024-01-01T00:00:00Z",
            }
        ]
    )
    server = FakeBluesky(httpserver, [bluesky_item(bluesky_post(1))], profile=profile)
    with pytest.raises(SourceError, match="opts out of bots.*the !no-unauthenticated label"):
        fetch(store, TARGET, options(httpserver))
    assert server.queries("getAuthorFeed") == []


def test_malformed_feed_item_is_a_clear_error(httpserver, store):
    FakeBluesky(httpserver, [{"post": {"uri": "at://x/app.bsky.feed.post/1", "indexedAt": "2024-05-01T12:00:00.000Z"}}])
    with pytest.raises(
        SourceError,
        match=r"getAuthorFeed: post at://x/app.bsky.feed.post/1: missing field 'post.record'$",
    ):
        fetch(store, TARGET, options(httpserver))
    assert store.count_posts(ACCOUNT) == 0
