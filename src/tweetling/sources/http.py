"""The HTTP client the network sources share: timeouts, retries, rate limits, and what a page is.

Tokens travel only in the Authorization header; no message, repr or log line built here
contains a header, so a token cannot leak through an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from ..errors import SourceError
from ..posts import Post, Profile
from . import parse_date

OnWait = Callable[[float, str], None]  # (seconds, reason), called before each pause


@dataclass(frozen=True)
class RetryPolicy:
    """How patient a client is with a slow, failing or rate-limiting server."""

    timeout: float = 30.0  # seconds to connect, and between bytes of a reply
    retries: int = 4  # extra attempts after a 5xx reply, a timeout or a connection error
    backoff: float = 2.0  # seconds before the first retry; doubles after each one
    max_backoff: float = 60.0
    rate_limit_retries: int = 5  # 429 replies honoured in a row before giving up
    max_rate_limit_wait: float = 16 * 60.0  # longest 429 pause honoured (X windows last 15 min)


@dataclass(frozen=True)
class JsonReply:
    data: Any
    links: dict[str, dict[str, str]]  # the Link header, by rel (Mastodon pages with it)


class HttpStatusError(SourceError):
    """A 4xx reply other than 429; sources turn it into a message about the account or token."""

    def __init__(self, host: str, path: str, status: int, body: Any):
        self.status = status
        self.body = body  # the parsed JSON error body, or None
        super().__init__(f"{host}: HTTP {status} for {path}")


@dataclass(frozen=True)
class RemoteAccount:
    """An account as a source reports it: the profile to store and how many posts it has."""

    profile: Profile
    post_count: int | None = None


@dataclass(frozen=True)
class Page:
    posts: list[Post]
    next_cursor: str | None  # None: there are no older posts


class NetworkSource(Protocol):
    """What `tweetling.fetch` needs from a source; one implementation per module."""

    source: str  # the Post.source it produces
    page_size: int  # most posts one request may ask for
    min_page_size: int  # fewest posts one request may ask for
    filters_newer: bool  # True: page(newer_than=...) returns only newer posts; else stop at known ones

    def lookup(self) -> RemoteAccount: ...

    def page(self, cursor: str | None, newer_than: str | None, limit: int) -> Page: ...


class HttpClient:
    """GET JSON from one API root, retrying what is worth retrying and waiting out rate limits."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        policy: RetryPolicy = RetryPolicy(),
        on_wait: OnWait | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        headers = {"Accept": "application/json", "User-Agent": "tweetling (+https://github.com/tweetling)"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.host = httpx.URL(self.base_url).host or self.base_url
        self.policy = policy
        self._on_wait = on_wait
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=policy.timeout, follow_redirects=True
        )

    def __repr__(self) -> str:
        return f"HttpClient({self.base_url!r})"

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
        try:
            return self._get_json(path, params)
        except HttpStatusError as error:
            if explain is None:
                raise
            raise explain(error) from None

    def _get_json(self, path: str, params: dict[str, Any] | None) -> JsonReply:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        failures = rate_limited = 0
        while True:
            try:
                response = self._client.get(path, params=query)
            except httpx.TransportError as error:
                failures += 1
                reason = f"cannot reach {self.host} ({type(error).__name__}: {error})"
                if failures > self.policy.retries:
                    raise SourceError(f"{reason}; run the same command again to resume") from None
                self._wait(self._backoff(failures), f"{reason}, retry {failures} of {self.policy.retries}")
                continue
            if response.status_code == 429:
                rate_limited += 1
                seconds = rate_limit_wait(response.headers) or self._backoff(rate_limited)
                if rate_limited > self.policy.rate_limit_retries or seconds > self.policy.max_rate_limit_wait:
                    raise SourceError(
                        f"{self.host} rate limit: asked to wait {seconds:.0f} s;"
                        " run the same command again later to resume"
                    )
                self._wait(seconds, f"rate limited by {self.host}")
                continue
            if response.status_code >= 500:
                failures += 1
                reason = f"{self.host} answered HTTP {response.status_code} for {path}"
                if failures > self.policy.retries:
                    raise SourceError(f"{reason}; run the same command again to resume")
                self._wait(self._backoff(failures), f"{reason}, retry {failures} of {self.policy.retries}")
                continue
            return self._reply(path, response)

    def _reply(self, path: str, response: httpx.Response) -> JsonReply:
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            if response.status_code >= 400:
                raise HttpStatusError(self.host, path, response.status_code, None) from None
            raise SourceError(
                f"{self.host}: the reply to {path} is not valid JSON"
                f" (HTTP {response.status_code}, {len(response.content)} bytes)"
            ) from None
        if response.status_code >= 400:
            raise HttpStatusError(self.host, path, response.status_code, data)
        return JsonReply(data, {rel: dict(link) for rel, link in response.links.items()})

    def _backoff(self, attempt: int) -> float:
        return min(self.policy.backoff * 2 ** (attempt - 1), self.policy.max_backoff)

    def _wait(self, seconds: float, reason: str) -> None:
        if self._on_wait:
            self._on_wait(seconds, reason)
        self._sleep(seconds)


def rate_limit_wait(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds a 429 reply asks us to wait: Retry-After (seconds or HTTP date), or a reset time.

    X sends x-rate-limit-reset (epoch seconds), Bluesky ratelimit-reset (epoch seconds) and
    Mastodon x-ratelimit-reset (an ISO 8601 time).
    """
    now = time.time() if now is None else now
    retry_after = headers.get("retry-after")
    if retry_after:
        if retry_after.strip().isdigit():
            return float(retry_after)
        try:
            return max(parsedate_to_datetime(retry_after).timestamp() - now, 0.0)
        except (TypeError, ValueError):
            pass
    for name in ("x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset"):
        value = headers.get(name)
        if not value:
            continue
        try:
            number = float(value)
        except ValueError:
            try:
                number = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
        # Large numbers are moments (epoch seconds); small ones are already durations.
        return max(number - now, 0.0) if number > 1e9 else number
    return None


def utc_iso(value: str | None) -> str | None:
    """A source's timestamp as ISO 8601 UTC to the second, the form the store sorts by; one it
    cannot read is kept as given."""
    if not value:
        return None
    try:
        return parse_date(value)
    except ValueError:
        return value
