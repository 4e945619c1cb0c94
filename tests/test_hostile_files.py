"""Hostile and broken input files: every one imports cleanly or stops with one line naming the
file, the record and the field, and the store is left exactly as it was (issue 11)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SAMPLE_ARCHIVE, store_fingerprint
from tweetling import limits
from tweetling.cli import cli
from tweetling.errors import InputError
from tweetling.importer import import_path
from tweetling.store import Store

DATA = Path(__file__).parent / "data"
ACCOUNT_JS = 'window.YTD.account.part0 = [{"account": {"username": "fern", "accountId": "4242"}}]'


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "t.db") as opened:
        import_path(opened, DATA / "archive")  # something to lose
        yield opened


def tweets_js(*tweets: dict | str) -> str:
    items = ", ".join(t if isinstance(t, str) else json.dumps({"tweet": t}) for t in tweets)
    return f"window.YTD.tweets.part0 = [{items}]"


def tweet(**fields) -> dict:
    return {"id_str": "1", "full_text": "a post", "created_at": "Wed Oct 10 20:19:24 +0000 2018", **fields}


def archive_folder(root: Path, tweets: str, account: str = ACCOUNT_JS, profile: str | None = None) -> Path:
    data = root / "archive" / "data"
    data.mkdir(parents=True)
    (data / "tweets.js").write_text(tweets, encoding="utf-8")
    (data / "account.js").write_text(account, encoding="utf-8")
    if profile is not None:
        (data / "profile.js").write_text(profile, encoding="utf-8")
    return root / "archive"


def zipped(target: Path, members: dict[str, bytes | str], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(target, "w", method) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return target


def refused(store: Store, path: Path, match: str, **options) -> InputError:
    """Import PATH expecting an InputError matching MATCH, on one line, with the store untouched."""
    before = store_fingerprint(store.path)
    with pytest.raises(InputError, match=match) as caught:
        import_path(store, path, **options)
    assert "\n" not in str(caught.value)
    assert store_fingerprint(store.path) == before
    return caught.value


# --- zip archives -------------------------------------------------------------------------------


def corrupt_crc(path: Path) -> Path:
    zipped(path, {"data/tweets.js": tweets_js(tweet()), "data/account.js": ACCOUNT_JS}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = data.index(b"a post")
    data[at] ^= 0x20
    path.write_bytes(bytes(data))
    return path


def broken_deflate(path: Path) -> Path:
    zipped(
        path,
        {"data/tweets.js": tweets_js(*[tweet(id_str=str(i)) for i in range(1, 200)]), "data/account.js": ACCOUNT_JS},
    )
    data = bytearray(path.read_bytes())
    start = data.index(b"data/tweets.js") + len("data/tweets.js")
    data[start + 20 : start + 60] = bytes(40)  # zeros in the middle of the deflate stream
    path.write_bytes(bytes(data))
    return path


def truncated(path: Path) -> Path:
    path.write_bytes(SAMPLE_ARCHIVE.read_bytes()[: SAMPLE_ARCHIVE.stat().st_size // 2])
    return path


def not_a_zip(path: Path) -> Path:
    path.write_text("this is a text file, named like a zip\n")
    return path


def zip_bomb(path: Path) -> Path:
    return zipped(path, {"data/tweets.js": b"[" + b" " * (30 * limits.MiB) + b"]", "data/account.js": ACCOUNT_JS})


@pytest.mark.parametrize(
    "make, message",
    [
        (corrupt_crc, r"^x\.zip/data/tweets\.js: corrupt zip \(Bad CRC-32"),
        (broken_deflate, r"^x\.zip/data/tweets\.js: corrupt zip \("),
        (truncated, r"^x\.zip: corrupt zip \(no zip directory at its end"),
        (not_a_zip, r"^x\.zip: corrupt zip"),
        (zip_bomb, r"^x\.zip/data/tweets\.js: inflates [\d,]+-fold \(more than 100-fold\)"),
    ],
)
def test_broken_zip_says_corrupt_zip(store: Store, tmp_path: Path, make, message):
    refused(store, make(tmp_path / "x.zip"), message)


@pytest.mark.parametrize(
    "cap, value, message",
    [
        (
            "MAX_DATA_FILE_BYTES",
            10_000,
            r"^sample\.zip/data/tweets\.js: [\d,]+ bytes uncompressed, more than the 10,000 bytes",
        ),
        ("MAX_ARCHIVE_BYTES", 10_000, r"^sample\.zip: its data files hold [\d,]+ bytes, more than the 10,000 bytes"),
    ],
)
def test_zip_sizes_are_capped_before_reading(store, tmp_path, monkeypatch, cap, value, message):
    monkeypatch.setattr(limits, cap, value)
    refused(store, shutil.copy(SAMPLE_ARCHIVE, tmp_path / "sample.zip"), message)


def test_zip_member_names_never_become_paths(store: Store, tmp_path: Path):
    escape = tmp_path / "escaped"
    archive = zipped(
        tmp_path / "x.zip",
        {"../../escaped/data/tweets.js": tweets_js(tweet()), "../../escaped/data/account.js": ACCOUNT_JS},
    )
    cwd = os.getcwd()
    os.chdir(tmp_path / "..")
    try:
        result = import_path(store, archive)
    finally:
        os.chdir(cwd)
    assert (result.account, result.added) == ("fern", 1)
    assert not escape.exists() and not (tmp_path.parent.parent / "escaped").exists()


# --- archive records ----------------------------------------------------------------------------

BAD_IDS = [
    1.5,
    1e18,
    [1],
    True,
    {"id": 1},
    "../etc/passwd",
    "1.5",
    "-5",
    "0",
    "",
    "12345678901234567890123",
    "18446744073709551616",
    2**64,
]


@pytest.mark.parametrize("value", BAD_IDS)
def test_archive_ids_must_be_positive_integers(store, tmp_path, value):
    folder = archive_folder(tmp_path, tweets_js(tweet(id_str=value)))
    refused(store, folder, r"^archive/data/tweets\.js: record 1: field 'id_str': expected a positive integer id, got ")


@pytest.mark.parametrize(
    "date",
    [
        "Mon Jan 01 00:00:00 +0100 0001",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "Fri Dec 31 23:59:59 -0100 9999",
        "99999999999999999999",
        {"$date": 1},
    ],
)
def test_archive_dates_out_of_range_or_of_the_wrong_type(store, tmp_path, date):
    folder = archive_folder(tmp_path, tweets_js(tweet(created_at=date)))
    refused(store, folder, r"^archive/data/tweets\.js: record 1: field 'created_at': cannot parse date ")


@pytest.mark.parametrize(
    "tweets, message",
    [
        (
            tweets_js(tweet(full_text={"text": "hi"})),
            r"tweets\.js: record 1: field 'full_text': expected a string, got object$",
        ),
        (tweets_js(tweet(full_text=["hi"])), r"tweets\.js: record 1: field 'full_text': expected a string, got array$"),
        (tweets_js(tweet(), "42"), r"tweets\.js: record 2: expected a tweet object$"),
        (tweets_js(tweet(), '{"tweet": "text"}'), r"tweets\.js: record 2: record: expected an object, got string$"),
        ("window.YTD.tweets.part0 = {}", r"tweets\.js: expected a JSON array of records$"),
        (tweets_js(tweet()) + "\nalert(1)", r"tweets\.js:2: invalid JSON \(extra data after the array\)$"),
        ("window.YTD.tweets.part0 = " + "[" * 100_000 + "]" * 100_000, r"tweets\.js: JSON nested too deeply"),
        ("\x00" * 100, r"tweets\.js: not an archive data file"),
        ("", r"tweets\.js: not an archive data file"),
    ],
)
def test_archive_records_of_the_wrong_shape(store, tmp_path, tweets, message):
    refused(store, archive_folder(tmp_path, tweets), r"^archive/data/" + message)


def test_raw_record_nested_deeper_than_the_cap_names_file_and_post(store, tmp_path):
    nested: dict = {}
    for _ in range(limits.MAX_JSON_DEPTH + 5):
        nested = {"n": nested}
    folder = archive_folder(tmp_path, tweets_js(tweet(id_str="77", entities=nested)))
    refused(store, folder, r"^archive: x post 77: raw record nested more than 100 levels deep$")


def test_a_jsonl_record_nested_deeper_than_the_cap_names_its_line(store, tmp_path):
    deep = "[" * 150 + "]" * 150
    path = tmp_path / "deep.jsonl"
    path.write_text(f'{{"text": "fine", "user": "bob"}}\n{{"text": "hi", "user": "bob", "x": {deep}}}\n')
    refused(store, path, r"^deep\.jsonl:2: record nested more than 100 levels deep$")


@pytest.mark.parametrize(
    "account, profile, message",
    [
        (
            'window.YTD.account.part0 = [{"account": {"username": 12345}}]',
            None,
            r"field 'username': expected a string, got number",
        ),
        (
            'window.YTD.account.part0 = [{"account": {"username": "fern\\n"}}]',
            None,
            r"field 'username': invalid account name",
        ),
        (
            'window.YTD.account.part0 = [{"account": {"username": "fern", "accountId": 4.2}}]',
            None,
            r"field 'accountId': expected a positive integer id",
        ),
    ],
)
def test_archive_account_fields_that_name_the_account_are_checked(store, tmp_path, account, profile, message):
    folder = archive_folder(tmp_path, tweets_js(tweet()), account=account, profile=profile)
    refused(store, folder, r"^archive/data/account\.js: record 1: " + message)


def test_descriptive_fields_of_the_wrong_type_are_left_empty(store, tmp_path):
    account = 'window.YTD.account.part0 = [{"account": {"username": "fern", "accountDisplayName": {"a": 1}}}]'
    profile = 'window.YTD.profile.part0 = [{"profile": {"description": "a plain string", "avatarMediaUrl": 7}}]'
    folder = archive_folder(
        tmp_path, tweets_js(tweet(lang={"code": "en"}), tweet(id_str="2", lang=["fr"])), account, profile
    )

    result = import_path(store, folder)

    assert result.added == 2
    stored = store.account("fern")
    assert (stored.display_name, stored.bio, stored.avatar_url) == (None, None, None)
    assert {post.lang for post in store.posts("fern")} == {None}


def test_lone_surrogates_keep_the_post_and_replace_the_broken_character(store, tmp_path):
    folder = archive_folder(
        tmp_path,
        tweets_js(
            '{"tweet": {"id_str": "1", "full_text": "half an emoji \\ud83d here", "lang": "en"}}',
            '{"tweet": {"id_str": "2", "full_text": "a whole one \\ud83d\\ude00"}}',
        ),
    )
    result = import_path(store, folder)

    assert result.added == 2
    texts = [post.text for post in store.posts("fern")]
    assert texts == ["half an emoji \ufffd here", "a whole one \U0001f600"]
    assert store.posts("fern")[0].raw["full_text"] == "half an emoji \ufffd here"


def test_post_text_is_capped(store, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_POST_CHARS", 50)
    folder = archive_folder(tmp_path, tweets_js(tweet(full_text="x" * 51)))
    refused(store, folder, r"tweets\.js: record 1: field 'full_text': 51 characters, more than the 50 a post may have$")


def test_dev_zero_as_an_archive_is_refused_without_reading_it(store):
    refused(store, Path("/dev/zero"), r"^zero: not an archive data file", account="a", fmt="x-archive")


# --- CSV, JSONL and text files ------------------------------------------------------------------


def latin1_at_line(name: str, header: str, line_of: callable, bad_line: int) -> callable:
    def make(root: Path) -> Path:
        lines = [header] if header else []
        lines += [line_of(n) for n in range(1, bad_line - len(lines))]
        body = "".join(f"{line}\n" for line in lines).encode() + "caf\xe9\n".encode("latin-1")
        (root / name).write_bytes(body)
        return root / name

    return make


def written(name: str, text: str) -> callable:
    def make(root: Path) -> Path:
        (root / name).write_text(text, encoding="utf-8", newline="")
        return root / name

    return make


@pytest.mark.parametrize(
    "make, message",
    [
        (
            written("p.csv", 'id,text\n1,"fine"\n2,"never closed\n3,more\n4,end\n'),
            r"^p\.csv:3: a quoted field starting in this row is never closed$",
        ),
        (written("p.csv", "id,text\n1.5,x\n"), r"^p\.csv:2: column 'id': expected a positive integer id, got '1\.5'$"),
        (written("p.csv", "id,text\n1e18,x\n"), r"^p\.csv:2: column 'id': expected a positive integer id"),
        (written("p.csv", "id,text\n../x,x\n"), r"^p\.csv:2: column 'id': expected a positive integer id"),
        (
            written("p.csv", "id,text,created_at\n1,x,0001-01-01T00:00:00+01:00\n"),
            r"^p\.csv:2: column 'created_at': cannot parse date .* \(out of range\)$",
        ),
        (
            written("p.csv", "text,text,username\nhi,there,bob\n"),
            r"^p\.csv:1: column 'text' appears twice in the header$",
        ),
        (written("p.csv", "id,id,text\n1,2,hi\n"), r"^p\.csv:1: column 'id' appears twice in the header$"),
        (
            written("p.csv", "id,text\n778,one\n779,two\n778,three\n"),
            r"^p\.csv:4: column 'id': post 778 repeats the one at p\.csv:2$",
        ),
        (
            written("p.jsonl", '{"id": "5", "text": "a"}\n\n{"id": 5, "text": "b"}\n'),
            r"^p\.jsonl:3: field 'id': post 5 repeats the one at p\.jsonl:1$",
        ),
        (
            latin1_at_line("p.csv", "id,text", lambda n: f"{n},post number {n} with some padding words", 3001),
            r"^p\.csv:3001: not UTF-8 text",
        ),
        (
            latin1_at_line("p.jsonl", "", lambda n: json.dumps({"id": n, "text": f"post {n} padding words"}), 3000),
            r"^p\.jsonl:3000: not UTF-8 text",
        ),
        (
            latin1_at_line("p.txt", "", lambda n: f"post {n} with some padding words", 2500),
            r"^p\.txt:2500: not UTF-8 text",
        ),
    ],
)
def test_broken_csv_and_encoding_errors_name_the_line(store, tmp_path, make, message):
    refused(store, make(tmp_path), message, account="a")


JSON_BAD_IDS = [1.5, [1], True, {"id": 1}, None, "../x", -1, 0, 10**25]


@pytest.mark.parametrize("value", JSON_BAD_IDS)
def test_jsonl_ids_of_every_wrong_kind_name_the_line(store, tmp_path, value):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": 1, "text": "fine"}) + "\n" + json.dumps({"id": value, "text": "x"}) + "\n")
    expected = "missing field 'id'" if value is None else "field 'id': expected a positive integer id, got "
    refused(store, path, r"^p\.jsonl:2: " + expected, account="a")


@pytest.mark.parametrize(
    "record, message",
    [
        ({"id": 1, "text": ["a"], "username": "a"}, r"field 'text': expected a string, got array$"),
        ({"id": 1, "text": "x", "username": 123}, r"field 'username': expected a handle, got number$"),
        (
            {"id": 1, "text": "x", "username": {"screen_name": ["a"]}},
            r"field 'username\.screen_name': expected a string, got array$",
        ),
        ({"id": 1, "text": "x", "username": "a b"}, r"field 'username': invalid account name"),
        (
            {"id": 1, "text": "x", "username": "a", "created_at": "9999-12-31T23:59:59-01:00"},
            r"field 'created_at': cannot parse date",
        ),
        (
            {"id": 1, "text": "x", "username": "a", "created_at": [2020]},
            r"field 'created_at': cannot parse date \[2020\]$",
        ),
    ],
)
def test_jsonl_fields_of_the_wrong_type(store, tmp_path, record, message):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(record) + "\n")
    refused(store, path, r"^p\.jsonl:1: " + message)


def test_jsonl_deep_nesting_is_one_line(store, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 1, "text": "x", "deep": ' + "[" * 50_000 + "]" * 50_000 + "}\n")
    refused(store, path, r"^p\.jsonl:1: JSON nested too deeply to read$", account="a")


def test_jsonl_descriptive_fields_of_the_wrong_type_are_left_empty(store, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": 5, "text": "hello there friends", "lang": {"code": "en"}}) + "\n")
    assert import_path(store, path, account="a").added == 1
    assert store.posts("a")[0].lang is None


@pytest.mark.parametrize(
    "cap, value, name, text, message",
    [
        ("MAX_LINE_BYTES", 100, "p.txt", "short\n" + "x" * 200 + "\n", r"^p\.txt:2: line longer than"),
        ("MAX_FILE_BYTES", 1000, "p.txt", "a line of text\n" * 100, r"^p\.txt: larger than"),
        (
            "MAX_POSTS_PER_IMPORT",
            3,
            "p.txt",
            "a post\n" * 4,
            r"^p\.txt: more than 3 posts, the most one import may add$",
        ),
        ("MAX_POST_CHARS", 20, "p.txt", "x" * 21 + "\n", r"^p\.txt:1: 21 characters, more than the 20"),
        ("MAX_POST_CHARS", 20, "p.csv", "id,text\n1," + "x" * 21 + "\n", r"^p\.csv:2: column 'text': 21 characters"),
    ],
)
def test_file_caps_are_one_line_errors(store, tmp_path, monkeypatch, cap, value, name, text, message):
    monkeypatch.setattr(limits, cap, value)
    (tmp_path / name).write_text(text)
    refused(store, tmp_path / name, message, account="a")


@pytest.mark.parametrize("fmt", ["text", "jsonl", "csv"])
def test_reading_dev_zero_stops_at_the_line_cap(store, fmt):
    refused(store, Path("/dev/zero"), r"^zero:1: line longer than 16 MiB$", account="a", fmt=fmt)


def test_a_stream_of_unknown_format_is_refused_unread(store):
    refused(store, Path("/dev/zero"), r"^zero: cannot tell the format of a stream: pass --format", account="a")


@pytest.mark.parametrize(
    "fmt, name, account",
    [("csv", "minimal.csv", "a"), ("x-archive", "archive/data/tweets.js", "fixture_fern")],
)
def test_a_pipe_is_read_whole_once(store, tmp_path, fmt, name, account):
    """`tweetling import <(…)`: nothing may peek at a pipe's first bytes before its reader does."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    data = (DATA / name).read_bytes()
    writer = threading.Thread(target=pipe.write_bytes, args=(data,))
    writer.start()
    try:
        result = import_path(store, pipe, account=account, fmt=fmt)
    finally:
        writer.join(timeout=10)
    expected = import_path(Store(tmp_path / "again.db"), DATA / name, account=account, fmt=fmt)
    assert result.kinds == expected.kinds and sum(result.kinds.values()) == expected.total > 0


def test_a_file_that_is_no_archive_says_so_as_an_archive(store, tmp_path):
    refused(store, DATA / "minimal.csv", r"^minimal\.csv: not an X archive, nor one of its data files", fmt="x-archive")


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, args, message",
    [
        (truncated, [], "x.zip: corrupt zip"),
        (written("p.csv", 'id,text\n1,"never closed\n'), ["--account", "a"], "p.csv:2: a quoted field"),
        (written("p.jsonl", '{"id": 1.5, "text": "x"}\n'), ["--account", "a"], "p.jsonl:1: field 'id': expected"),
    ],
)
def test_cli_prints_one_line_and_exits_nonzero(tweetling_home, tmp_path, make, args, message):
    path = make(tmp_path / "x.zip") if make is truncated else make(tmp_path)
    result = CliRunner().invoke(cli, ["import", str(path), *args])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {message}") and result.output.count("\n") == 1
    assert "Traceback" not in result.output
