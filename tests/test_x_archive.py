"""The X archive reader on hand-written good and broken archives (tests/data)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from tweetling.errors import InputError
from tweetling.sources.x_archive import read_archive, tweet_kind

DATA = Path(__file__).parent / "data"
FIXTURE_KINDS = {
    "1001": "original",
    "1002": "retweet",
    "1003": "retweet",
    "1004": "reply",
    "1005": "reply",
    "1006": "quote",
    "1007": "original",
    "1008": "original",
}


def zip_folder(folder: Path, target: Path, root: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zf.write(file, root + file.relative_to(folder).as_posix())
    return target


def test_folder_archive_reads_every_part_profile_and_kind():
    archive = read_archive(DATA / "archive")
    posts = {post.post_id: post for post in archive.posts}

    assert archive.profile.name == "fixture_fern"
    assert archive.profile.display_name == "Fixture Fern"
    assert archive.profile.bio == "A hand-written test fixture."
    assert archive.profile.avatar_url == "https://pbs.twimg.com/profile_images/1/fixture.jpg"
    assert archive.profile.source_id == "4242"
    assert {post_id: post.kind for post_id, post in posts.items()} == FIXTURE_KINDS
    first = posts["1001"]
    assert (first.source, first.account, first.lang) == ("x", "fixture_fern", "en")
    assert first.created_at == "2018-10-10T20:19:24+00:00"
    assert first.text == "Planted garlic today &amp; it felt great"  # raw: cleaning unescapes later
    assert first.raw["retweeted"] is False
    assert posts["1007"].lang == "fr" and "\n" in posts["1007"].text
    assert posts["1008"].text.startswith("a bare record")  # no {"tweet": ...} wrapper, `text` field


def test_zip_with_a_root_folder_reads_like_the_extracted_folder(tmp_path: Path):
    zipped = zip_folder(DATA / "archive", tmp_path / "twitter-2022.zip", root="twitter-2022-11-14/")
    from_zip = read_archive(zipped)
    from_folder = read_archive(DATA / "archive")

    assert from_zip.profile == from_folder.profile
    assert list(from_zip.posts) == list(from_folder.posts)


def test_data_folder_itself_is_an_archive():
    assert len(list(read_archive(DATA / "archive" / "data").posts)) == len(FIXTURE_KINDS)


def test_bare_tweets_js_takes_the_account_from_account_js_beside_it():
    archive = read_archive(DATA / "archive" / "data" / "tweets.js")
    assert archive.profile.name == "fixture_fern"
    assert [post.post_id for post in archive.posts] == ["1001", "1002", "1003", "1004", "1005", "1006"]


def test_bare_old_style_tweet_js_needs_an_account():
    with pytest.raises(InputError, match=r"tweet\.js: .*pass --account NAME"):
        read_archive(DATA / "bare" / "tweet.js")
    archive = read_archive(DATA / "bare" / "tweet.js", account="old_timer")
    assert [(p.account, p.kind) for p in archive.posts] == [("old_timer", "original"), ("old_timer", "reply")]


def test_account_option_overrides_account_js_but_keeps_the_profile():
    archive = read_archive(DATA / "archive", account="someone_else")
    assert archive.profile.name == "someone_else"
    assert archive.profile.display_name == "Fixture Fern"
    assert {post.account for post in archive.posts} == {"someone_else"}


def test_parts_are_read_in_number_order(tmp_path: Path):
    data = tmp_path / "archive" / "data"
    data.mkdir(parents=True)
    shutil.copy(DATA / "archive" / "data" / "account.js", data)
    for number in (0, 2, 10):
        name = "tweets.js" if number == 0 else f"tweets-part{number}.js"
        (data / name).write_text(
            f'window.YTD.tweets.part{number} = [{{"tweet": {{"id_str": "{100 + number}", "full_text": "p"}}}}]'
        )
    assert [post.post_id for post in read_archive(tmp_path / "archive").posts] == ["100", "102", "110"]


def test_missing_field_names_file_record_and_field():
    posts = read_archive(DATA / "broken" / "tweets.js", account="a").posts
    with pytest.raises(InputError, match=r"^tweets\.js: record 3: missing field 'full_text'$"):
        list(posts)


def test_invalid_json_names_the_line():
    with pytest.raises(InputError, match=r"^truncated\.js:3: invalid JSON \(Expecting ',' delimiter\)$"):
        list(read_archive(DATA / "broken" / "truncated.js", account="a").posts)


def test_unparseable_date_names_the_record(tmp_path: Path):
    bad = tmp_path / "tweets.js"
    bad.write_text(
        'window.YTD.tweets.part0 = [{"tweet": {"id_str": "1", "full_text": "x", "created_at": "yesterday"}}]'
    )
    with pytest.raises(InputError, match=r"record 1: field 'created_at': cannot parse date 'yesterday'"):
        list(read_archive(bad, account="a").posts)


def test_zip_without_tweets_js_is_refused(tmp_path: Path):
    zipped = tmp_path / "photos.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("data/account.js", "window.YTD.account.part0 = []")
    with pytest.raises(InputError, match=r"photos\.zip: no data/tweets\.js"):
        read_archive(zipped)


def test_zip_of_two_archives_is_refused_not_half_imported(tmp_path: Path):
    zipped = tmp_path / "both.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for root in ("a", "b"):
            zf.writestr(f"{root}/data/tweets.js", "window.YTD.tweets.part0 = []")
    with pytest.raises(InputError, match=r"^both\.zip: holds more than one archive \(a/data/, b/data/\)"):
        read_archive(zipped)


def test_data_file_without_the_wrapper_is_refused(tmp_path: Path):
    bad = tmp_path / "tweets.js"
    bad.write_text("console.log('hello')")
    with pytest.raises(InputError, match=r"expected 'window\.YTD\.<name>\.part0 = \['"):
        list(read_archive(bad, account="a").posts)


def test_retweet_wins_over_reply_and_quote():
    reply_retweet = {"in_reply_to_status_id_str": "1", "is_quote_status": True}
    assert tweet_kind(reply_retweet, "RT @a: hi") == "retweet"
    assert tweet_kind(reply_retweet, "hi") == "reply"
    assert tweet_kind({"is_quote_status": False, "quoted_status_id_str": "9"}, "hi") == "quote"
    assert tweet_kind({"in_reply_to_status_id_str": None, "is_quote_status": False}, "@a hi") == "original"
