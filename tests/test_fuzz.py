"""Property tests: every importer and every source parser, fed arbitrary bytes or arbitrary JSON of
the right shape, stores posts or raises a TweetlingError of one line, and a failure leaves the
store's row counts and content exactly as they were (issue 11).

Bounded (max_examples, no per-example deadline on this shared 2-core machine) to a few seconds each.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import store_fingerprint
from tweetling.errors import TweetlingError
from tweetling.fetch import _walk
from tweetling.importer import import_path
from tweetling.sources import parse_date
from tweetling.sources.bluesky import BlueskySource
from tweetling.sources.http import HttpClient, JsonReply, _Received, checked_base_url, rate_limit_wait
from tweetling.sources.mastodon import MastodonSource
from tweetling.sources.x_api import XApiSource
from tweetling.store import Store
from tweetling.terminal import terminal_safe

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text as exports really break it: any code point, lone UTF-16 surrogates included.
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True), texts
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
dates = st.one_of(
    st.datetimes(min_value=datetime(1970, 1, 1)).map(lambda moment: moment.strftime("%a %b %d %H:%M:%S +0000 %Y")),
    st.datetimes(min_value=datetime(1970, 1, 1)).map(lambda moment: moment.isoformat() + "Z"),
    st.just("1591459397000"),
)
# Values seen in broken exports and replies: dates out of range, ids that are no ids.
odd_values = st.sampled_from(
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "yesterday", "../etc/passwd", "1.5", "1e18", "-1", ""]
)
numeric_ids = st.integers(1, 10**19).map(str)


def mostly(good: st.SearchStrategy) -> st.SearchStrategy:
    """GOOD three times in four, else any JSON."""
    return st.one_of(good, good, good, json_values)


def shaped(required: tuple[str, ...] = (), **fields: st.SearchStrategy) -> st.SearchStrategy:
    """Objects of FIELDS: half the time of the right kind (the REQUIRED ones present), else any of
    them may be missing or any JSON at all."""
    anything = {name: st.one_of(good, json_values, odd_values) for name, good in fields.items()}
    good = st.fixed_dictionaries(
        {name: fields[name] for name in required}, optional={k: v for k, v in fields.items() if k not in required}
    )
    return st.one_of(good, st.fixed_dictionaries({}, optional=anything))


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    with Store(folder / "fuzz.db") as store:
        yield store, folder


def imports_or_refuses(store: Store, path: Path, **options: Any) -> None:
    before = store_fingerprint(store.path)
    try:
        result = import_path(store, path, **options)
    except TweetlingError as error:
        event(f"refused: {str(error).split(': ')[-1][:50]}")
        assert str(error) and "\n" not in str(error), repr(str(error))
        assert store_fingerprint(store.path) == before
    else:
        event("stored")
        assert store.count_posts(result.account) >= result.added


# --- importers ------------------------------------------------------------------------------------


@FUZZ
@given(content=st.binary(max_size=3000), suffix=st.sampled_from([".csv", ".jsonl", ".txt", ".js", ".zip", ".dat"]))
def test_any_bytes_in_any_format(fuzz_store, content, suffix):
    store, folder = fuzz_store
    path = folder / f"input{suffix}"
    path.write_bytes(content)
    imports_or_refuses(store, path, account="fuzz")


tweets = shaped(
    ("id_str", "full_text"),
    id_str=numeric_ids,
    id=st.integers(1, 10**19),
    full_text=texts,
    created_at=dates,
    lang=st.sampled_from(["en", "fr", "und"]),
    in_reply_to_status_id_str=numeric_ids,
    retweeted_status=json_values,
    is_quote_status=st.booleans(),
    entities=json_values,
)
accounts = shaped(
    ("username",),
    username=st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True),
    accountId=numeric_ids,
    accountDisplayName=texts,
)
profiles = shaped(description=shaped(bio=texts), avatarMediaUrl=st.just("https://pbs.twimg.com/a.jpg"))


@FUZZ
@given(
    records=st.lists(st.one_of(tweets.map(lambda t: {"tweet": t}), tweets, json_values), max_size=5),
    account=mostly(accounts.map(lambda a: [{"account": a}])),
    profile=mostly(profiles.map(lambda p: [{"profile": p}])),
)
def test_archive_of_any_json_of_the_right_shape(fuzz_store, records, account, profile):
    store, folder = fuzz_store
    data = folder / "archive" / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name, items in (("tweets", records), ("account", account), ("profile", profile)):
        (data / f"{name}.js").write_text(f"window.YTD.{name}.part0 = {json.dumps(items)}", encoding="utf-8")
    imports_or_refuses(store, folder / "archive")


file_records = shaped(
    ("id", "text", "username"),
    id=st.one_of(numeric_ids, st.integers(1, 10**19)),
    text=texts,
    username=st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True),
    user=shaped(screen_name=st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True)),
    created_at=dates,
    date=dates,
    lang=st.sampled_from(["en", "de"]),
    in_reply_to_status_id=numeric_ids,
    retweeted_status=json_values,
)


@FUZZ
@given(
    records=st.lists(st.one_of(file_records, file_records, json_values), min_size=1, max_size=5),
    account=st.sampled_from([None, "fuzz"]),
)
def test_jsonl_of_any_json_of_the_right_shape(fuzz_store, records, account):
    store, folder = fuzz_store
    path = folder / "posts.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n", encoding="utf-8")
    imports_or_refuses(store, path, account=account)


CSV_COLUMNS = ["id", "created_at", "username", "lang", "date", "time", "timezone", "in_reply_to_status_id"]


csv_cells = st.one_of(texts, numeric_ids, dates, odd_values)
csv_tables = (
    st.lists(st.sampled_from(CSV_COLUMNS), max_size=4, unique=True)
    .map(lambda columns: ["text", *columns])
    .flatmap(
        lambda columns: st.tuples(
            st.just(columns),
            st.lists(
                st.one_of(st.lists(csv_cells, min_size=len(columns), max_size=len(columns)), st.lists(csv_cells)),
                max_size=5,
            ),
        )
    )
)


@FUZZ
@given(table=csv_tables, account=st.sampled_from([None, "fuzz", "fuzz"]))
def test_csv_of_any_cells(fuzz_store, table, account):
    columns, rows = table
    store, folder = fuzz_store
    path = folder / "posts.csv"
    lines = [",".join(columns)] + [",".join(f'"{cell.replace(chr(34), chr(34) * 2)}"' for cell in row) for row in rows]
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    imports_or_refuses(store, path, account=account)


# --- network source parsers -------------------------------------------------------------------------


class StubClient:
    """Answers a source's requests with fuzzed replies: the lookup, one page, then empty pages."""

    host = "fuzz.example"

    def __init__(self, lookup: Any, page: Any, empty: Any, links: dict):
        self.replies = [lookup, page]
        self.empty = empty
        self.links = links

    def where(self, path: str) -> str:
        return f"{self.host}{path}"

    def get_json(self, path: str, params: dict | None = None, explain: Any = None) -> JsonReply:
        data = self.replies.pop(0) if self.replies else self.empty
        return JsonReply(data, self.links)


def fetches_or_refuses(store: Store, source: Any) -> None:
    before = store_fingerprint(store.path)
    try:
        result = _walk(store, source, source.account, None, None)
    except TweetlingError as error:
        event(f"refused: {str(error).split(': ')[-1][:50]}")
        assert str(error) and "\n" not in str(error), repr(str(error))
        assert store_fingerprint(store.path) == before
    else:
        event("stored" if result.added or result.updated else "nothing to store")
        assert result.complete


mastodon_statuses = shaped(
    ("id",),
    id=numeric_ids,
    created_at=dates,
    content=texts,
    language=st.just("en"),
    in_reply_to_id=numeric_ids,
    quote=json_values,
    visibility=st.sampled_from(["public", "public", "unlisted", "private", "direct"]),
    spoiler_text=texts,
)


@FUZZ
@given(
    account=mostly(shaped(("id",), id=numeric_ids, display_name=texts, note=texts, statuses_count=st.integers(0, 99))),
    page=mostly(
        st.lists(
            st.one_of(
                mastodon_statuses, mastodon_statuses, mastodon_statuses.map(lambda s: {**s, "reblog": s}), json_values
            ),
            max_size=4,
        )
    ),
    next_url=st.one_of(st.none(), st.just("https://fuzz.example/x?max_id=5"), texts),
)
def test_mastodon_replies_of_any_json(fuzz_store, account, page, next_url):
    store, _ = fuzz_store
    links = {"next": {"url": next_url}} if next_url is not None else {}
    source = MastodonSource("@fuzz@fuzz.example", "fuzz@fuzz.example", StubClient(account, page, [], links))
    fetches_or_refuses(store, source)


bluesky_items = shaped(
    ("post",),
    post=shaped(
        ("uri", "record"),
        uri=st.integers(1, 999).map(lambda n: f"at://did:plc:fuzz/app.bsky.feed.post/{n}"),
        record=shaped(
            text=texts,
            createdAt=dates,
            langs=st.lists(st.just("en")),
            facets=json_values,
            reply=json_values,
            embed=json_values,
        ),
    ),
    reason=shaped(**{"$type": st.just("app.bsky.feed.defs#reasonRepost"), "indexedAt": dates}),
)


@FUZZ
@given(
    profile=mostly(
        shaped(
            ("did",),
            did=st.just("did:plc:fuzz"),
            handle=texts,
            displayName=texts,
            postsCount=st.integers(0, 9),
            labels=json_values,
        )
    ),
    feed=mostly(
        shaped(("feed",), feed=st.lists(st.one_of(bluesky_items, bluesky_items, json_values), max_size=4), cursor=texts)
    ),
)
def test_bluesky_replies_of_any_json(fuzz_store, profile, feed):
    store, _ = fuzz_store
    source = BlueskySource("fuzz.bsky.social", "fuzz.bsky.social", StubClient(profile, feed, {"feed": []}, {}))
    fetches_or_refuses(store, source)


x_tweets = shaped(
    ("id", "text"),
    id=numeric_ids,
    text=texts,
    created_at=dates,
    lang=st.just("en"),
    referenced_tweets=json_values,
    note_tweet=shaped(text=texts),
)


@FUZZ
@given(
    lookup=mostly(
        shaped(
            ("data",),
            data=shaped(("id",), id=numeric_ids, name=texts, description=texts, public_metrics=json_values),
            errors=json_values,
        )
    ),
    page=mostly(
        shaped(
            ("data",),
            data=st.lists(st.one_of(x_tweets, x_tweets, json_values), max_size=4),
            meta=shaped(next_token=texts),
            errors=json_values,
        )
    ),
)
def test_x_replies_of_any_json(fuzz_store, lookup, page):
    store, _ = fuzz_store
    source = XApiSource("fuzz", "fuzz", StubClient(lookup, page, {"meta": {}}, {}))
    fetches_or_refuses(store, source)


@pytest.fixture(scope="module")
def reply_client():
    with HttpClient("https://fuzz.example", token="secret-token-1234") as client:
        yield client


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=500), json_values.map(lambda v: json.dumps(v).encode())),
    status=st.sampled_from([200, 400, 404, 418]),
)
def test_any_reply_body_is_json_or_one_line(reply_client, body, status):
    try:
        reply_client._parsed("/v", _Received(status, httpx.Headers(), {}, body), reply_client._secrets)
    except TweetlingError as error:
        assert "\n" not in str(error)


# --- small parsers ----------------------------------------------------------------------------------


@FUZZ
@given(
    name=st.sampled_from(["retry-after", "x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset"]),
    value=st.binary(max_size=30),
)
def test_any_rate_limit_header_is_a_finite_wait_or_none(name, value):
    value = value.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")
    wait = rate_limit_wait(httpx.Headers([(name.encode(), value)]), now=2e9)
    assert wait is None or (math.isfinite(wait) and wait >= 0)


@FUZZ
@given(value=st.one_of(texts, json_values))
def test_any_date_is_iso_utc_or_a_value_error(value):
    try:
        parsed = parse_date(value)
    except ValueError:
        return
    assert parsed[-6:] == "+00:00"


@FUZZ
@given(text=texts)
def test_any_base_url_is_checked_or_refused(text):
    try:
        url = checked_base_url(text)
    except TweetlingError as error:
        assert "\n" not in str(error)
    else:
        assert url.startswith(("http://", "https://"))


@FUZZ
@given(text=st.text(st.characters(codec=None, exclude_categories=()), max_size=60))
def test_terminal_safe_leaves_no_control_characters(text):
    safe = terminal_safe(text)
    assert not any((ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F for c in safe)
