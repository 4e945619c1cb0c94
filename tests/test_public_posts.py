"""Public posts only, content warnings and deletions: fake servers serving mixed visibilities,
posts behind warnings and posts that disappear; archives missing posts an older one held."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from http_payloads import (
    FakeBluesky,
    FakeMastodon,
    FakeXApi,
    bluesky_item,
    bluesky_post,
    mastodon_status,
    x_tweet,
)
from tweetling.clean import CleanOptions, clean_posts, data_table
from tweetling.cli import cli
from tweetling.fetch import FetchOptions, fetch
from tweetling.importer import import_path
from tweetling.posts import Post
from tweetling.sources.x_api import XApiSource
from tweetling.store import Store

MASTODON = "mastodon:@alice@social.example"


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "t.db") as store:
        yield store


def options(httpserver, path="/", **kwargs) -> FetchOptions:
    return FetchOptions(base_url=httpserver.url_for(path), **kwargs)


# --- public posts only ------------------------------------------------------------------------------


def test_only_public_and_unlisted_statuses_are_stored(httpserver, store):
    statuses = [
        mastodon_status(1, "<p>public</p>"),
        mastodon_status(2, "<p>unlisted</p>", visibility="unlisted"),
        mastodon_status(3, "<p>followers only secret</p>", visibility="private"),
        mastodon_status(4, "<p>direct secret</p>", visibility="direct"),
        {**mastodon_status(5, "<p>no visibility secret</p>"), "visibility": None},
    ]
    FakeMastodon(httpserver, statuses)
    result = fetch(store, MASTODON, options(httpserver))
    assert (result.added, result.not_public) == (2, 3)
    assert [p.text for p in store.posts(result.account)] == ["public", "unlisted"]
    assert b"secret" not in store.path.read_bytes()  # neither the text nor the raw record


def test_a_page_of_only_private_statuses_does_not_end_the_walk(httpserver, store):
    statuses = [mastodon_status(i, visibility="public" if i <= 5 else "private") for i in range(1, 46)]
    FakeMastodon(httpserver, statuses)  # the first page of 40 is all followers-only
    result = fetch(store, MASTODON, options(httpserver))
    assert (result.added, result.not_public, result.complete) == (5, 40, True)


def test_the_cli_says_how_many_posts_were_not_public(httpserver, tweetling_home):
    FakeMastodon(httpserver, [mastodon_status(1), mastodon_status(2, visibility="private")])
    result = CliRunner().invoke(cli, ["fetch", MASTODON, "--base-url", httpserver.url_for("/")])
    assert result.exit_code == 0, result.output
    assert "1 followers-only or direct posts not stored" in result.output


def test_an_older_store_loses_its_private_statuses_and_learns_its_warnings(tmp_path):
    """Migration 2 on a store written by schema 1, with posts a token fetched earlier."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    from tweetling.store import MIGRATIONS

    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    rows = [
        ("mastodon", "1", mastodon_status(1)),
        ("mastodon", "2", mastodon_status(2, visibility="private")),
        ("mastodon", "3", mastodon_status(3, spoiler_text="spoilers")),
        ("bluesky", "at://a/app.bsky.feed.post/4", bluesky_item(bluesky_post(4, self_labels=("nudity",)))),
        ("bluesky", "at://a/app.bsky.feed.post/5", bluesky_item(bluesky_post(5))),
    ]
    for source, post_id, raw in rows:
        db.execute(
            "INSERT INTO posts VALUES (?, ?, 'alice', NULL, 'text', 'original', NULL, ?, '2024-01-01')",
            (source, post_id, json.dumps(raw)),
        )
    db.commit()
    db.close()
    with Store(path) as store:
        assert {(p.post_id, p.content_warning) for p in store.posts("alice")} == {
            ("1", False),
            ("3", True),
            ("at://a/app.bsky.feed.post/4", True),
            ("at://a/app.bsky.feed.post/5", False),
        }


# --- content warnings -------------------------------------------------------------------------------

WORDS = "a post about the tides and the moon"


@pytest.mark.parametrize(
    "serve, target, path",
    [
        (
            lambda server: FakeMastodon(
                server,
                [
                    mastodon_status(1, f"<p>{WORDS} one</p>"),
                    mastodon_status(2, f"<p>{WORDS} two</p>", spoiler_text="politics"),
                    mastodon_status(3, f"<p>{WORDS} three</p>", sensitive=True),
                ],
            ),
            MASTODON,
            "/",
        ),
        (
            lambda server: FakeBluesky(
                server,
                [
                    bluesky_item(bluesky_post(1, f"{WORDS} one")),
                    bluesky_item(bluesky_post(2, f"{WORDS} two", self_labels=("graphic-media",))),
                    bluesky_item(bluesky_post(3, f"{WORDS} three", self_labels=("sexual",))),
                ],
            ),
            "bluesky:alice.bsky.social",
            "/",
        ),
    ],
    ids=["mastodon", "bluesky"],
)
def test_posts_behind_a_warning_are_stored_but_left_out_of_datasets(httpserver, store, serve, target, path):
    serve(httpserver)
    result = fetch(store, target, options(httpserver, path))
    posts = store.posts(result.account)
    assert len(posts) == 3 and [p.content_warning for p in posts] == [False, True, True]

    left_out = clean_posts(result.account, posts)
    assert left_out.texts == [f"{WORDS} one"]
    assert ("Content warnings", [2]) in data_table({result.account: left_out.table})

    kept = clean_posts(result.account, posts, CleanOptions(include_cw=True))
    assert len(kept.texts) == 3 and "Content warnings" not in dict(data_table({result.account: kept.table}))


def test_the_data_table_shows_no_warning_row_without_warnings():
    cleaned = clean_posts("ana", [Post("x", "1", "ana", "plain words here")])
    assert [label for label, _ in data_table({"ana": cleaned.table})] == [
        "Posts downloaded",
        "Retweets",
        "Short posts",
        "Posts kept",
    ]


def test_cli_stats_counts_and_include_cw_keeps(tweetling_home):
    with Store() as store:
        store.upsert_posts(
            [Post("mastodon", str(i), "ana", f"{WORDS} {i}", content_warning=i % 2 == 0) for i in range(1, 11)]
        )
    counted = CliRunner().invoke(cli, ["stats", "ana"])
    [row] = [line for line in counted.output.splitlines() if "Content warnings" in line]
    assert row.split("│")[-2].strip() == "5"
    kept = CliRunner().invoke(cli, ["stats", "ana", "--include-cw"])
    assert "Content warnings" not in kept.output


# --- deletions followed -----------------------------------------------------------------------------


def _mastodon(server, numbers):
    return FakeMastodon(server, [mastodon_status(i) for i in numbers])


def _bluesky(server, numbers):
    return FakeBluesky(server, [bluesky_item(bluesky_post(i)) for i in numbers])


def _x(server, numbers):
    return FakeXApi(server, [x_tweet(i) for i in numbers])


SOURCES = [
    pytest.param(_mastodon, MASTODON, "/", lambda server: server.statuses, id="mastodon"),
    pytest.param(_bluesky, "bluesky:alice.bsky.social", "/", lambda server: server.items, id="bluesky"),
    pytest.param(_x, "x:alice", "/2", lambda server: server.tweets, id="x"),
]


@pytest.fixture
def x_token(monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "AAAA-test-token")


@pytest.mark.parametrize("serve, target, path, served", SOURCES)
def test_a_deletion_check_marks_posts_the_source_no_longer_returns(
    httpserver, store, x_token, serve, target, path, served
):
    server = serve(httpserver, range(1, 121))
    first = fetch(store, target, options(httpserver, path))
    assert (first.added, first.deleted) == (120, 0)  # the first walk is a full one
    items = served(server)
    gone = [items[0], items[50], items[119]]  # the newest, one in the middle, the oldest
    for item in gone:
        items.remove(item)

    incremental = fetch(store, target, options(httpserver, path))
    assert incremental.deleted is None and store.count_deleted(first.account) == 0  # asks only for newer posts

    checked = fetch(store, target, options(httpserver, path, check_deletions=True))
    assert (checked.added, checked.deleted, checked.complete) == (0, 3, True)
    assert store.count_posts(first.account) == 117 and store.count_deleted(first.account) == 3
    assert len(store.posts(first.account, include_deleted=True)) == 120
    [origin] = store.origins(first.account)
    assert origin.deletions_checked_at is not None

    items.insert(49, gone[1])  # back again (a server glitch, or undone): the next walk clears its mark
    again = fetch(store, target, options(httpserver, path, check_deletions=True))
    assert again.deleted == 0 and store.count_deleted(first.account) == 2


def test_deletion_checks_run_when_the_last_one_is_old(httpserver, store):
    server = _mastodon(httpserver, range(1, 11))
    fetch(store, MASTODON, options(httpserver))
    server.statuses.pop(3)
    assert fetch(store, MASTODON, options(httpserver)).deleted is None  # checked just now
    assert fetch(store, MASTODON, options(httpserver, recheck_days=None)).deleted is None
    assert fetch(store, MASTODON, options(httpserver, recheck_days=0)).deleted == 1  # due


def test_an_interrupted_deletion_check_resumes_and_then_marks(httpserver, store):
    server = _mastodon(httpserver, range(1, 101))
    fetch(store, MASTODON, options(httpserver))
    del server.statuses[10]
    partial = fetch(store, MASTODON, options(httpserver, check_deletions=True, max_posts=50))
    assert (partial.complete, partial.deleted) == (False, None)
    finished = fetch(store, MASTODON, options(httpserver))  # continues the same check walk
    assert (finished.complete, finished.deleted) == (True, 1)


def test_x_checks_only_the_window_the_api_serves(httpserver, store, x_token, monkeypatch):
    """X serves an account's newest 3,200 posts: older stored posts are not taken for deleted."""
    monkeypatch.setattr(XApiSource, "history_limit", 30)
    store.upsert_posts([Post("x", str(i), "alice", f"archived {i}") for i in range(1, 11)])
    server = FakeXApi(httpserver, [x_tweet(i) for i in range(1, 41)], served=30)  # reaches back to post 11
    server.tweets.remove(next(t for t in server.tweets if t["id"] == "20"))
    result = fetch(store, "x:alice", options(httpserver, "/2", check_deletions=True))
    assert result.deleted == 0  # 20 was never stored
    server.tweets.remove(next(t for t in server.tweets if t["id"] == "25"))
    result = fetch(store, "x:alice", options(httpserver, "/2", check_deletions=True))
    assert result.deleted == 1
    deleted = {p.post_id for p in store.posts("alice", include_deleted=True)} - {
        p.post_id for p in store.posts("alice")
    }
    assert deleted == {"25"}


def write_archive(folder: Path, ids: list[int], username: str = "ana") -> Path:
    data = folder / "data"
    data.mkdir(parents=True)
    account = [{"account": {"username": username, "accountId": "42", "accountDisplayName": "Ana"}}]
    (data / "account.js").write_text("window.YTD.account.part0 = " + json.dumps(account))
    tweets = [
        {"tweet": {"id_str": str(i), "full_text": f"archived post number {i}", "created_at": "2020-01-01T00:00:00Z"}}
        for i in ids
    ]
    (data / "tweets.js").write_text("window.YTD.tweets.part0 = " + json.dumps(tweets))
    return folder


def test_a_newer_archive_marks_the_posts_missing_from_it(store, tmp_path):
    import_path(store, write_archive(tmp_path / "2023", list(range(100, 110))))
    store.upsert_posts([Post("x", str(i), "ana", f"fetched later {i}") for i in (200, 201)])  # newer than the archive
    store.upsert_posts([Post("x", "50", "ana", "from an older file")])  # older than it

    newer = import_path(store, write_archive(tmp_path / "2024", [101, 102, 104, 105, 106, 107, 108]))
    # An archive holds the whole history up to its newest post: 109 may be newer than the archive.
    assert newer.deleted == 3
    all_ids = {p.post_id for p in store.posts("ana", include_deleted=True)}
    assert all_ids - {p.post_id for p in store.posts("ana")} == {"50", "100", "103"}

    older_again = import_path(store, write_archive(tmp_path / "2023-copy", list(range(100, 110))))
    assert older_again.deleted == 0 and store.count_deleted("ana") == 3  # an import does not bring them back


def test_the_cli_import_reports_posts_missing_from_the_archive(tweetling_home, tmp_path):
    runner = CliRunner()
    runner.invoke(cli, ["import", str(write_archive(tmp_path / "a", [1, 2, 3, 4]))])
    result = runner.invoke(cli, ["import", str(write_archive(tmp_path / "b", [1, 2, 4]))])
    assert result.exit_code == 0, result.output
    assert "1 stored posts missing from this archive marked deleted" in result.output
