"""import_path and `tweetling import`: one transaction per file, upserts, the sample archive, real data."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO, SAMPLE_ARCHIVE
from tweetling.clean import clean_posts
from tweetling.cli import cli
from tweetling.errors import InputError
from tweetling.importer import detect_format, import_path
from tweetling.posts import Post
from tweetling.store import Store

DATA = Path(__file__).parent / "data"


@pytest.fixture
def store(tweetling_home: Path) -> Store:
    with Store() as opened:
        yield opened


def snapshot(store: Store) -> list[tuple]:
    return [tuple(row) for row in store.db.execute("SELECT * FROM posts ORDER BY source, post_id")] + [
        tuple(row)[:-1] for row in store.db.execute("SELECT * FROM accounts ORDER BY name")
    ]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("archive", "x-archive"),
        ("archive/data/tweets.js", "x-archive"),
        ("minimal.csv", "csv"),
        ("tweepy.jsonl", "jsonl"),
        ("posts.txt", "text"),
    ],
)
def test_detect_format_by_suffix(name, expected):
    assert detect_format(DATA / name) == expected


def test_detect_format_by_content(tmp_path: Path):
    samples = {
        "a.dat": "window.YTD.tweets.part0 = []",
        "b.dat": '{"text": "hi"}\n',
        "c.dat": "id,created_at,text\n1,2020-01-01,hi\n",
        "d.dat": "just a line\n",
    }
    for name, text in samples.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "e.dat").write_bytes(SAMPLE_ARCHIVE.read_bytes())
    assert [detect_format(tmp_path / n) for n in [*samples, "e.dat"]] == [
        "x-archive",
        "jsonl",
        "csv",
        "text",
        "x-archive",
    ]


def test_import_archive_counts_kinds_and_saves_the_profile(store: Store):
    result = import_path(store, DATA / "archive")

    assert (result.account, result.added, result.updated) == ("fixture_fern", 8, 0)
    assert result.kinds == {"original": 3, "retweet": 2, "reply": 2, "quote": 1}
    assert store.count_posts("fixture_fern") == 8
    profile = store.account("fixture_fern")
    assert (profile.display_name, profile.source, profile.source_id) == ("Fixture Fern", "x", "4242")


def test_import_twice_adds_nothing(store: Store):
    first = import_path(store, DATA / "text-only.csv", account="musk")
    before = snapshot(store)
    again = import_path(store, DATA / "text-only.csv", account="musk")

    assert (first.added, again.added, again.updated) == (4, 0, 0)
    assert again.kinds == first.kinds
    assert snapshot(store) == before


def test_broken_file_leaves_the_store_unchanged(store: Store):
    import_path(store, DATA / "archive")
    before = snapshot(store)
    for path, account in [
        (DATA / "broken" / "tweets.js", "fixture_fern"),
        (DATA / "bad-date.csv", "x1"),
        (DATA / "broken.jsonl", "x2"),
    ]:
        with pytest.raises(InputError):
            import_path(store, path, account=account)
        assert snapshot(store) == before


def test_archive_after_api_posts_updates_them_without_duplicates(store: Store):
    fetched = [
        Post("x", "1001", "fixture_fern", "Planted garlic today &amp; it felt…"),
        Post("x", "1004", "fixture_fern", "@friend thanks", kind="original"),
    ]
    store.upsert_posts(fetched)

    result = import_path(store, DATA / "archive")

    assert (result.added, result.updated) == (6, 2)
    posts = {post.post_id: post for post in store.posts("fixture_fern")}
    assert len(posts) == 8
    assert posts["1001"].text == "Planted garlic today &amp; it felt great"
    assert posts["1004"].kind == "reply" and posts["1004"].raw["in_reply_to_status_id_str"] == "950"


def test_file_import_keeps_a_richer_profile(store: Store, tmp_path: Path):
    import_path(store, DATA / "archive")
    extra = tmp_path / "more.txt"
    extra.write_text("one more post written by hand\n")

    result = import_path(store, extra, account="fixture_fern")

    assert result.added == 1 and store.count_posts("fixture_fern") == 9
    assert store.account("fixture_fern").display_name == "Fixture Fern"
    assert store.account("fixture_fern").source == "x"


def test_text_file_creates_a_file_account(store: Store):
    result = import_path(store, DATA / "posts.txt", account="writer")
    assert result.kinds == {"original": 3, "retweet": 1, "reply": 1}
    assert store.account("writer").source == "file"


def test_empty_file_is_an_error(store: Store, tmp_path: Path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match=r"^empty\.txt: no posts found$"):
        import_path(store, empty, account="nobody")
    assert store.account("nobody") is None


def test_source_option_cannot_relabel_an_archive(store: Store):
    with pytest.raises(Exception, match="always source 'x'"):
        import_path(store, DATA / "archive", source="mastodon")


# --- the command line ---------------------------------------------------------------------------


def test_cli_import_prints_summary_and_kinds(tweetling_home: Path):
    result = CliRunner().invoke(cli, ["import", str(DATA / "archive")])

    assert result.exit_code == 0, result.output
    assert "added 8, updated 0, account fixture_fern" in result.output
    assert re.search(r"retweet\s*│\s*2", result.output)
    again = CliRunner().invoke(cli, ["import", str(DATA / "archive")])
    assert "added 0, updated 0, account fixture_fern" in again.output


def test_cli_import_options(tweetling_home: Path):
    result = CliRunner().invoke(
        cli, ["import", str(DATA / "minimal.csv"), "--account", "obama", "--source", "file", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    with Store() as store:
        assert {post.source for post in store.posts("obama")} == {"file"}


def test_cli_import_says_when_posts_move_from_another_account(tweetling_home: Path):
    first = CliRunner().invoke(cli, ["import", str(DATA / "minimal.csv"), "--account", "obama"])
    assert first.exit_code == 0, first.output
    with Store() as store:
        held = store.count_posts("obama")

    again = CliRunner().invoke(cli, ["import", str(DATA / "minimal.csv"), "--account", "barack"])

    assert again.exit_code == 0, again.output
    assert f"moved here: {held:,} from obama" in again.output
    with Store() as store:
        assert (store.count_posts("obama"), store.count_posts("barack")) == (0, held)
    quiet = CliRunner().invoke(cli, ["import", str(DATA / "minimal.csv"), "--account", "barack"])
    assert "moved" not in quiet.output


def test_cli_import_errors_exit_nonzero_with_the_location(tweetling_home: Path):
    result = CliRunner().invoke(cli, ["import", str(DATA / "bad-date.csv"), "--account", "a"])
    assert result.exit_code == 1
    assert "bad-date.csv:3: column 'created_at': cannot parse date" in result.output
    missing_account = CliRunner().invoke(cli, ["import", str(DATA / "bare" / "tweet.js")])
    assert missing_account.exit_code == 1 and "--account" in missing_account.output
    with Store() as store:
        assert store.count_posts() == 0


# --- the bundled sample archive ----------------------------------------------------------------


def sample_tweets() -> list[dict]:
    with zipfile.ZipFile(SAMPLE_ARCHIVE) as zf:
        text = zf.read("data/tweets.js").decode()
    prefix = "window.YTD.tweets.part0 = "
    assert text.startswith(prefix)
    return [item["tweet"] for item in json.loads(text[len(prefix) :])]


def test_sample_archive_imports_with_kinds_counted_from_its_json(store: Store):
    tweets = sample_tweets()
    expected = Counter(
        "retweet"
        if t["full_text"].startswith("RT @")
        else "reply"
        if t.get("in_reply_to_status_id_str")
        else "quote"
        if t.get("is_quote_status")
        else "original"
        for t in tweets
    )

    result = import_path(store, SAMPLE_ARCHIVE)

    assert result.account == "tweetling_sample"
    assert result.added == len(tweets) == store.count_posts("tweetling_sample")
    assert result.kinds == dict(expected)
    assert store.account("tweetling_sample").display_name == "Sample Sprout (fictional)"
    assert "fictional" in store.account("tweetling_sample").bio.lower()


def test_sample_archive_has_the_promised_mix():
    tweets = sample_tweets()
    texts = [t["full_text"] for t in tweets]

    assert 450 <= len(tweets) <= 550
    assert {"fr", "es", "de"} <= {t["lang"] for t in tweets}
    assert sum("&amp;" in t for t in texts) >= 5 and any("&lt;" in t or "&gt;" in t for t in texts)
    assert sum("\n" in t for t in texts) >= 10
    assert sum("https://t.co/" in t for t in texts) >= 20
    assert sum(t.startswith("RT @") and t.endswith("…") for t in texts) >= 5
    assert sum(len(t.split()) < 3 for t in texts) >= 10
    assert any(ord(c) > 0x1F000 for t in texts for c in t)  # emoji
    for tweet in tweets:
        assert {
            "id_str",
            "full_text",
            "created_at",
            "lang",
            "entities",
            "display_text_range",
            "favorite_count",
            "retweet_count",
            "retweeted",
        } <= tweet.keys()
        for url in tweet["entities"]["urls"]:
            start, end = map(int, url["indices"])
            assert tweet["full_text"][start:end] == url["url"]
    with zipfile.ZipFile(SAMPLE_ARCHIVE) as zf:
        assert {"data/account.js", "data/profile.js", "data/manifest.js"} <= set(zf.namelist())


def test_sample_archive_has_enough_kept_text(store: Store):
    import_path(store, SAMPLE_ARCHIVE)
    cleaned = clean_posts("tweetling_sample", store.posts("tweetling_sample"))
    assert cleaned.table.kept_chars >= 45_000


def test_sample_archive_rebuilds_to_the_same_bytes(tmp_path: Path):
    spec = importlib.util.spec_from_file_location("make_sample_archive", REPO / "examples" / "make_sample_archive.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    module.write_zip(tmp_path / "rebuilt.zip", module.archive_files())

    assert (tmp_path / "rebuilt.zip").read_bytes() == SAMPLE_ARCHIVE.read_bytes()
    assert SAMPLE_ARCHIVE.stat().st_size < 300_000


# --- real public data in ../shared (skipped when absent) ---------------------------------------


def csv_texts(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def archive_texts(folder: Path) -> list[str]:
    text = (folder / "data" / "tweets.js").read_text(encoding="utf-8")
    return [item["tweet"]["full_text"] for item in json.loads(text[text.index("=") + 1 :])]


@pytest.mark.parametrize(
    "name, account, records, retweets",
    [
        ("BarackObama.csv", "BarackObama", 2968, 30),
        ("realDonaldTrump.csv", "realDonaldTrump", 2987, 5),
        ("elonmusk.csv", "elonmusk", 2434, 433),
        ("andreruffert-archive", None, 1986, 643),
    ],
)
def test_real_files_import_completely(store: Store, shared_tweets: Path, name, account, records, retweets):
    path = shared_tweets / name
    texts = archive_texts(path) if path.is_dir() else csv_texts(path)
    assert (len(texts), sum(t.startswith("RT @") for t in texts)) == (records, retweets)  # SOURCES.md

    result = import_path(store, path, account=account)

    assert result.added == records == store.count_posts(result.account)
    assert sum(result.kinds.values()) == records
    assert result.kinds["retweet"] == retweets
    assert import_path(store, path, account=account).added == 0
