"""The HTTP client the network sources share: timeouts, retries, rate limits, and what a page is.

Tokens travel only in the Authorization header; no message, repr or log line built here
contains a header, and every secret a request sent (its token, a password or code in its
fields) is redacted from what a server echoes into a message.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote, unquote

import httpx

from .. import limits
from ..errors import ReplyError, SourceError
from ..posts import Post, Profile
from . import shown
from .inflate import ACCEPT_ENCODING, decoded

OnWait = Callable[[float, str], None]  # (seconds, reason), called before each pause


@dataclass(frozen=True)
class RetryPolicy:
    """How patient a client is with a slow, failing or rate-limiting server, and how much it reads."""

    timeout: float = 30.0  # seconds to connect, and between bytes of a reply
    deadline: float = limits.REQUEST_DEADLINE_S  # seconds for a whole request, however its bytes trickle in
    max_reply_bytes: int = limits.MAX_REPLY_BYTES  # a reply body, decompressed
    retries: int = 4  # extra attempts after a 5xx reply, a timeout or a connection error
    backoff: float = 2.0  # seconds before the first retry; doubles after each one
    max_backoff: float = 60.0
    rate_limit_retries: int = 5  # 429 replies honoured in a row before giving up
    max_rate_limit_wait: float = 16 * 60.0  # longest 429 pause honoured (X windows last 15 min)


@dataclass(frozen=True)
class JsonReply:
    data: Any
    links: dict[str, dict[str, str]]  # the Link header, by rel (Mastodon pages with it)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    params: dict[str, Any] | None
    json: Any
    form: dict[str, Any] | None
    headers: dict[str, str] | None
    resend: bool


_REMAINING_HEADERS = ("x-rate-limit-remaining", "ratelimit-remaining", "x-ratelimit-remaining")


@dataclass(frozen=True)
class _Received:
    """A reply read in full: status, headers and body."""

    status: int
    headers: httpx.Headers
    links: dict[str, dict[str, str]]
    body: bytes


class _DeadlinePassed(Exception):
    """A request ran past RetryPolicy.deadline."""


class _OtherScheme(Exception):
    """A reply redirected to an address that is not http(s) (file://, ftp://): the Location header."""


class HttpStatusError(SourceError):
    """A 4xx reply other than 429; sources turn it into a message about the account or token."""

    def __init__(self, host: str, path: str, status: int, body: Any):
        self.status = status
        self.body = body  # the parsed JSON error body (secrets redacted), or None
        super().__init__(f"{host}: HTTP {status} for {path}")


@dataclass(frozen=True)
class RemoteAccount:
    """An account as a source reports it: the profile to store and how many posts it has."""

    profile: Profile
    post_count: int | None = None
    opt_outs: tuple[str, ...] = ()  # the opt-out signals of the profile (see tweetling.consent)


@dataclass(frozen=True)
class Page:
    posts: list[Post]
    next_cursor: str | None  # None: there are no older posts
    not_public: int = 0  # posts the server returned that are not public (followers-only, direct): not kept


class NetworkSource(Protocol):
    """What `tweetling.fetch` needs from a source; one implementation per module."""

    source: str  # the Post.source it produces
    page_size: int  # most posts one request may ask for
    min_page_size: int  # fewest posts one request may ask for
    filters_newer: bool  # True: page(newer_than=...) returns only newer posts; else stop at known ones
    history_limit: int | None  # the most posts an account's walk reaches back (None: its whole history)

    def lookup(self) -> RemoteAccount: ...

    def is_own_account(self) -> bool:
        """Whether the token in use belongs to the account lookup() found."""
        ...

    def page(self, cursor: str | None, newer_than: str | None, limit: int) -> Page: ...


class HttpClient:
    """JSON requests to one API root, retrying what is worth retrying and waiting out rate limits."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        policy: RetryPolicy = RetryPolicy(),
        on_wait: OnWait | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,  # what `inflate` decodes a bounded piece at a time
            "User-Agent": "tweetling (+https://github.com/tweetling)",
        }
        self.base_url = checked_base_url(base_url)
        self.host = httpx.URL(self.base_url).host
        if token:  # as sent, so that a reply echoing it is redacted too
            token = checked_token(token, f"the token for {self.host}")
            headers["Authorization"] = f"Bearer {token}"
        self.policy = policy
        self._secrets = _secret_forms(token)
        self._on_wait = on_wait
        self._sleep = sleep
        self._clock = clock
        self._budget_resets_at = 0.0  # a used-up rate limit window ends then (epoch seconds)
        # Redirects are followed in `_reply`, which reads no redirect's body.
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=policy.timeout,
            event_hooks={"response": [_refuse_other_schemes]},
        )

    def __repr__(self) -> str:
        return f"HttpClient({self.base_url!r})"

    def where(self, path: str) -> str:
        """How messages name the URL of PATH: host and full path, without scheme or query."""
        return f"{self.host}{httpx.URL(self.base_url).path.rstrip('/')}{path}"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_json(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        explain: Callable[[HttpStatusError], SourceError] | None = None,
    ) -> JsonReply:
        """The JSON reply to GET PATH; EXPLAIN turns an HTTP error status into the source's own message."""
        return self.request_json("GET", path, params=params, explain=explain)

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        form: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        explain: Callable[[HttpStatusError], SourceError] | None = None,
        resend: bool = True,
    ) -> JsonReply:
        """The JSON reply to METHOD PATH with a JSON or form body and extra HEADERS.

        RESEND=False is for a request that must not be repeated blindly (a post without an
        idempotency key): once it may have reached the server, a timeout or 5xx reply is raised
        instead of retried. A 429 reply means it was not processed, so it is always waited out.
        """
        try:
            return self._send(_Request(method, path, params, json, form, headers, resend))
        except HttpStatusError as error:
            if explain is None:
                raise
            raise explain(error) from None

    def _send(self, request: _Request) -> JsonReply:
        if not all(_HEADER.fullmatch(value) for value in (request.headers or {}).values()):
            # httpx would refuse it, quoting the value: a token read from a credentials file, say
            raise SourceError(f"a token sent to {self.host} holds line breaks or characters outside ASCII")
        query = {k: v for k, v in (request.params or {}).items() if v is not None}
        secrets = tuple(sorted({*self._secrets, *_sent_secrets(request, query)}, key=len, reverse=True))
        failures = rate_limited = 0
        while True:
            self._wait_for_budget()
            may_have_arrived = True
            try:
                reply = self._receive(request, query)
            except httpx.TransportError as error:
                detail = server_text(_scrubbed(str(error), secrets)) or ""  # may quote a broken header line
                failure = f"cannot reach {self.host} ({type(error).__name__}: {detail})"
                may_have_arrived = not isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))
            except _DeadlinePassed as error:
                failure = f"{self.host}: {error}"
            except _OtherScheme as error:
                where = server_text(_scrubbed(_masked(str(error)), secrets))
                raise SourceError(
                    f"{self.host} redirected {request.method} {request.path} to {where}:"
                    " only http and https addresses are followed"
                ) from None
            else:
                if reply.status == 429:
                    rate_limited += 1
                    seconds = rate_limit_wait(reply.headers) or self._backoff(rate_limited)
                    if rate_limited > self.policy.rate_limit_retries or seconds > self.policy.max_rate_limit_wait:
                        raise SourceError(
                            f"{self.host} rate limit: asked to wait {_duration(seconds)};"
                            " run the same command again later to resume"
                        )
                    self._wait(seconds, f"rate limited by {self.host}")
                    continue
                self._note_budget(reply.headers)
                if 300 <= reply.status < 400:  # a redirect to nowhere, or one of a request that sends something
                    where = _scrubbed(_masked(reply.headers.get("location", "")), secrets)
                    if not where:
                        raise SourceError(
                            f"{self.host} answered {request.method} {request.path} with {reply.status}, a redirect"
                            " without a Location to follow; check the server address"
                        )
                    raise SourceError(
                        f"{self.host} redirected {request.method} {request.path} to {server_text(where)}:"
                        " not followed, as it would send what the request carries there; check the server address"
                    )
                if reply.status < 500:
                    return self._parsed(request.path, reply, secrets)
                failure = f"{self.host} answered HTTP {reply.status} for {request.path}"
            failures += 1  # a 5xx reply, a timeout or a lost connection: worth another try
            if failures > self.policy.retries or (may_have_arrived and not request.resend):
                raise SourceError(f"{failure}; run the same command again to resume") from None
            self._wait(self._backoff(failures), f"{failure}, retry {failures} of {self.policy.retries}")

    def _note_budget(self, headers: httpx.Headers) -> None:
        """Remember when a window whose requests are all used up (X-RateLimit-Remaining: 0) resets."""
        remaining = next((headers[name] for name in _REMAINING_HEADERS if name in headers), None)
        if remaining is not None and remaining.strip() == "0":
            self._budget_resets_at = self._clock() + (rate_limit_wait(headers, self._clock()) or 0.0)

    def _wait_for_budget(self) -> None:
        seconds = self._budget_resets_at - self._clock()
        if seconds <= 0:
            return
        if seconds > self.policy.max_rate_limit_wait:
            raise SourceError(
                f"{self.host} rate limit: no requests left for {_duration(seconds)}; run the same command again later"
            )
        self._budget_resets_at = 0.0
        self._wait(seconds, f"{self.host} rate limit window used up")

    def _receive(self, request: _Request, query: dict[str, Any]) -> _Received:
        """One request read in full within the policy's deadline.

        The request runs in a worker thread because httpx's timeouts bound each read, not the
        whole: a server trickling a byte at a time would hold it forever. A request past its
        deadline is abandoned; its thread stops at its next read or per-read timeout.
        """
        outcome: dict[str, Any] = {}
        abandoned = threading.Event()

        def run() -> None:
            try:
                outcome["reply"] = self._read(request, query, abandoned)
            except BaseException as error:  # handed to the calling thread
                outcome["error"] = error

        worker = threading.Thread(target=run, name=f"tweetling {request.method} {self.host}", daemon=True)
        worker.start()
        worker.join(self.policy.deadline)
        if worker.is_alive():
            abandoned.set()
            raise _DeadlinePassed(f"no complete reply to {request.path} within {self.policy.deadline:.0f} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["reply"]

    def _read(self, request: _Request, query: dict[str, Any], abandoned: threading.Event) -> _Received:
        path = request.path
        cap = self.policy.max_reply_bytes
        too_large = SourceError(
            f"{self.host}: the reply to {path} is larger than {limits.size(cap)}, the most one reply may be"
        )
        try:
            with self._reply(request, query) as response:
                declared = response.headers.get("content-length", "")
                if re.fullmatch(r"[0-9]{1,20}", declared) and int(declared) > cap:
                    raise too_large
                body = bytearray()
                for chunk in decoded(response.iter_raw(), response.headers.get_list("content-encoding", True)):
                    body += chunk
                    if len(body) > cap:
                        raise too_large
                    if abandoned.is_set():
                        raise _DeadlinePassed("abandoned")
                try:
                    links = {str(rel): dict(link) for rel, link in response.links.items()}
                except (ValueError, KeyError, TypeError):
                    links = {}
                return _Received(response.status_code, response.headers, links, bytes(body))
        except httpx.TransportError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL) as error:  # too many redirects, undecodable gzip
            raise SourceError(
                f"{self.host}: cannot read the reply to {path} ({type(error).__name__}: {error})"
            ) from None

    @contextlib.contextmanager
    def _reply(self, request: _Request, query: dict[str, Any]) -> Iterator[httpx.Response]:
        """The reply to REQUEST, unread, closed on leaving, after the redirects a read follows.

        httpx would read each redirect's body whole (however it inflates) and follows any; here a
        redirect is closed unread, and a request that sends something (a password, a code, a post)
        follows none, as it would resend its body. httpx drops the Authorization header when a
        redirect leaves the API's origin.
        """
        response = self._client.send(
            self._client.build_request(
                request.method,
                request.path,
                params=query,
                json=request.json,
                data=request.form,
                headers=request.headers,
            ),
            stream=True,
        )
        try:
            hops = 0
            while request.method in _READS and response.next_request is not None:
                if hops == self._client.max_redirects:
                    raise SourceError(f"{self.host}: more than {hops} redirects from {request.path}")
                hops += 1
                response.close()
                response = self._client.send(response.next_request, stream=True)
            yield response
        finally:
            response.close()

    def _parsed(self, path: str, reply: _Received, secrets: tuple[bytes, ...]) -> JsonReply:
        try:
            data = json.loads(reply.body)
            # JSON escapes (\u0041, \/) may spell a secret out where the raw body does not show it.
            if secrets and (b"\\" in reply.body or any(secret in reply.body for secret in secrets)):
                data = _redacted(data, secrets)
        except RecursionError:
            raise ReplyError(self.where(path), "the reply's JSON is nested too deeply to read") from None
        except ValueError:  # not JSON, not UTF-8, or a number too long to convert
            if reply.status >= 400:
                raise HttpStatusError(self.host, path, reply.status, None) from None
            raise SourceError(
                f"{self.host}: the reply to {path} is not valid JSON (HTTP {reply.status}, {len(reply.body)} bytes)"
            ) from None
        if reply.status >= 400:
            raise HttpStatusError(self.host, path, reply.status, data)
        return JsonReply(data, reply.links, reply.headers)

    def _backoff(self, attempt: int) -> float:
        return min(self.policy.backoff * 2 ** (attempt - 1), self.policy.max_backoff)

    def _wait(self, seconds: float, reason: str) -> None:
        if self._on_wait:
            self._on_wait(seconds, reason)
        self._sleep(seconds)


_TOKEN = re.compile(r"[\x21-\x7e]+")  # what an HTTP header can carry of a token: visible ASCII
_HEADER = re.compile(r"[\x20-\x7e]*")


_READS = ("GET", "HEAD")  # requests that carry nothing but their address and headers


def checked_token(value: str, named: str) -> str:
    """VALUE without the spaces around it, if a header can carry it; else a SourceError that names
    where it came from (NAMED: a variable or a field), never the value."""
    value = value.strip()
    if not _TOKEN.fullmatch(value):
        raise SourceError(f"{named} holds spaces, line breaks or characters outside ASCII: copy the token again")
    return value


def checked_base_url(base_url: str) -> str:
    """BASE_URL without its trailing slash if it is an http(s) URL with a host, else a SourceError."""
    problem = "expected http(s)://host[:port][/path]"
    try:
        url = httpx.URL(base_url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        url = None
    if url is not None and url.userinfo:
        problem = (
            "credentials do not belong in the URL (they would travel in every message); pass a token with --token-env"
        )
    elif (
        url is not None
        and url.scheme in ("http", "https")
        and url.host
        and (url.port is None or 0 < url.port <= 65535)
        and not url.query
        and not url.fragment
    ):
        return str(url).rstrip("/")
    raise SourceError(f"invalid base URL {shown(_masked(base_url), 60)}: {problem}")


def _masked(url: str) -> str:
    """URL with what may hold a secret (the user:password before the host, the query) hidden."""
    return re.sub(r"[?#].*", "?…", re.sub(r"//[^?#]*@", "//…@", url, count=1), flags=re.DOTALL)


def _refuse_other_schemes(response: httpx.Response) -> None:
    """A response hook: httpx would build a request to a file:// or ftp:// redirect, then fail it
    as if the server were unreachable, and it would be tried again."""
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", response.headers.get("location", ""))
    if response.has_redirect_location and scheme and scheme.group(1).lower() not in ("http", "https"):
        raise _OtherScheme(response.headers["location"])


_SECRET_FIELD = re.compile(r"token|secret|password|code|signature", re.IGNORECASE)  # not "key": Bluesky sends an rkey


def _sent_secrets(request: _Request, query: dict[str, Any]) -> tuple[bytes, ...]:
    """The secrets REQUEST sends, in the forms a server may echo them: its Authorization header's
    credentials (each quoted OAuth 1 value too), and its fields named like secrets."""
    credentials = (request.headers or {}).get("Authorization", "").partition(" ")[2]
    oauth = re.findall(r'([\w-]+)="([^"]*)"', credentials)
    values = [credentials, *(value for name, value in oauth if _SECRET_FIELD.search(name))]
    for fields in (query, request.form, request.json):
        if isinstance(fields, dict):
            values += [value for name, value in fields.items() if _SECRET_FIELD.search(str(name))]
    return tuple(form for value in values if isinstance(value, str) for form in _secret_forms(value))


def _secret_forms(token: str | None) -> tuple[bytes, ...]:
    """The ways a server may echo TOKEN back: as sent, URL-decoded or -encoded, JSON-escaped."""
    if not token:
        return ()
    forms = {token, unquote(token), quote(token, safe=""), token.replace("/", "\\/")}
    return tuple(form.encode() for form in forms if len(form) >= 8)


def _redacted(value: Any, secrets: tuple[bytes, ...]) -> Any:
    """VALUE (parsed JSON) with every secret in its strings replaced by [redacted]; walked with a
    stack, as a reply may nest deeper than Python recurses."""

    def copied(item: Any) -> Any:
        if isinstance(item, str):
            return _scrubbed(item, secrets)
        if isinstance(item, (list, dict)):
            copy = type(item)()
            pending.append((item, copy))
            return copy
        return item

    pending: list[tuple[Any, Any]] = []
    result = copied(value)
    while pending:
        original, copy = pending.pop()
        if isinstance(original, list):
            copy.extend(copied(item) for item in original)
        else:
            copy.update((copied(key), copied(item)) for key, item in original.items())
    return result


def _scrubbed(text: str, secrets: tuple[bytes, ...]) -> str:
    """TEXT with every secret replaced by [redacted] (longer secrets first, as one may hold another)."""
    for secret in secrets:
        text = text.replace(secret.decode(), "[redacted]")
    return text


def server_text(value: Any, width: int = 200) -> str | None:
    """A message a server wrote (an error's title or detail) for one line of ours: a string, its
    whitespace collapsed, cut to WIDTH characters; None for anything else."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 10**7 else "more than 100 days"


def rate_limit_wait(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds a 429 reply asks us to wait: Retry-After (seconds or HTTP date), or a reset time.

    X sends x-rate-limit-reset (epoch seconds), Bluesky ratelimit-reset (epoch seconds) and
    Mastodon x-ratelimit-reset (an ISO 8601 time). Values that are no time (not a number,
    infinite) are skipped; a moment in the past means no wait.
    """
    now = time.time() if now is None else now
    retry_after = (headers.get("retry-after") or "").strip()
    if re.fullmatch(r"[0-9]{1,12}", retry_after):
        return float(retry_after)
    if retry_after:
        try:
            return max(parsedate_to_datetime(retry_after).timestamp() - now, 0.0)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    for name in ("x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset"):
        value = (headers.get(name) or "").strip()
        try:
            number = float(value)
        except ValueError:
            try:
                return max(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() - now, 0.0)
            except (ValueError, OverflowError, OSError):
                continue
        if not math.isfinite(number):
            continue
        # Large numbers are moments (epoch seconds); small ones are already durations.
        return max(number - now, 0.0) if number > 1e9 else max(number, 0.0)
    return None
