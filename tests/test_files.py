"""CSV, JSONL and plain-text readers on hand-written good and broken files (tests/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tweetling.errors import InputError
from tweetling.sources import is_set, parse_date
from tweetling.sources.files import read_csv, read_jsonl, read_text

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Wed Oct 10 20:19:24 +0000 2018", "2018-10-10T20:19:24+00:00"),
        ("2015-11-25 18:29:09", "2015-11-25T18:29:09+00:00"),
        ("2018-10-10T20:19:24.000Z", "2018-10-10T20:19:24+00:00"),
        ("2022-03-05 10:00:00+00:00", "2022-03-05T10:00:00+00:00"),
        ("2020-06-06 18:03:17 +0200", "2020-06-06T16:03:17+00:00"),
        ("2020-01-01 10:00:00 UTC", "2020-01-01T10:00:00+00:00"),
        ("1591459397000", "2020-06-06T16:03:17+00:00"),
        (1591459397, "2020-06-06T16:03:17+00:00"),
    ],
)
def test_parse_date_gives_iso_utc(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["2015-13-45", "yesterday", ""])
def test_parse_date_refuses_nonsense(value):
    with pytest.raises(ValueError):
        parse_date(value)


def test_is_set_reads_flags_of_every_spelling():
    assert [is_set(v) for v in (True, "True", "123", [1], {"a": 1})] == [True] * 5
    assert [is_set(v) for v in (None, False, "", "False", "[]", "0", "nan", [])] == [False] * 8


def test_minimal_csv_with_bom_multiline_fields_and_date_formats():
    posts = list(read_csv(DATA / "minimal.csv", account="obama"))

    assert [(p.post_id, p.kind) for p in posts] == [
        ("669345146022981632", "retweet"),
        ("669233514047377408", "original"),
        ("669191618809888768", "reply"),
        ("669191618809888769", "original"),
    ]
    assert {p.source for p in posts} == {"x"}  # tweet ids: X posts
    assert posts[0].text == 'RT @someone: a "quoted" retweet…'
    assert posts[1].text == "A post with\ntwo lines &amp; an entity https://t.co/Sc7zDxRI9Y"
    assert [p.created_at for p in posts] == [
        "2015-11-25T02:41:33+00:00",
        "2015-11-24T19:17:58+00:00",
        "2015-11-24T16:31:29+00:00",
        "2018-10-10T20:19:24+00:00",
    ]
    assert posts[0].raw == {
        "id": "669345146022981632",
        "created_at": "2015-11-25 02:41:33",
        "text": 'RT @someone: a "quoted" retweet…',
    }


def test_text_only_csv_gets_stable_ids_and_source_file():
    first = list(read_csv(DATA / "text-only.csv", account="musk"))
    again = list(read_csv(DATA / "text-only.csv", account="musk"))

    assert [p.post_id for p in first] == [p.post_id for p in again]
    assert len({p.post_id for p in first}) == 4
    assert {p.source for p in first} == {"file"}
    assert [p.kind for p in first] == ["original", "original", "retweet", "reply"]
    assert first[1].text == "second post,\nwith a comma and a line break"
    assert first[0].created_at is None


def test_explicit_source_overrides_the_default():
    assert {p.source for p in read_csv(DATA / "minimal.csv", "a", source="file")} == {"file"}


def test_twint_csv():
    posts = list(read_csv(DATA / "twint.csv"))

    assert {p.account for p in posts} == {"twint_user"}
    assert [p.kind for p in posts] == ["original", "reply", "original", "retweet", "quote"]
    assert posts[0].created_at == "2020-06-06T16:03:17+00:00"  # date + time + timezone
    assert posts[4].lang == "de"


def test_snscrape_csv_takes_the_handle_from_the_user_url():
    posts = list(read_csv(DATA / "snscrape.csv"))

    assert {p.account for p in posts} == {"snsuser"}
    assert [p.kind for p in posts] == ["original", "reply", "quote"]
    assert posts[0].text == "Morning walk around the plot"
    assert posts[2].lang == "es"


@pytest.mark.parametrize("user", ["foo/bar", "\"{'username': '../../x'}\"", "https://evil.example/bob"])
def test_a_handle_that_is_a_path_is_refused_not_cut_to_its_last_part(tmp_path, user):
    path = tmp_path / "posts.csv"
    path.write_text(f"text,user\nhello there,{user}\n")
    with pytest.raises(InputError, match=r"^posts\.csv:2: column 'user': invalid"):
        list(read_csv(path))


def test_csv_with_an_unknown_header_names_the_expected_columns():
    with pytest.raises(
        InputError,
        match=r"^bad-header\.csv:1: no text column in header "
        r"\(identifier, when, body\); expected 'text'",
    ):
        list(read_csv(DATA / "bad-header.csv", account="a"))


def test_csv_bad_date_names_line_column_and_value():
    with pytest.raises(
        InputError,
        match=r"^bad-date\.csv:3: column 'created_at': "
        r"cannot parse date '2015-13-45 10:00:00'$",
    ):
        list(read_csv(DATA / "bad-date.csv", account="a"))


def test_csv_error_lines_count_multiline_fields(tmp_path: Path):
    bad = tmp_path / "posts.csv"
    bad.write_text('id,created_at,text\n1,2015-11-25,"two\nlines"\n2,2015-11-26,"fine"\nx3,2015-11-27,bad id\n')
    with pytest.raises(InputError, match=r"^posts\.csv:5: column 'id': expected a positive integer id, got 'x3'$"):
        list(read_csv(bad, account="a"))


def test_csv_without_username_needs_an_account():
    with pytest.raises(InputError, match=r"no username column .*--account NAME"):
        list(read_csv(DATA / "minimal.csv"))


def test_csv_mixing_accounts_is_refused(tmp_path: Path):
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("id,username,text\n1,alice,hi there\n2,bob,hello\n")
    with pytest.raises(InputError, match=r"^mixed\.csv:3: column 'username': 'bob' differs from 'alice'"):
        list(read_csv(mixed))
    assert {p.account for p in read_csv(mixed, account="both")} == {"both"}


def test_csv_rows_with_too_many_values_are_refused(tmp_path: Path):
    bad = tmp_path / "posts.csv"
    bad.write_text("id,text\n1,fine\n2,one,too many\n")
    with pytest.raises(InputError, match=r"^posts\.csv:3: 3 values but the header has 2 columns$"):
        list(read_csv(bad, account="a"))


def test_tweepy_jsonl_with_blank_lines():
    posts = list(read_jsonl(DATA / "tweepy.jsonl"))

    assert {p.account for p in posts} == {"api_user"}
    assert [p.kind for p in posts] == ["original", "retweet", "reply", "quote"]
    assert [p.text for p in posts][2:] == ["@x a reply", "a quote"]  # text / content fields
    assert posts[0].raw["user"]["name"] == "API User"


def test_jsonl_invalid_line_names_line_and_problem():
    with pytest.raises(InputError, match=r"^broken\.jsonl:3: invalid JSON \(Expecting ',' delimiter\)$"):
        list(read_jsonl(DATA / "broken.jsonl", account="a"))


def test_jsonl_record_without_text(tmp_path: Path):
    bad = tmp_path / "posts.jsonl"
    bad.write_text('{"id": 1, "text": "ok"}\n[1, 2]\n')
    with pytest.raises(InputError, match=r"^posts\.jsonl:2: expected a JSON object$"):
        list(read_jsonl(bad, account="a"))
    bad.write_text('{"id": 1, "body": "no text"}\n')
    with pytest.raises(InputError, match=r"^posts\.jsonl:1: missing field 'text'"):
        list(read_jsonl(bad, account="a"))


def test_text_file_one_post_per_line():
    posts = list(read_text(DATA / "posts.txt", account="writer"))

    assert [p.text for p in posts] == [
        "first post of a plain text file",
        "second post after blank lines",
        "@pal a reply-looking line",
        "RT @x: a retweet-looking line",
        "first post of a plain text file",
    ]
    assert [p.kind for p in posts] == ["original", "original", "reply", "retweet", "original"]
    assert {p.source for p in posts} == {"file"}
    assert len({p.post_id for p in posts}) == 5  # a repeated line is still its own post
    assert [p.post_id for p in read_text(DATA / "posts.txt", account="writer")] == [p.post_id for p in posts]


def test_text_file_needs_an_account():
    with pytest.raises(InputError, match=r"^posts\.txt: .*--account NAME"):
        list(read_text(DATA / "posts.txt"))


def test_non_utf8_file_is_an_input_error(tmp_path: Path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"^latin1\.txt:1: not UTF-8 text"):
        list(read_text(bad, account="a"))
