"""Connecting the accounts bots post from: secrets go to credentials.json, the rest to the store."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import TweetlingError
from ..sources.http import checked_token
from ..store import Store
from . import bluesky, credentials, mastodon, x
from .credentials import Secret
from .service import ClientOptions, Connected, Connection
from .targets import parse_target

BLUESKY_PASSWORD_ENV = "BLUESKY_APP_PASSWORD"
_APP_PASSWORD = re.compile(r"^[a-z0-9]{4}(-[a-z0-9]{4}){3}$")


@dataclass(frozen=True)
class ConnectOptions:
    base_url: str | None = None  # API root instead of the service's (a self-hosted PDS, a test server)
    token_env: str | None = None  # Mastodon, X (OAuth 2.0): the variable holding an existing user token
    password_env: str = BLUESKY_PASSWORD_ENV  # Bluesky: the variable holding the app password
    bio_line: str | None = None  # disclosure added to the profile; None leaves the bio alone
    client: ClientOptions = field(default_factory=ClientOptions)
    # Secrets typed in (the web app) instead of read from the environment: Mastodon "access_token",
    # Bluesky "app_password", X the four OAuth 1.0a keys (OAUTH1_KEYS) or "user_token".
    secrets: dict[str, Secret] = field(default_factory=dict)


class Prompts(Protocol):
    """What connecting may have to ask the operator."""

    def authorization_code(self, url: str) -> str: ...  # Mastodon: the code shown after authorizing at URL

    def app_password(self, handle: str) -> str: ...  # Bluesky, when the environment has none


def bio_line(accounts: list[str], operator: str | None) -> str:
    """The disclosure offered for the bot's profile: what it is, whose posts, who runs it."""
    handles = ", ".join(f"@{account.lstrip('@')}" for account in accounts)
    line = f"🤖 Automated account: posts written by a language model trained on {handles}'s public posts."
    return f"{line} Run by @{operator.lstrip('@')}." if operator else line


def connect(store: Store, target_text: str, options: ConnectOptions, prompts: Prompts) -> Connected:
    """Connect TARGET ('service:handle') to post from: authorise, disclose, save."""
    target = parse_target(target_text)
    base_url = (options.base_url or target.default_base_url()).rstrip("/")
    notes: list[str] = []
    given = options.secrets
    if target.service == "mastodon":
        token = given.get("access_token") or (_env_secret(options.token_env) if options.token_env else None)
        result = mastodon.connect(target, base_url, token, prompts.authorization_code, options.bio_line, options.client)
        # A token from the page's sign-in link comes with the app registered for it: kept alike.
        result.secrets.update({name: given[name] for name in ("client_id", "client_secret") if name in given})
    elif target.service == "bluesky":
        typed = given.get("app_password")
        password = (
            typed.reveal() if typed else os.environ.get(options.password_env) or prompts.app_password(target.handle)
        )
        if not password:
            raise TweetlingError(f"bluesky: no app password: set {options.password_env} or type it when asked")
        if not _APP_PASSWORD.match(password):
            notes.append(
                "that does not look like an app password: tweetling needs only one"
                " (Settings → Privacy and security → App passwords), never the account's own password"
            )
        result = bluesky.connect(target, base_url, Secret(password), options.bio_line, options.client)
    else:
        keys = _given_x_keys(given) if given else _x_keys(options.token_env)
        result = x.connect(target, base_url, keys, options.bio_line, options.client)
    # Saved only now that the service has answered every step; both or neither.
    with store.transaction():
        save_connection(store, result.connection)
        credentials.save(target.key, result.secrets)
    return Connected(result.connection, result.secrets, result.notes + notes)


def _env_secret(name: str) -> Secret:
    value = os.environ.get(name)
    if not value:
        raise TweetlingError(f"environment variable {name} is not set or empty")
    return Secret(checked_token(value, f"environment variable {name}"))


def _x_keys(token_env: str | None) -> dict[str, Secret]:
    """An OAuth 2.0 user token (and what renews it) from TOKEN_ENV, or the four OAuth 1.0a keys."""
    if token_env:
        keys = {"user_token": _env_secret(token_env)}
        keys.update({name: _env_secret(env) for name, env in x.REFRESH_ENVS.items() if os.environ.get(env)})
        return keys
    if all(os.environ.get(env) for env in x.OAUTH1_ENVS):
        return {key: _env_secret(env) for key, env in zip(x.OAUTH1_KEYS, x.OAUTH1_ENVS, strict=True)}
    if os.environ.get(x.TOKEN_ENV):
        return _x_keys(x.TOKEN_ENV)
    raise TweetlingError(
        f"x: no keys: set {', '.join(x.OAUTH1_ENVS)} (OAuth 1.0a, from the developer portal),"
        f" or {x.TOKEN_ENV} (an OAuth 2.0 user token; --token-env names another variable)"
    )


def _given_x_keys(given: dict[str, Secret]) -> dict[str, Secret]:
    """The four OAuth 1.0a keys, or an OAuth 2.0 user token, of GIVEN."""
    if all(given.get(key) for key in x.OAUTH1_KEYS):
        return {key: given[key] for key in x.OAUTH1_KEYS}
    if given.get("user_token"):
        return {"user_token": given["user_token"]}
    raise TweetlingError("x: give all four keys of the app's Keys and tokens page (or a user token)")


def save_connection(store: Store, connection: Connection) -> None:
    store.db.execute(
        "INSERT INTO connections (target, service, handle, base_url, account_id, max_chars, bot_flag, bio_line,"
        " connected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(target) DO UPDATE SET"
        " service = excluded.service, handle = excluded.handle, base_url = excluded.base_url,"
        " account_id = excluded.account_id, max_chars = excluded.max_chars, bot_flag = excluded.bot_flag,"
        " bio_line = excluded.bio_line, connected_at = excluded.connected_at",
        (
            connection.target,
            connection.service,
            connection.handle,
            connection.base_url,
            connection.account_id,
            connection.max_chars,
            int(connection.bot_flag),
            connection.bio_line,
            connection.connected_at,
        ),
    )


def connections(store: Store) -> list[Connection]:
    return [_connection(row) for row in store.db.execute("SELECT * FROM connections ORDER BY target")]


def get_connection(store: Store, target_text: str) -> Connection:
    key = parse_target(target_text).key
    row = store.db.execute("SELECT * FROM connections WHERE target = ?", (key,)).fetchone()
    if row is None:
        raise TweetlingError(f"{key} is not connected: run `tweetling connect {key}` first")
    return _connection(row)


def disconnect(store: Store, target_text: str) -> bool:
    """Forget TARGET's credentials and connection (its posted drafts stay in the queue's history)."""
    key = parse_target(target_text).key
    removed = credentials.delete(key)
    removed |= store.db.execute("DELETE FROM connections WHERE target = ?", (key,)).rowcount > 0
    return removed


def _connection(row) -> Connection:
    return Connection(
        target=row["target"],
        service=row["service"],
        handle=row["handle"],
        base_url=row["base_url"],
        account_id=row["account_id"],
        max_chars=row["max_chars"],
        bot_flag=bool(row["bot_flag"]),
        bio_line=row["bio_line"],
        connected_at=row["connected_at"],
    )
