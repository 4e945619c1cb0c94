"""Hostile and broken servers: wrong JSON types, endless pages, slow or huge replies, odd rate-limit
headers, bad base URLs, echoed tokens. Each ends in a fetch that completes or one clear line,
and a failed fetch leaves the store as it was (issue 11)."""

from __future__ import annotations

import contextlib
import functools
import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable

import httpx
import pytest
from click.testing import CliRunner
from werkzeug import Request, Response

from conftest import store_fingerprint
from http_payloads import (
    DID,
    FakeBluesky,
    FakeMastodon,
    FakeXApi,
    bluesky_item,
    bluesky_post,
    bluesky_profile,
    json_response,
    mastodon_account,
    mastodon_status,
    x_tweet,
    x_user,
)
from tweetling import limits
from tweetling.cli import cli
from tweetling.errors import ReplyError, SourceError
from tweetling.fetch import FetchOptions, fetch
from tweetling.sources.http import HttpClient, RetryPolicy, rate_limit_wait
from tweetling.sources.inflate import DECODERS
from tweetling.store import Store

try:
    import brotli
except ImportError:  # br cases skip (needs_br)
    brotli = None

MASTODON = "mastodon:@alice@social.example"
BLUESKY = "bluesky:alice.bsky.social"
X = "x:alice"
TOKEN = "AAAAsecret%2Btoken%3D0123456789"


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "t.db") as opened:
        yield opened


@pytest.fixture(autouse=True)
def x_token(monkeypatch):
    monkeypatch.delenv("TWITTER_BEARER_TOKEN", raising=False)
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)


def base_url(httpserver, target: str) -> str:
    return httpserver.url_for("/2" if target.startswith("x:") else "/")


def fast(**policy) -> RetryPolicy:
    return RetryPolicy(retries=0, backoff=0.0, **policy)


# --- wrong JSON types in replies, source by source ------------------------------------------


def mastodon_with(account=None, page=None) -> Callable:
    def serve(httpserver):
        server = FakeMastodon(httpserver, [mastodon_status(1), mastodon_status(2)], account=account)
        if page is not None:
            server.queued.append(json_response(page))

    return serve


def bluesky_with(profile=None, page=None) -> Callable:
    def serve(httpserver):
        server = FakeBluesky(httpserver, [bluesky_item(bluesky_post(1))], profile=profile)
        if page is not None:
            server.queued.append(json_response(page))

    return serve


def x_lookup(body) -> Callable:
    def serve(httpserver):
        httpserver.expect_request("/2/users/by/username/alice").respond_with_json(body)

    return serve


def x_with(page=None, user=None) -> Callable:
    def serve(httpserver):
        server = FakeXApi(httpserver, [x_tweet(1001), x_tweet(1002)], user=user, token=TOKEN)
        if page is not None:
            server.queued.append(json_response(page))

    return serve


def bad_status(**fields) -> list:
    return [{**mastodon_status(3), **fields}]


def bad_item(post_fields=None, record_fields=None, **fields) -> dict:
    post = bluesky_post(3)
    post.update(post_fields or {})
    post["record"].update(record_fields or {})
    return {"feed": [{"post": post, **fields}], "cursor": "c"}


STATUSES = r"^localhost/api/v1/accounts/109/statuses"
FEED = r"^localhost/xrpc/app\.bsky\.feed\.getAuthorFeed"
TIMELINE = r"^localhost/2/users/2244994945/tweets"


@pytest.mark.parametrize(
    "target, serve, message",
    [
        # a field tweetling needs, of the wrong type: one line naming host, path, record and field
        (
            MASTODON,
            mastodon_with(account=mastodon_account(id=1.5)),
            r"accounts/lookup: field 'id': expected an id of letters and digits, got number 1\.5$",
        ),
        (
            MASTODON,
            mastodon_with(account=mastodon_account(id="../../admin")),
            r"accounts/lookup: field 'id': expected an id of letters and digits",
        ),
        (
            MASTODON,
            mastodon_with(page={"error": "not a list"}),
            STATUSES + r": expected an array of statuses, got object$",
        ),
        (
            MASTODON,
            mastodon_with(page=bad_status(id=[3])),
            STATUSES + r": item 1: field 'id': expected an id of letters and digits, got array",
        ),
        (
            MASTODON,
            mastodon_with(page=bad_status(content={"html": 1})),
            STATUSES + r": status 3: field 'content': expected a string, got object$",
        ),
        (
            MASTODON,
            mastodon_with(page=bad_status(reblog="yes")),
            STATUSES + r": status 3: field 'reblog': expected an object, got string$",
        ),
        (
            BLUESKY,
            bluesky_with(profile=bluesky_profile(did=5)),
            r"getProfile: field 'did': expected a did: identifier, got number 5$",
        ),
        (
            BLUESKY,
            bluesky_with(profile=bluesky_profile(labels="spam")),
            r"getProfile: field 'labels': expected an array, got string$",
        ),
        (BLUESKY, bluesky_with(page={"feed": {"a": 1}}), FEED + r": field 'feed': expected an array, got object$"),
        (
            BLUESKY,
            bluesky_with(page=bad_item(post_fields={"uri": "../x"})),
            FEED + r": item 1: field 'post\.uri': expected an at:// post URI",
        ),
        (
            BLUESKY,
            bluesky_with(page=bad_item(record_fields={"text": 5})),
            FEED + r": post at://\S+: field 'post\.record\.text': expected a string, got number$",
        ),
        (
            BLUESKY,
            bluesky_with(page={**bad_item(), "cursor": 5}),
            FEED + r": field 'cursor': expected a string, got number$",
        ),
        (X, x_lookup({"errors": "boom"}), r"^x: unexpected reply for @alice: boom$"),
        (X, x_lookup({"errors": ["boom", 1]}), r"^x: unexpected reply for @alice: boom$"),
        (X, x_lookup({"errors": [{"title": ["a"], "detail": {"b": 1}}]}), r"^x: unexpected reply for @alice: no data$"),
        (X, x_lookup({"data": "alice"}), r"by/username/alice: field 'data': expected an object, got string$"),
        (X, x_lookup([1, 2]), r"by/username/alice: record: expected an object, got array$"),
        (X, x_lookup({"data": x_user(id="12/../34")}), r"field 'data\.id': expected a positive integer id"),
        (
            X,
            x_with(page={"data": [{**x_tweet(1003), "text": {}}]}),
            TIMELINE + r": post 1003: field 'text': expected a string, got object$",
        ),
        (
            X,
            x_with(page={"data": [{**x_tweet(1003), "id": 1003.0}]}),
            TIMELINE + r": item 1: field 'id': expected a positive integer id, got number",
        ),
        (
            X,
            x_with(page={"data": [x_tweet(1003)], "meta": {"next_token": 5}}),
            TIMELINE + r": field 'meta\.next_token': expected a string, got number$",
        ),
        (X, x_with(page={"errors": "rate limited, maybe"}), r"^x: unexpected reply for @alice: rate limited, maybe$"),
    ],
)
def test_reply_fields_of_the_wrong_type_are_one_line(httpserver, store, target, serve, message):
    serve(httpserver)
    before = store_fingerprint(store.path)
    with pytest.raises(SourceError, match=message) as caught:
        fetch(store, target, FetchOptions(base_url=base_url(httpserver, target), retry=fast()))
    assert "\n" not in str(caught.value)
    assert store_fingerprint(store.path) == before


@pytest.mark.parametrize(
    "target, serve, check",
    [
        # descriptive fields of the wrong type are left empty; the posts are stored
        (
            MASTODON,
            mastodon_with(account=mastodon_account(display_name={"a": 1}, statuses_count="2", avatar=5)),
            lambda p, posts: p.display_name == "alice" and p.avatar_url is None,
        ),
        (
            MASTODON,
            mastodon_with(page=bad_status(language=["en"], created_at="9999-12-31T23:59:59-01:00")),
            lambda p, posts: posts[-1].lang is None and posts[-1].created_at == "9999-12-31T23:59:59-01:00",
        ),
        (
            BLUESKY,
            bluesky_with(profile=bluesky_profile(displayName=["A"], postsCount="many", description=7)),
            lambda p, posts: (p.display_name, p.bio) == ("alice.bsky.social", None),
        ),
        (
            BLUESKY,
            bluesky_with(
                page=bad_item(
                    record_fields={
                        "langs": "en",
                        "facets": [1, {"features": "x"}, {"index": 5, "features": [{"$type": 3}]}],
                    }
                )
            ),
            lambda p, posts: posts[-1].lang is None,
        ),
        (
            X,
            x_with(user={**x_user(), "name": {}, "description": [], "public_metrics": "lots"}),
            lambda p, posts: (p.display_name, p.bio) == (None, None),
        ),
        (
            X,
            x_with(page={"data": [{**x_tweet(1003), "lang": {"code": "en"}, "referenced_tweets": [{"type": 5}]}]}),
            lambda p, posts: posts[-1].lang is None,
        ),
    ],
)
def test_descriptive_reply_fields_of_the_wrong_type_are_left_empty(httpserver, store, target, serve, check):
    serve(httpserver)
    result = fetch(store, target, FetchOptions(base_url=base_url(httpserver, target), retry=fast()))
    assert result.added >= 1
    assert check(store.account(result.account), store.posts(result.account))


def test_deeply_nested_reply_is_one_line(httpserver, store):
    httpserver.expect_request("/xrpc/app.bsky.actor.getProfile").respond_with_data(
        "[" * 100_000 + "]" * 100_000, content_type="application/json"
    )
    with pytest.raises(ReplyError, match=r"getProfile: the reply's JSON is nested too deeply to read$"):
        fetch(store, BLUESKY, FetchOptions(base_url=httpserver.url_for("/")))


# --- malformed HTML in Mastodon statuses -------------------------------------------------------


@pytest.mark.parametrize("fragment", ["<a '", '<a b="', "<a", "<!--", "<![", "<?", "</"])
def test_a_post_of_unfinished_markup_cleans_in_linear_time(httpserver, store, fragment):
    """html.parser rescans to the end after each unfinished tag: 100,000 characters took a minute."""
    content = fragment * (limits.MAX_POST_CHARS // len(fragment))
    FakeMastodon(httpserver, [mastodon_status(1, content)])
    started = time.monotonic()
    fetch(store, MASTODON, FetchOptions(base_url=base_url(httpserver, MASTODON)))
    assert time.monotonic() - started < 1
    assert [post.text for post in store.posts("alice@social.example")] == [content]


def test_a_post_with_more_html_than_a_post_can_hold_is_one_line(httpserver, store):
    FakeMastodon(httpserver, [mastodon_status(1, "<p>" * (2 * limits.MAX_POST_CHARS))])
    with pytest.raises(
        ReplyError, match=r"status 1: field 'content': 600,000 characters of HTML, more than the 400,000 a post"
    ):
        fetch(store, MASTODON, FetchOptions(base_url=base_url(httpserver, MASTODON)))


# --- pages that go round in circles, and the page cap -------------------------------------------


def looping_bluesky(httpserver, same_posts: bool) -> None:
    """An AppView whose feed always names the same next cursor."""
    httpserver.expect_request("/xrpc/app.bsky.actor.getProfile").respond_with_json(bluesky_profile())
    calls = []

    def feed(request: Request) -> Response:
        calls.append(1)
        first = 1 if same_posts else 10 * len(calls)
        return json_response({"feed": [bluesky_item(bluesky_post(first + i)) for i in range(3)], "cursor": "again"})

    httpserver.expect_request("/xrpc/app.bsky.feed.getAuthorFeed").respond_with_handler(feed)


@pytest.mark.parametrize(
    "same_posts, message",
    [
        (True, r"^bluesky: the page after cursor 'again' repeats posts already fetched in this run"),
        (False, r"^bluesky: the page after cursor 'again' points back to a cursor already used in this run"),
    ],
)
def test_a_server_repeating_itself_stops_with_an_error(httpserver, store, same_posts, message):
    looping_bluesky(httpserver, same_posts)
    with pytest.raises(SourceError, match=message):
        fetch(store, BLUESKY, FetchOptions(base_url=httpserver.url_for("/")))
    assert store.count_posts("alice.bsky.social") == 3  # the first page is kept


def test_pages_per_run_are_capped_and_the_next_run_continues(httpserver, store, monkeypatch):
    monkeypatch.setattr(limits, "MAX_PAGES_PER_RUN", 2)
    FakeMastodon(httpserver, [mastodon_status(i) for i in range(1, 101)])  # pages of 40, 40, 20
    options = FetchOptions(base_url=httpserver.url_for("/"))

    with pytest.raises(SourceError, match=r"stopped after 2 pages, the most one run walks; .* run the same command"):
        fetch(store, MASTODON, options)
    assert store.count_posts("alice@social.example") == 80

    resumed = fetch(store, MASTODON, options)
    assert (resumed.added, resumed.complete) == (20, True)


# --- slow, huge and rate-limited replies ----------------------------------------------------------


class Trickle:
    """A server on 127.0.0.1 that answers each request a byte at a time, forever: in its headers,
    or in a body it promised to be long."""

    def __init__(self, stage: str):
        self.prefix = (
            b"HTTP/1.1 200 OK\r\nX-Slow: "
            if stage == "headers"
            else (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[")
        )
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.stopped = threading.Event()
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                connection.sendall(self.prefix)
                while not self.stopped.is_set():
                    connection.sendall(b"1," if self.prefix.endswith(b"[") else b"a")
                    time.sleep(0.05)
            except OSError:
                pass

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


@pytest.mark.parametrize("stage", ["headers", "body"])
def test_a_trickling_server_meets_the_request_deadline(stage):
    server = Trickle(stage)
    started = time.monotonic()
    try:
        with (
            HttpClient(server.url, policy=fast(timeout=0.5, deadline=1.0)) as http,
            pytest.raises(SourceError, match=r"^127\.0\.0\.1: no complete reply to /v within 1 s; run the same"),
        ):
            http.get_json("/v")
    finally:
        server.close()
    assert time.monotonic() - started < 3


def chunked(size: int) -> Response:
    return Response((b"x" * 1000 for _ in range(size // 1000)), content_type="application/json")


@pytest.mark.parametrize(
    "reply",
    [
        lambda: Response(b"[" + b"1," * 3000 + b"1]", content_type="application/json"),  # Content-Length says so
        lambda: chunked(10_000),  # no Content-Length: counted as it arrives
    ],
)
def test_replies_are_capped_in_size(httpserver, reply):
    httpserver.expect_request("/v").respond_with_handler(lambda request: reply())
    with (
        HttpClient(httpserver.url_for("/"), policy=fast(max_reply_bytes=5000)) as http,
        pytest.raises(SourceError, match=r"the reply to /v is larger than 5,000 bytes, the most one reply may be$"),
    ):
        http.get_json("/v")


def test_replies_cut_short_give_their_connections_back(httpserver):
    """A reply left unread at the cap is closed, else each would hold one of httpx's 100 connections."""
    httpserver.expect_request("/huge").respond_with_handler(lambda request: chunked(10_000))
    httpserver.expect_request("/v").respond_with_json({"ok": True})
    with HttpClient(httpserver.url_for("/"), policy=fast(max_reply_bytes=5000, deadline=5.0)) as http:
        for _ in range(110):
            with pytest.raises(SourceError, match=r"the reply to /huge is larger than 5,000 bytes"):
                http.get_json("/huge")
        assert http.get_json("/v").data == {"ok": True}


MiB = 2**20
WBITS = {"gzip": 31, "deflate": 15}
# br is asked for and decoded only with brotli 1.2+, which bounds its output (gradio requires it).
needs_br = pytest.mark.skipif("br" not in DECODERS, reason="brotli 1.2+ is not installed: br is not asked for")


def br(encoding: str):
    return pytest.param(encoding, marks=needs_br) if "br" in encoding.lower() else encoding


@functools.cache
def bomb(encoding: str) -> bytes:
    """64 MiB of zeros under ENCODING (codings in the order applied): 300 bytes to 64 KB."""
    first, *rest = [coding.strip() for coding in encoding.split(",")]
    if first == "br":
        brotli_compressor = brotli.Compressor(quality=5)
        body = b"".join(brotli_compressor.process(bytes(MiB)) for _ in range(64)) + brotli_compressor.finish()
    else:
        compressor = zlib.compressobj(9, zlib.DEFLATED, WBITS[first])
        body = b"".join(compressor.compress(bytes(MiB)) for _ in range(64)) + compressor.flush()
    for coding in rest:
        body = brotli.compress(body) if coding == "br" else gzip.compress(body)
    return body


def measured(read, under: int = 4 * MiB):
    """What READ returns, once Python's allocations are checked to have stayed UNDER bytes while it
    ran (also when it raises)."""
    tracemalloc.start()
    try:
        value = read()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < under, f"{peak:,} bytes"
    return value


@pytest.mark.parametrize("encoding", [br(e) for e in ("br", "gzip", "deflate", "gzip, gzip", "br, gzip", "gzip, br")])
def test_a_decompression_bomb_stops_at_the_cap_while_it_inflates(raw_server, encoding):
    """httpx inflates each chunk it reads whole: 64 MiB at once here, gigabytes from a larger bomb.
    (Served raw: werkzeug takes 10 MB to drain a request it answered, which would be counted.)"""
    body = bomb(encoding)
    headers = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(body)}\r\n\r\n"
    refused = pytest.raises(SourceError, match=r"the reply to /v is larger than 1 MiB, the most one reply may be$")
    with HttpClient(raw_server(headers.encode() + body), policy=fast(max_reply_bytes=MiB)) as http, refused:
        measured(lambda: http.get_json("/v"))


def test_codings_stacked_past_the_cap_are_one_line(httpserver):
    body = b'{"ok": true}'
    for _ in range(5):
        body = gzip.compress(body)
    httpserver.expect_request("/v").respond_with_data(body, headers={"Content-Encoding": "gzip, " * 4 + "gzip"})
    with (
        HttpClient(httpserver.url_for("/"), policy=fast()) as http,
        pytest.raises(SourceError, match=r"the reply to /v \(DecodingError: 5 content codings, more than 4\)$"),
    ):
        http.get_json("/v")


def test_what_follows_a_compressed_body_is_left_unread(raw_server):
    """zlib keeps what follows the end of its stream: 16 MiB here, as much as a server sends."""
    body = gzip.compress(b'{"ok": true}') + bytes(16 * MiB)
    headers = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n"
    with HttpClient(raw_server(headers.encode() + body), policy=fast(max_reply_bytes=MiB)) as http:
        assert measured(lambda: http.get_json("/v").data) == {"ok": True}


@needs_br
def test_a_redirect_is_followed_without_reading_its_body(raw_server):
    """httpx reads a redirect's body whole before it follows it: a bomb there passed every cap."""
    landing = raw_server(b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{"ok": true}')
    body = bomb("br")
    redirect = (
        f"HTTP/1.1 302 Found\r\nLocation: {landing}/landing\r\nContent-Encoding: br\r\nContent-Length: {len(body)}"
    )
    with HttpClient(raw_server(redirect.encode() + b"\r\n\r\n" + body), policy=fast(max_reply_bytes=MiB)) as http:
        assert measured(lambda: http.get_json("/v").data) == {"ok": True}


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", raw_deflate),  # as some servers send it
        pytest.param("br", lambda data: brotli.compress(data), marks=needs_br),
        pytest.param("GZIP, br", lambda data: brotli.compress(gzip.compress(data)), marks=needs_br),
        ("identity", bytes),
        ("compress", bytes),  # a coding httpx does not decode either: read as it came
    ],
)
def test_encoded_replies_are_read(httpserver, encoding, encode):
    httpserver.expect_request("/v").respond_with_data(encode(b'{"ok": true}'), headers={"Content-Encoding": encoding})
    with HttpClient(httpserver.url_for("/"), policy=fast()) as http:
        assert http.get_json("/v").data == {"ok": True}


NOW = 2_000_000_000.0


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"Retry-After": "nan"}, None),
        ([(b"Retry-After", "²".encode("latin-1"))], None),
        ({"Retry-After": "Fri, 99 Foo 99999 99:99:99 GMT"}, None),
        ({"x-rate-limit-reset": "nan"}, None),
        ({"x-rate-limit-reset": "inf"}, None),
        ({"x-rate-limit-reset": "1e400"}, None),
        ({"ratelimit-reset": "-inf"}, None),
        ({"ratelimit-reset": "-30"}, 0.0),
        ({"x-rate-limit-reset": str(NOW - 100)}, 0.0),
        ({"x-ratelimit-reset": "garbage"}, None),
        ({"x-ratelimit-reset": "99999-01-01T00:00:00Z"}, None),
        ({"x-ratelimit-reset": "0001-01-01T00:00:00+01:00"}, 0.0),
        ({"ratelimit-reset": "12"}, 12.0),
    ],
)
def test_rate_limit_headers_that_are_no_time_are_skipped(headers, expected):
    assert rate_limit_wait(httpx.Headers(headers), now=NOW) == expected


@pytest.mark.parametrize("headers", [{"Retry-After": "nan"}, {"x-rate-limit-reset": "-5"}, {"ratelimit-reset": "inf"}])
def test_a_429_with_an_unusable_reset_backs_off_and_retries(httpserver, headers):
    slept = []
    httpserver.expect_ordered_request("/v").respond_with_response(Response("", 429, headers))
    httpserver.expect_ordered_request("/v").respond_with_json({"ok": True})
    with HttpClient(httpserver.url_for("/"), policy=RetryPolicy(backoff=1.5), sleep=slept.append) as http:
        assert http.get_json("/v").data == {"ok": True}
    assert slept == [1.5]


def test_an_absurd_rate_limit_wait_is_one_readable_line(httpserver):
    httpserver.expect_request("/v").respond_with_response(Response("", 429, {"Retry-After": "999999999999"}))
    with (
        HttpClient(httpserver.url_for("/"), sleep=lambda s: None) as http,
        pytest.raises(
            SourceError, match=r"rate limit: asked to wait more than 100 days; run the same command again later"
        ),
    ):
        http.get_json("/v")


# --- base URLs and secrets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, problem",
    [
        ("not a url", "expected http"),
        ("ftp://example.org", "expected http"),
        ("javascript:alert(1)", "expected http"),
        ("http://", "expected http"),
        ("http://[::1", "expected http"),
        ("http://example.org:99999", "expected http"),
        ("http://example.org:0", "expected http"),
        ("https://example.org/api?x=1", "expected http"),
        ("https://example.org/api?access_token=secret", "expected http"),
        ("https://user:secret@example.org", "credentials do not belong in the URL"),
        ("https://example.org\n", None),  # a stray newline is trimmed, the URL is fine
    ],
)
def test_base_urls_are_checked(url, problem):
    if problem is None:
        assert HttpClient(url).base_url == "https://example.org"
        return
    with pytest.raises(SourceError, match=rf"^invalid base URL .*: {problem}") as caught:
        HttpClient(url)
    assert "secret" not in str(caught.value)  # neither a password nor a query is repeated


@pytest.mark.parametrize("token", ["AAAASECRETTOKEN x", "AAAASECRET\nTOKEN", "AAAASECRETé€"])
def test_a_token_a_header_cannot_carry_is_refused_before_anything_is_sent(
    httpserver, tweetling_home, monkeypatch, token
):
    monkeypatch.setenv("X_BEARER_TOKEN", token)
    result = CliRunner().invoke(cli, ["fetch", "x:alice", "--base-url", httpserver.url_for("/2")])
    assert result.exit_code == 1 and "SECRET" not in result.output and "Traceback" not in result.output
    assert result.output.strip() == (
        "error: x: environment variable X_BEARER_TOKEN holds spaces, line breaks or characters outside ASCII:"
        " copy the token again"
    )
    assert httpserver.log == []


def test_spaces_around_a_token_are_trimmed_and_a_broken_header_is_never_sent(httpserver):
    client = HttpClient(httpserver.url_for("/"), token=f" {TOKEN}\n")
    assert client._client.headers["Authorization"] == f"Bearer {TOKEN}"
    httpserver.expect_request("/echo").respond_with_json({"error": f"bad token {TOKEN}"})
    assert client.get_json("/echo").data == {"error": "bad token [redacted]"}  # the token as sent is redacted
    httpserver.clear_log()
    with pytest.raises(SourceError, match=r"^a token sent to localhost holds line breaks") as caught:
        client.request_json("GET", "/x", headers={"Authorization": "Bearer SESSION\nTOKEN"})
    assert "SESSION" not in str(caught.value) and httpserver.log == []


def test_cli_invalid_base_url_is_one_line(tweetling_home):
    result = CliRunner().invoke(cli, ["fetch", BLUESKY, "--base-url", "ftp://[::1"])
    assert result.exit_code == 1
    assert result.output.startswith("error: invalid base URL 'ftp://[::1'") and result.output.count("\n") == 1


@pytest.mark.parametrize("echoed", [TOKEN, "AAAAsecret+token=0123456789", f"Bearer {TOKEN}"])
@pytest.mark.parametrize("status", [403, 200])
def test_a_token_echoed_by_the_server_is_redacted(httpserver, store, echoed, status):
    body = {"title": "Forbidden", "detail": f"token {echoed} may not read this"}
    if status == 200:
        body = {"errors": [body]}
    httpserver.expect_request("/2/users/by/username/alice").respond_with_json(body, status=status)
    with pytest.raises(SourceError) as caught:
        fetch(store, X, FetchOptions(base_url=httpserver.url_for("/2")))
    message = str(caught.value)
    assert "[redacted]" in message
    assert "secret" not in message and "0123456789" not in message


SESSION = "Session-Secret-0123456789"


def echo(request: Request) -> Response:
    """An error reply quoting all the request carried, as some servers' error pages do."""
    carried = f"{request.headers.get('Authorization')} {dict(request.args)} {request.get_data(as_text=True)}"
    return json_response({"error": f"cannot accept {carried}"}, 401)


@pytest.mark.parametrize(
    "send, reply",
    [
        (  # JSON may spell a string in \u escapes
            lambda http: http.get_json("/v"),
            lambda request: Response('{"error": "bad token ' + "".join(f"\\u{ord(c):04x}" for c in TOKEN) + '"}', 401),
        ),
        (lambda http: http.get_json("/v", params={"access_token": SESSION}), echo),
        (lambda http: http.request_json("POST", "/v", form={"client_secret": SESSION, "code": SESSION[::-1]}), echo),
        (lambda http: http.request_json("POST", "/v", json={"password": SESSION}), echo),
        (  # a redirect a POST does not follow is named in the message
            lambda http: http.request_json("POST", "/v", headers={"Authorization": f"Bearer {SESSION}"}),
            lambda request: Response("", 307, {"Location": f"/to/{SESSION}"}),
        ),
    ],
    ids=["escaped in JSON", "access_token parameter", "form fields", "JSON field", "redirect"],
)
def test_no_secret_the_client_sent_is_in_a_message(httpserver, send, reply):
    httpserver.expect_request("/v").respond_with_handler(reply)
    with HttpClient(httpserver.url_for("/"), token=TOKEN, policy=fast()) as http, pytest.raises(SourceError) as caught:
        send(http)
    shown = f"{caught.value} {getattr(caught.value, 'body', '')}"  # sources quote the body's error
    assert "[redacted]" in shown
    assert "0123456789" not in shown and "9876543210" not in shown, shown  # how TOKEN and SESSION end


@pytest.fixture
def raw_server():
    """Servers on 127.0.0.1 that answer each connection with the bytes they are given, as a server
    breaking HTTP would."""
    listeners: list[socket.socket] = []

    def serve(reply: bytes) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def answer() -> None:
            with contextlib.suppress(OSError):
                while True:
                    connection, _ = listener.accept()
                    with connection:
                        connection.recv(65536)
                        connection.sendall(reply)

        threading.Thread(target=answer, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield serve
    for listener in listeners:
        listener.close()


def test_a_broken_header_line_echoing_the_token_is_redacted(raw_server):
    url = raw_server(b"HTTP/1.1 200 OK\r\nX-Echo: Bearer " + TOKEN.encode() + b"\x00\r\n\r\n")
    with HttpClient(url, token=TOKEN, policy=fast()) as http, pytest.raises(SourceError) as caught:
        http.get_json("/v")
    message = str(caught.value)
    assert message.startswith("cannot reach 127.0.0.1 (RemoteProtocolError: illegal header line")
    assert "[redacted]" in message and "secret" not in message


@pytest.mark.parametrize(
    "target, shown",
    [
        ("file:///etc/passwd", "file:///etc/passwd"),
        ("ftp://user:pw@files.example/a?token=hidden", "ftp://…@files.example/a?…"),
    ],
)
def test_a_redirect_to_another_scheme_is_refused_at_once(httpserver, target, shown):
    httpserver.expect_request("/v").respond_with_response(Response("", 302, {"Location": target}))
    slept: list[float] = []
    with HttpClient(httpserver.url_for("/"), sleep=slept.append) as http, pytest.raises(SourceError) as caught:
        http.get_json("/v")
    assert str(caught.value) == f"localhost redirected GET /v to {shown}: only http and https addresses are followed"
    assert slept == [] and len(httpserver.log) == 1


def test_a_redirect_without_a_location_says_so(httpserver):
    httpserver.expect_request("/v").respond_with_response(Response("", 302))
    with HttpClient(httpserver.url_for("/")) as http, pytest.raises(SourceError) as caught:
        http.get_json("/v")
    assert str(caught.value) == (
        "localhost answered GET /v with 302, a redirect without a Location to follow; check the server address"
    )


def test_redirects_to_another_host_drop_the_token(httpserver):
    seen = []
    other = "localhost" if httpx.URL(httpserver.url_for("/")).host != "localhost" else "127.0.0.1"
    target = httpserver.url_for("/landing").replace(httpx.URL(httpserver.url_for("/")).host, other)
    httpserver.expect_request("/v").respond_with_response(Response("", 302, {"Location": target}))

    def landing(request: Request) -> Response:
        seen.append(request.headers.get("Authorization"))
        return json_response({"ok": True})

    httpserver.expect_request("/landing").respond_with_handler(landing)
    with HttpClient(httpserver.url_for("/"), token=TOKEN) as http:
        assert http.get_json("/v").data == {"ok": True}
    assert seen == [None]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_request_that_sends_something_follows_no_redirect(httpserver, status):
    """A 307 or 308 resends the body: a password, an authorization code, a post."""
    seen = []
    httpserver.expect_request("/landing").respond_with_handler(
        lambda request: seen.append(request) or json_response({})
    )
    target = httpserver.url_for("/landing?code=hidden")
    httpserver.expect_request("/login", method="POST").respond_with_response(Response("", status, {"Location": target}))
    with HttpClient(httpserver.url_for("/"), token=TOKEN) as http, pytest.raises(SourceError) as refused:
        http.request_json("POST", "/login", json={"password": "abcd-efgh-ijkl-mnop"})
    message = str(refused.value)
    assert "redirected POST /login to http://" in message and "not followed" in message
    assert "hidden" not in message and seen == []


def test_bluesky_did_lookups_reach_only_the_api_root(httpserver, store):
    FakeBluesky(httpserver, [bluesky_item(bluesky_post(1))])
    fetch(store, BLUESKY, FetchOptions(base_url=httpserver.url_for("/")))
    assert store.account("alice.bsky.social").source_id == DID
