import os
import sqlite3

import pytest

from tweetling.errors import TweetlingError
from tweetling.posts import Post, Profile
from tweetling.provenance import ARCHIVE, FETCHED, Origin
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


def test_forget_an_account_leaves_no_trace_in_the_file(store):
    secret = "a very particular sentence about the lighthouse"
    store.db.execute("PRAGMA secure_delete = OFF")  # SQLite's own default; some builds turn it on
    store.upsert_account(Profile("ana", "mastodon", bio=secret))
    store.record_origin("ana", Origin("mastodon", FETCHED, "social.example"))
    store.upsert_posts([Post("mastodon", str(i), "ana", f"{secret} {i}", raw={"content": secret}) for i in range(50)])
    store.upsert_posts([Post("mastodon", "x1", "bob", "bob stays")])
    store.set_state("fetch:mastodon:ana", {"cursor": "3"})
    store.set_state("fetch:mastodon:bob", {"cursor": "4"})

    assert store.forget_account("ana") == 50

    assert store.posts("ana", include_deleted=True) == [] and store.account("ana") is None
    assert store.origins("ana") == [] and store.get_state("fetch:mastodon:ana") is None
    assert store.get_state("fetch:mastodon:bob") == {"cursor": "4"} and store.count_posts("bob") == 1
    files = [store.path, store.path.with_name(store.path.name + "-wal")]
    assert all(secret.encode() not in f.read_bytes() for f in files if f.exists())  # overwritten, not just unlinked


def test_forgotten_posts_are_not_stored_again(store):
    store.upsert_posts([Post("x", "1", "ana", "one"), Post("x", "2", "ana", "two")])
    keys = store.find_posts("ana", ["2"])
    assert keys == [("x", "2")] and store.forget_posts("ana", keys) == 1
    result = store.upsert_posts([Post("x", "2", "ana", "two again"), Post("x", "3", "ana", "three")])
    assert (result.added, result.forgotten) == (1, 1)
    assert [p.post_id for p in store.posts("ana")] == ["1", "3"]
    store.forget_account("ana")  # the whole account: its tombstones go too
    assert store.upsert_posts([Post("x", "2", "ana", "two, fetched anew")]).added == 1


def test_deletion_marks_hide_posts_until_a_source_returns_them(store):
    store.upsert_posts([Post("x", str(i), "ana", f"post {i}") for i in range(1, 6)])
    store.upsert_posts([Post("x", str(i), "ana", f"post {i}") for i in (1, 2, 4)], seen_at="T1")
    assert store.mark_unseen_deleted("x", "ana", "T1") == 2
    assert [p.post_id for p in store.posts("ana")] == ["1", "2", "4"] and store.count_deleted("ana") == 2
    store.upsert_posts([Post("x", "3", "ana", "post 3")], seen_at="T2")  # an import: marks stay
    assert store.count_deleted("ana") == 2
    store.upsert_posts([Post("x", "3", "ana", "post 3")], seen_at="T3", revive=True)  # a fetch: it exists
    assert store.count_deleted("ana") == 1


def test_origins_keep_their_first_time_and_the_latest_check(store):
    store.record_origin("ana", Origin("mastodon", FETCHED, "a.example", opt_out_checked_at="t1", opt_outs=("x",)))
    store.record_origin("ana", Origin("mastodon", FETCHED, deletions_checked_at="t2"))  # no opt-out check
    store.record_origin("ana", Origin("x", ARCHIVE))
    fetched, archive = store.origins("ana")
    assert (fetched.host, fetched.opt_out_checked_at, fetched.opt_outs, fetched.deletions_checked_at) == (
        "a.example",
        "t1",
        ("x",),
        "t2",
    )
    assert archive.how == ARCHIVE and archive.opt_out_checked_at is None
    store.record_origin("ana", Origin("mastodon", FETCHED, opt_out_checked_at="t3", owner="--i-am-the-account-owner"))
    assert store.origins("ana")[0].opt_outs == () and store.origins("ana")[0].owner == "--i-am-the-account-owner"


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda path: path.write_text("garbage " * 100),
            r"not a tweetling store: move it aside \(file is not a database\)",
        ),
        (
            lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]),
            r"a damaged tweetling store: restore it from a backup or move it aside \(database disk image is malformed\)",
        ),
        (
            lambda path: sqlite3.connect(path).execute("DROP TABLE origins").connection.commit(),
            r"a damaged tweetling store \(table origins missing\)",
        ),
    ],
)
def test_a_damaged_store_is_refused_in_one_line_naming_it(tmp_path, damage, message):
    path = tmp_path / "tweetling.db"
    with Store(path) as store:
        store.upsert_posts(Post("x", str(i), "ada", f"post number {i} " * 20) for i in range(300))
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    damage(path)
    with pytest.raises(TweetlingError, match=rf"^{path}: {message}") as refused, Store(path) as store:
        store.posts("ada")
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("where", ["file", "file/sub", "dangling"])
def test_a_home_that_cannot_be_a_folder_is_one_line(tmp_path, monkeypatch, where):
    from click.testing import CliRunner

    from tweetling.cli import cli

    (tmp_path / "file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    monkeypatch.setenv("TWEETLING_HOME", str(tmp_path / where))
    result = CliRunner().invoke(cli, ["accounts"])
    assert result.exit_code == 1
    missing = f": it links to {tmp_path / 'missing'}, which is missing"
    why = missing if where == "dangling" else " (nor can one be made there)"
    assert result.output == f"error: TWEETLING_HOME={tmp_path / where} is not a folder{why}\n"


def test_a_store_sqlite_cannot_open_is_one_line_saying_why(tmp_path):
    (tmp_path / "tweetling.db").mkdir()
    with pytest.raises(TweetlingError) as refused:
        Store(tmp_path / "tweetling.db")
    assert str(refused.value) == (
        f"{tmp_path / 'tweetling.db'}: cannot open the store: it is a folder (unable to open database file)"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_a_store_in_a_read_only_folder_is_one_line_saying_why(tmp_path):
    Store(tmp_path / "tweetling.db").close()
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(TweetlingError) as refused:
            Store(tmp_path / "tweetling.db")
        assert str(refused.value).startswith(
            f"{tmp_path / 'tweetling.db'}: the store is read-only: its folder {tmp_path} is not writable"
        )
    finally:
        tmp_path.chmod(0o755)


def test_a_file_the_machine_refuses_is_one_line_and_a_bug_is_not_hidden(tweetling_home, monkeypatch):
    import errno

    from click.testing import CliRunner

    from tweetling import store as store_module
    from tweetling.cli import cli

    def refuse(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/full/tweetling.db")

    monkeypatch.setattr(store_module.Store, "__init__", refuse)
    result = CliRunner().invoke(cli, ["accounts"])
    assert (result.exit_code, result.output) == (1, "error: /full/tweetling.db: No space left on device\n")

    def bug(*args, **kwargs):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(store_module.Store, "__init__", bug)
    assert isinstance(CliRunner().invoke(cli, ["accounts"]).exception, OSError)


def test_files_written_atomically_get_the_mode_open_would_give(tmp_path):
    import os
    import stat

    from tweetling import paths

    target = tmp_path / "tweetling.json"
    paths.write_text_atomic(target, "{}")
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_the_mlflow_hint_of_runs_is_quoted_for_a_shell(tmp_path, monkeypatch):
    import shlex

    from click.testing import CliRunner

    from tweetling.cli import cli

    home = tmp_path / "a home with spaces"
    monkeypatch.setenv("TWEETLING_HOME", str(home))
    result = CliRunner().invoke(cli, ["runs"])
    assert result.exit_code == 0, result.output
    assert f"mlflow ui --backend-store-uri {shlex.quote(f'sqlite:///{home}/mlflow.db')}" in " ".join(
        result.output.split()
    )
