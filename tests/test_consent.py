"""Opt-outs: the marker rules, and every source's fake server serving a profile with each signal."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from http_payloads import (
    DID,
    FakeBluesky,
    FakeMastodon,
    FakeXApi,
    bluesky_item,
    bluesky_post,
    bluesky_profile,
    mastodon_account,
    mastodon_status,
    x_tweet,
    x_user,
)
from tweetling.cli import cli
from tweetling.consent import OWNER_FLAG, OWNER_TOKEN, OptedOutError, opt_out_tags
from tweetling.errors import SourceError
from tweetling.fetch import FetchOptions, fetch
from tweetling.provenance import FETCHED
from tweetling.store import Store

X_TOKEN = "AAAA-test-token"


@pytest.mark.parametrize(
    "text, tags",
    [
        ("#nobot", ["nobot"]),
        ("Writes about birds. #NoBot", ["nobot"]),
        ("#NOAI #nollm", ["noai", "nollm"]),
        ("#noAI, please", ["noai"]),
        ("(#nollm)", ["nollm"]),
        ("#nobot! and again #nobot", ["nobot"]),
        ("#ＮＯＢＯＴ", ["nobot"]),  # full-width letters: NFKC
        ("#𝐧𝐨𝐚𝐢", ["noai"]),  # mathematical bold: NFKC
        ("＃nobot", ["nobot"]),  # a full-width number sign
        ("#nobot🤖", ["nobot"]),
        ("#nobot-please", ["nobot"]),  # "-" ends a hashtag
        # near-misses: other tags, or no tag at all
        ("#nobots", []),
        ("#NoBots allowed", []),
        ("#noaiart", []),
        ("#nollms", []),
        ("#no_bot", []),
        ("#nobot_", []),
        ("#nobotß", []),
        ("nobot", []),
        ("no bots, no AI", []),
        ("# nobot", []),
        ("mail#nobot", []),  # not a hashtag: a word goes before the #
        ("", []),
        (None, []),
    ],
)
def test_opt_out_tags(text, tags):
    assert opt_out_tags(text) == tags


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "t.db") as store:
        yield store


def _tagged_note(tag: str) -> str:
    """A Mastodon bio with TAG as the HTML hashtag link Mastodon writes."""
    return f'<p>Birds. <a href="https://social.example/tags/{tag}" class="mention hashtag">#<span>{tag}</span></a></p>'


def mastodon(httpserver, account=None, **server):
    statuses = [mastodon_status(i, account=account) for i in range(1, 4)] if account else [mastodon_status(1)]
    return FakeMastodon(httpserver, statuses, account=account, **server), "mastodon:@alice@social.example"


def bluesky(httpserver, profile=None, **server):
    return FakeBluesky(httpserver, [bluesky_item(bluesky_post(1))], profile=profile), "bluesky:alice.bsky.social"


def x(httpserver, user=None, **server):
    return FakeXApi(httpserver, [x_tweet(1)], user=user, **server), "x:alice"


NO_UNAUTHENTICATED = {"src": DID, "uri": f"at://{DID}/app.bsky.actor.profile/self", "val": "!no-unauthenticated"}
OPT_OUT_PROFILES = [
    pytest.param(mastodon, mastodon_account(note=_tagged_note("nobot")), "#nobot in the bio", id="mastodon-bio"),
    pytest.param(
        mastodon, mastodon_account(display_name="Alice #NoAI"), "#noai in the display name", id="mastodon-name"
    ),
    pytest.param(
        mastodon,
        mastodon_account(fields=[{"name": "AI", "value": "<p>#nollm</p>", "verified_at": None}]),
        "#nollm in a profile field",
        id="mastodon-field",
    ),
    pytest.param(mastodon, mastodon_account(noindex=True), "noindex: true", id="mastodon-noindex"),
    pytest.param(mastodon, mastodon_account(discoverable=False), "discoverable: false", id="mastodon-undiscoverable"),
    pytest.param(bluesky, bluesky_profile(description="Birds.\n#NoBot"), "#nobot in the bio", id="bluesky-bio"),
    pytest.param(
        bluesky, bluesky_profile(labels=[NO_UNAUTHENTICATED]), "the !no-unauthenticated label", id="bluesky-label"
    ),
    pytest.param(x, {**x_user(), "description": "Birds & trees #noai"}, "#noai in the bio", id="x-bio"),
]


@pytest.mark.parametrize("serve, profile, signal", OPT_OUT_PROFILES)
def test_a_profile_that_opts_out_stops_the_fetch_before_any_post(
    httpserver, store, monkeypatch, serve, profile, signal
):
    monkeypatch.setenv("X_BEARER_TOKEN", X_TOKEN)
    server, target = serve(httpserver, profile)
    with pytest.raises(OptedOutError) as refused:
        fetch(store, target, FetchOptions(base_url=httpserver.url_for("/2" if target.startswith("x:") else "/")))
    message = str(refused.value)
    assert signal in message and "opts out of bots and AI training" in message and OWNER_FLAG in message
    assert "\n" not in message
    assert [path for path, _ in server.requests if "statuses" in path or "Feed" in path or "tweets" in path] == []
    assert store.count_posts() == 0 and store.accounts() == []  # nothing of the person is kept


@pytest.mark.parametrize("serve, profile, signal", OPT_OUT_PROFILES)
def test_the_owner_flag_fetches_and_is_recorded(httpserver, store, monkeypatch, serve, profile, signal):
    monkeypatch.setenv("X_BEARER_TOKEN", X_TOKEN)
    _, target = serve(httpserver, profile)
    base_url = httpserver.url_for("/2" if target.startswith("x:") else "/")
    result = fetch(store, target, FetchOptions(base_url=base_url, account_owner=True))
    assert result.added >= 1 and result.consent.owner == OWNER_FLAG
    [origin] = store.origins(result.account)
    assert (origin.how, origin.owner, origin.host) == (FETCHED, OWNER_FLAG, "localhost")
    assert signal in origin.opt_outs and origin.opt_out_checked_at == result.consent.checked_at


@pytest.mark.parametrize(
    "profile",
    [
        mastodon_account(note="<p>Bots welcome. #nobots #noaiart</p>"),
        mastodon_account(discoverable=None, noindex=False),  # null: the person has not chosen
        mastodon_account(fields=[{"name": "nobot", "value": "<p>no #bot here</p>"}]),
    ],
    ids=["near-miss-tags", "null-discoverable", "untagged-words"],
)
def test_profiles_without_an_opt_out_are_fetched_and_the_check_recorded(httpserver, store, profile):
    _, target = mastodon(httpserver, profile)
    result = fetch(store, target, FetchOptions(base_url=httpserver.url_for("/")))
    assert result.added == 3 and result.consent.opt_outs == () and result.consent.owner is None
    [origin] = store.origins(result.account)
    assert origin.opt_outs == () and origin.opt_out_checked_at and origin.owner is None


def test_the_accounts_own_mastodon_token_is_an_owner(httpserver, store, monkeypatch):
    monkeypatch.setenv("MY_TOKEN", "mastodon-owner-token")
    _, target = mastodon(httpserver, mastodon_account(noindex=True), owner_token="mastodon-owner-token")
    options = FetchOptions(base_url=httpserver.url_for("/"), token_env="MY_TOKEN")
    result = fetch(store, target, options)
    assert result.consent.owner == OWNER_TOKEN and store.origins(result.account)[0].owner == OWNER_TOKEN

    monkeypatch.setenv("MY_TOKEN", "someone-elses-token")  # a token of another account is no owner
    with pytest.raises(OptedOutError, match="noindex: true.*posts fetched earlier are still stored"):
        fetch(store, target, options)


def test_an_x_user_token_of_the_account_is_an_owner(httpserver, store, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", X_TOKEN)
    FakeXApi(httpserver, [x_tweet(1)], user={**x_user(), "description": "#nobot"}, owner=True)
    result = fetch(store, "x:alice", FetchOptions(base_url=httpserver.url_for("/2")))
    assert result.consent.owner == OWNER_TOKEN


def test_cli_refuses_with_one_line_and_fetches_with_the_flag(httpserver, tweetling_home):
    mastodon(httpserver, mastodon_account(note=_tagged_note("NoBot")))
    args = ["fetch", "mastodon:@alice@social.example", "--base-url", httpserver.url_for("/")]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1
    assert "opts out of bots and AI training (#nobot in the bio)" in refused.output

    owned = CliRunner().invoke(cli, [*args, "--i-am-the-account-owner"])
    assert owned.exit_code == 0, owned.output
    output = " ".join(owned.output.split())
    assert "3 new posts" in output and "fetched as its owner (--i-am-the-account-owner)" in output


@pytest.mark.parametrize(
    "serve, profile, message",
    [
        (mastodon, mastodon_account(fields="#nobot"), r"lookup: field 'fields': expected an array, got string$"),
        (
            mastodon,
            mastodon_account(fields=["#nobot"]),
            r"lookup: field 'fields\[0\]': expected an object, got string$",
        ),
        (bluesky, bluesky_profile(labels={"val": "!no-unauthenticated"}), r"field 'labels': expected an array"),
    ],
    ids=["mastodon-fields-string", "mastodon-field-string", "bluesky-labels-object"],
)
def test_an_opt_out_field_of_the_wrong_shape_stops_the_fetch(httpserver, store, serve, profile, message):
    serve(httpserver, profile)
    target = "mastodon:@alice@social.example" if serve is mastodon else "bluesky:alice.bsky.social"
    with pytest.raises(SourceError, match=message):
        fetch(store, target, FetchOptions(base_url=httpserver.url_for("/")))
    assert store.count_posts() == 0
