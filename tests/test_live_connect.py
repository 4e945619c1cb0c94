"""Connecting the bot's own account: authorization, disclosure, where the credentials go."""

from __future__ import annotations

import logging
import stat
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from http_payloads import json_response
from live_fakes import (
    OAUTH1,
    OOB,
    TARGETS,
    Answers,
    FakeBluesky,
    FakeMastodon,
    FakeX,
    connect_fake,
    secrets_of,
    start_fake,
)
from tweetling.cli import cli
from tweetling.errors import SourceError, TweetlingError
from tweetling.live import (
    ConnectOptions,
    Queue,
    bio_line,
    connect,
    connections,
    credentials,
    disconnect,
    post_next,
)
from tweetling.store import Store


@pytest.fixture
def store(tweetling_home):
    with Store() as store:
        yield store


def test_mastodon_registers_an_app_and_trades_the_out_of_band_code(httpserver, store):
    fake = FakeMastodon(httpserver, max_characters=1000)
    answers = Answers(code=fake.code)
    line = bio_line(["jack"], "me@home.social")

    result = connect(store, "mastodon:@bot@botsin.space", ConnectOptions(base_url=fake.url, bio_line=line), answers)

    app = fake.sent("/api/v1/apps")[0]
    assert app.form == {
        "client_name": "tweetling",
        "redirect_uris": OOB,
        "scopes": "read:accounts read:notifications read:statuses write:accounts write:statuses",
    }
    query = parse_qs(urlsplit(answers.urls[0]).query)
    assert urlsplit(answers.urls[0]).path == "/oauth/authorize"
    assert query["client_id"] == [fake.client_id] and query["redirect_uri"] == [OOB]
    assert query["response_type"] == ["code"] and query["force_login"] == ["true"]
    token_request = fake.sent("/oauth/token")[0]
    assert token_request.form["grant_type"] == "authorization_code" and token_request.form["code"] == fake.code
    update = fake.sent("/update_credentials")[0]
    assert update.method == "PATCH" and update.form["bot"] == "true"
    assert update.form["note"] == f"I post things.\n\n{line}"  # the bio kept, the disclosure added
    assert fake.account["bot"] is True
    assert result.connection.max_chars == 1000 and result.connection.account_id == "4242"
    assert result.connection.bio_line == line
    assert credentials.load("mastodon:@bot@botsin.space")["access_token"].reveal() == fake.token


def test_mastodon_takes_an_existing_token_and_leaves_a_flagged_account_alone(httpserver, store, monkeypatch):
    fake = FakeMastodon(httpserver, bot=True)
    monkeypatch.setenv("BOT_TOKEN", fake.token)

    connect(store, "mastodon:@bot@botsin.space", ConnectOptions(base_url=fake.url, token_env="BOT_TOKEN"), Answers())

    assert not fake.sent("/api/v1/apps") and not fake.sent("/update_credentials")
    assert connections(store)[0].target == "mastodon:@bot@botsin.space"


@pytest.mark.parametrize(
    ("service", "fake_args", "message"),
    [
        (
            "mastodon",
            {"username": "someoneelse"},
            "the token belongs to @someoneelse, not to mastodon:@bot@botsin.space",
        ),
        ("x", {"username": "someoneelse"}, "the keys belong to @someoneelse, not to x:botname"),
    ],
)
def test_credentials_of_another_account_are_refused(httpserver, store, monkeypatch, service, fake_args, message):
    fake = start_fake(service, httpserver, **fake_args)
    with pytest.raises(SourceError, match=message):
        connect_fake(store, service, fake, monkeypatch)
    assert connections(store) == []


def test_mastodon_wrong_code_is_one_clear_line(httpserver, store):
    fake = FakeMastodon(httpserver)
    with pytest.raises(SourceError, match="did not accept the code: invalid_grant"):
        connect(store, TARGETS["mastodon"], ConnectOptions(base_url=fake.url), Answers(code="nope"))


def test_bluesky_labels_the_profile_keeping_its_other_fields(httpserver, store, monkeypatch):
    profile = {
        "$type": "app.bsky.actor.profile",
        "displayName": "Jack's bot",
        "description": "Posts like Jack.",
        "avatar": {"$type": "blob", "ref": {"$link": "bafkreiavatar"}, "mimeType": "image/jpeg", "size": 1234},
        "labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "graphic-media"}]},
    }
    fake = FakeBluesky(httpserver, profile=dict(profile))
    line = bio_line(["jack"], "me.bsky.social")

    result = connect_fake(store, "bluesky", fake, monkeypatch, bio_line=line)

    put = fake.sent("com.atproto.repo.putRecord")[0].json
    assert put["collection"] == "app.bsky.actor.profile" and put["rkey"] == "self" and put["repo"] == fake.did
    assert put["swapRecord"].startswith("bafyrei")  # written only over the profile it read
    record = fake.records[("app.bsky.actor.profile", "self")]
    assert record["labels"] == {
        "$type": "com.atproto.label.defs#selfLabels",
        "values": [{"val": "graphic-media"}, {"val": "bot"}],
    }
    assert record["displayName"] == "Jack's bot" and record["avatar"] == profile["avatar"]
    assert record["description"] == f"Posts like Jack.\n\n{line}"
    assert result.connection.account_id == fake.did and result.connection.max_chars == 300
    assert fake.sessions_created == 1
    stored = credentials.load("bluesky:bot.bsky.social")
    assert set(stored) == {"app_password", "access_jwt", "refresh_jwt"}


def test_bluesky_without_a_profile_record_gets_one_with_the_label(httpserver, store, monkeypatch):
    fake = FakeBluesky(httpserver)
    connect_fake(store, "bluesky", fake, monkeypatch)
    put = fake.sent("com.atproto.repo.putRecord")[0].json
    assert "swapRecord" not in put
    assert put["record"] == {
        "$type": "app.bsky.actor.profile",
        "labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "bot"}]},
    }


def test_bluesky_wrong_password_says_to_use_an_app_password(httpserver, store, monkeypatch):
    fake = FakeBluesky(httpserver)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "wrong-pass-word-here")
    with pytest.raises(SourceError, match="could not log in .*use an app password") as error:
        connect(store, TARGETS["bluesky"], ConnectOptions(base_url=fake.url), Answers())
    assert "wrong-pass-word-here" not in str(error.value)


def test_x_checks_the_oauth1_keys_and_says_what_to_set_by_hand(httpserver, store, monkeypatch):
    fake = FakeX(httpserver)
    result = connect_fake(store, "x", fake, monkeypatch, bio_line="🤖 Automated account")
    me = fake.sent("/2/users/me")[0]
    assert me.headers["Authorization"].startswith("OAuth oauth_consumer_key=")
    assert not result.connection.bot_flag
    assert any("Automation" in note for note in result.notes)
    assert any("🤖 Automated account" in note for note in result.notes)


def test_x_without_keys_names_the_variables(store, monkeypatch):
    for name in ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "X_USER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(TweetlingError, match="set X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET"):
        connect(store, "x:botname", ConnectOptions(), Answers())


@pytest.mark.parametrize("service", ["mastodon", "bluesky", "x"])
def test_secrets_stay_in_the_private_file(httpserver, tweetling_home, monkeypatch, caplog, service):
    """Tokens reach credentials.json (0600) and nothing else: not the store, the output or the logs."""
    caplog.set_level(logging.DEBUG)
    fake = start_fake(service, httpserver)
    with Store() as store:
        connect_fake(store, service, fake, monkeypatch)
    path = credentials.credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = path.read_text()
    others = b"".join(p.read_bytes() for p in tweetling_home.rglob("*") if p.is_file() and p != path)
    for secret in secrets_of(fake):
        if secret in kept or service != "bluesky":  # Bluesky's fake lists token prefixes too
            assert secret.encode() not in others
            assert secret not in caplog.text


def test_cli_connect_offers_the_bio_line_and_prints_no_secret(httpserver, tiny_bot, caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeMastodon(httpserver)
    args = ["connect", TARGETS["mastodon"], "--base-url", fake.url, "--bot", "jack", "--operator", "@me@home.social"]

    result = CliRunner().invoke(cli, args, input=f"y\n{fake.code}\n")

    assert result.exit_code == 0, result.output
    assert "Automated account: posts written by a language model trained on @jack's public posts." in result.output
    assert "Run by @me@home.social." in fake.account["source"]["note"]
    assert "connected mastodon:@bot@botsin.space (posts up to 500 characters)" in result.output
    assert "/oauth/authorize?" in result.output
    for secret in secrets_of(fake):
        assert secret not in result.output and secret not in caplog.text
    listed = CliRunner().invoke(cli, ["connections"])
    assert "mastodon:@bot@botsin.space" in listed.output and "yes" in listed.output


def test_disconnect_forgets_the_credentials(httpserver, store, monkeypatch):
    fake = FakeX(httpserver)
    connect_fake(store, "x", fake, monkeypatch)
    assert disconnect(store, "x:BotName")
    assert connections(store) == []
    with pytest.raises(TweetlingError, match="not connected"):
        credentials.load("x:botname")
    assert OAUTH1["access_token_secret"] not in credentials.credentials_path().read_text()


@pytest.mark.parametrize(
    "v2, v1, limit",
    [
        (None, None, 500),
        ([1, 2], None, 500),
        ({"configuration": "big"}, {"max_toot_chars": 800}, 800),
        ({"configuration": {"statuses": ["x"]}}, None, 500),
        ({"configuration": {"statuses": {"max_characters": True}}}, None, 500),
        ({"configuration": {"statuses": {"max_characters": 10**30}}}, None, 100_000),
    ],
)
def test_an_odd_instance_reply_falls_back_to_a_bounded_limit(httpserver, v2, v1, limit):
    from tweetling.live.mastodon import instance_limit
    from tweetling.sources.http import HttpClient

    httpserver.expect_request("/api/v2/instance").respond_with_json(v2)
    httpserver.expect_request("/api/v1/instance").respond_with_json(v1)
    with HttpClient(httpserver.url_for("/")) as client:
        assert instance_limit(client) == limit


def _session(fake, **fields):
    reply = {"did": fake.did, "handle": fake.handle, "accessJwt": "bsky-access-SECRET-9", "refreshJwt": "r-SECRET-9"}
    return json_response({k: v for k, v in {**reply, **fields}.items() if v is not None})


@pytest.mark.parametrize(
    ("service", "path", "reply"),
    [
        ("bluesky", "createSession", lambda fake: _session(fake, refreshJwt=None)),
        ("bluesky", "createSession", lambda fake: _session(fake, refreshJwt="")),
        ("bluesky", "createSession", lambda fake: _session(fake, accessJwt=12345)),
        ("bluesky", "createSession", lambda fake: _session(fake, did={"id": "did:plc:x"})),
        ("bluesky", "createSession", lambda fake: json_response(["not", "a", "session"])),
        ("bluesky", "getRecord", lambda fake: json_response({"uri": "at://x", "value": "not a record"})),
        ("bluesky", "getRecord", lambda fake: json_response({"value": {"description": 7}})),
        ("bluesky", "putRecord", lambda fake: json_response({"uri": 7})),
        ("mastodon", "/api/v1/apps", lambda fake: json_response({"client_id": 5, "client_secret": "s"})),
        ("mastodon", "verify_credentials", lambda fake: json_response({**fake.account, "id": {"n": 4242}})),
        ("mastodon", "verify_credentials", lambda fake: json_response({**fake.account, "username": ["bot"]})),
        ("mastodon", "verify_credentials", lambda fake: json_response({**fake.account, "source": "odd"})),
        ("mastodon", "verify_credentials", lambda fake: json_response({**fake.account, "source": {"note": 5}})),
        ("mastodon", "verify_credentials", lambda fake: json_response({**fake.account, "note": ["odd"]})),
        ("mastodon", "update_credentials", lambda fake: json_response("done")),
        ("x", "/users/me", lambda fake: json_response({"data": {"id": {"n": 1}, "username": "botname"}})),
    ],
)
def test_odd_replies_while_connecting_are_one_line_and_save_nothing(
    httpserver, store, monkeypatch, service, path, reply
):
    fake = start_fake(service, httpserver)
    fake.inject(path, reply(fake))

    with pytest.raises(SourceError) as error:
        connect_fake(store, service, fake, monkeypatch, bio_line="🤖 Automated account")

    assert "\n" not in str(error.value) and "unexpected" in str(error.value)
    assert connections(store) == [] and not credentials.credentials_path().exists()


def test_mastodon_says_the_truth_when_the_instance_keeps_no_bot_flag(httpserver, store, monkeypatch):
    fake = FakeMastodon(httpserver)
    fake.inject("update_credentials", lambda: json_response(fake.account))  # an instance that ignores both fields

    result = connect_fake(store, "mastodon", fake, monkeypatch, bio_line="🤖 Automated account")

    assert not result.connection.bot_flag and result.connection.bio_line is None
    assert not any("marked as a bot" in note for note in result.notes)
    assert any("did not mark" in note and "automated" in note for note in result.notes)
    assert any("did not keep the disclosure" in note for note in result.notes)


def test_mastodon_bot_field_of_an_odd_type_is_not_taken_for_a_bot(httpserver, store, monkeypatch):
    fake = FakeMastodon(httpserver)
    fake.account["bot"] = "false"  # a string: truthy, yet no bot flag

    result = connect_fake(store, "mastodon", fake, monkeypatch)

    assert fake.sent("/update_credentials")[0].form["bot"] == "true"
    assert fake.account["bot"] is True and result.connection.bot_flag


def test_bluesky_session_renewed_without_a_refresh_token_logs_in_again(httpserver, store, monkeypatch):
    fake = FakeBluesky(httpserver)
    connect_fake(store, "bluesky", fake, monkeypatch)
    kept = credentials.load(TARGETS["bluesky"])
    credentials.save(TARGETS["bluesky"], {k: v for k, v in kept.items() if k != "refresh_jwt"})
    fake.expire_access_tokens()
    queue = Queue(store)
    queue.approve(queue.add("jack", ["still posts"])[0].id)

    result = post_next(store, "jack", TARGETS["bluesky"])

    assert result.draft.status == "posted" and fake.sessions_created == 2
