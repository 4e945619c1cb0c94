import sqlite3

import pytest

from tweetling.posts import Post, Profile
from tweetling.store import Store, schema_version


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "t.db") as store:
        yield store


def test_upsert_is_idempotent_and_merges(store):
    posts = [
        Post("x", "1", "ana", "first post", created_at="2020-01-01T00:00:00+00:00"),
        Post("x", "2", "ana", "second", created_at="2020-01-02T00:00:00+00:00"),
    ]
    assert (store.upsert_posts(posts).added, store.upsert_posts(posts).added) == (2, 0)
    # an archive imported after an API fetch: same source and id, fuller text → one row, refreshed
    result = store.upsert_posts([Post("x", "2", "ana", "second, in full", kind="reply", raw={"a": 1})])
    assert (result.added, result.updated) == (0, 1)
    stored = store.posts("ana")
    assert [p.text for p in stored] == ["first post", "second, in full"]
    assert stored[1].created_at == "2020-01-02T00:00:00+00:00"  # unknown fields keep their value
    assert stored[1].kind == "reply" and stored[1].raw == {"a": 1}


def test_same_id_from_another_source_is_another_post(store):
    store.upsert_posts([Post("x", "1", "ana", "on x"), Post("mastodon", "1", "ana", "on mastodon")])
    assert store.count_posts("ana") == 2


def test_failed_transaction_leaves_store_unchanged(store):
    store.upsert_posts([Post("x", "1", "ana", "kept")])

    def broken():
        yield Post("x", "2", "ana", "would be added")
        raise ValueError("bad record")

    with pytest.raises(ValueError):
        store.upsert_posts(broken())
    assert [p.post_id for p in store.posts("ana")] == ["1"]


def test_newest_post_orders_by_date_then_numeric_id(store):
    store.upsert_posts(
        [
            Post("x", "99", "ana", "a", created_at="2020-01-01T00:00:00+00:00"),
            Post("x", "100", "ana", "b", created_at="2020-01-01T00:00:00+00:00"),
            Post("x", "5", "ana", "c", created_at="2019-01-01T00:00:00+00:00"),
        ]
    )
    assert store.newest_post("x", "ana").post_id == "100"
    assert store.newest_post("bluesky", "ana") is None


def test_accounts_keep_known_fields(store):
    store.upsert_account(Profile("ana", "x", display_name="Ana", bio="hello"))
    store.upsert_account(Profile("ana", "x", avatar_url="https://example.org/a.png"))
    assert store.account("ana") == Profile("ana", "x", "Ana", "https://example.org/a.png", "hello")
    assert [p.name for p in store.accounts()] == ["ana"]


def test_state_roundtrip(store):
    store.set_state("fetch:x:ana", {"cursor": "abc"})
    assert store.get_state("fetch:x:ana") == {"cursor": "abc"}
    store.set_state("fetch:x:ana", None)
    assert store.get_state("fetch:x:ana") is None


def test_schema_is_versioned(tmp_path):
    Store(tmp_path / "v.db").close()
    db = sqlite3.connect(tmp_path / "v.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema_version()
    Store(tmp_path / "v.db").close()  # reopening migrates nothing and fails nothing
