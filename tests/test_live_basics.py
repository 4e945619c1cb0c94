"""The parts of posting that need no server: targets, text rules, record keys, OAuth 1.0a
signatures, durations and the credentials file."""

from __future__ import annotations

import os
import stat

import pytest

from tweetling.errors import InputError, TweetlingError
from tweetling.live import compose, credentials, parse_duration, parse_target
from tweetling.live.bluesky import record_key
from tweetling.live.credentials import Secret
from tweetling.live.x import oauth1_header


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("mastodon:@Bot@BotsIn.Space", "mastodon:@bot@botsin.space"),
        ("mastodon:bot@botsin.space", "mastodon:@bot@botsin.space"),
        ("bluesky:Bot.bsky.social", "bluesky:bot.bsky.social"),
        ("bluesky:@bot.example.com", "bluesky:bot.example.com"),
        ("x:@BotName", "x:botname"),
        (" X:botname ", "x:botname"),
    ],
)
def test_targets_have_one_spelling(text, key):
    assert parse_target(text).key == key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("botname", "invalid account"),
        ("myspace:@bot", "invalid account"),
        ("mastodon:bot", "invalid Mastodon handle"),
        ("bluesky:not a handle", "invalid Bluesky handle"),
        ("x:a-very-long-name-indeed", "invalid X username"),
    ],
)
def test_bad_targets_say_what_is_wrong(text, message):
    with pytest.raises(TweetlingError, match=message):
        parse_target(text)


@pytest.mark.parametrize(
    ("generated", "posted"),
    [
        ("thanks @alice for the coffee", "thanks alice for the coffee"),
        ("@bob@social.example said so", "bob said so"),
        ("cc ＠carol.", "cc carol."),
        ("mail me at jane@example.com now", "mail me at now"),
        ("read https://example.com/a?b=1 and www.example.org too", "read and too"),
        ("my site example.com/about is up", "my site is up"),
        ("3.14 is pi, e.g. not a link", "3.14 is pi, e.g. not a link"),
        ("#birds are   great\n\nreally", "#birds are great\n\nreally"),
        ("bell\x07 and\x1b[31m escape", "bell and escape"),  # the whole sequence, not just its ESC
    ],
)
def test_prepare_pings_nobody_and_drops_links(generated, posted):
    assert compose.prepare(generated) == posted


@pytest.mark.parametrize(
    ("text", "service", "length"),
    [
        ("héllo", "mastodon", 5),
        ("👩‍👩‍👧‍👦 family", "bluesky", 8),  # one emoji of seven code points is one grapheme
        ("héllo", "x", 5),
        ("日本", "x", 4),  # CJK counts double on X
    ],
)
def test_lengths_count_as_each_service_does(text, service, length):
    assert compose.length(text, service) == length


@pytest.mark.parametrize(
    ("text", "blocked"),
    [
        ("I love Tax Returns", "tax returns"),
        ("taxes are fine", None),  # whole words only
        ("politics!", "politics"),
        ("no match here", None),
    ],
)
def test_blocklist_matches_whole_words_in_any_case(tmp_path, text, blocked):
    path = tmp_path / "blocklist.txt"
    path.write_text("# words I never want posted\ntax returns\npolitics  # and this\n\n")
    assert compose.Blocklist.load(path).match(text) == blocked


def test_blocklist_names_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such blocklist file"):
        compose.Blocklist.load(tmp_path / "missing.txt")


def test_record_keys_are_tids():
    key = record_key("2024-05-01T12:00:00.000+00:00", 7)
    assert len(key) == 13 and key[0] in "234567abcdefghij"
    assert set(key) <= set("234567abcdefghijklmnopqrstuvwxyz")
    later = record_key("2024-05-01T12:00:00.001+00:00", 7)
    assert later > key  # sortable by time
    assert record_key("2024-05-01T12:00:00.000+00:00", 7) == key  # deterministic


def test_oauth1_signature_matches_the_documented_example():
    """The worked example of X's "Creating a signature" guide."""
    keys = {
        "consumer_key": Secret("xvz1evFS4wEEPTGEFPHBog"),
        "consumer_secret": Secret("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
        "access_token": Secret("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
        "access_token_secret": Secret("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"),
    }
    header = oauth1_header(
        "POST",
        "https://api.twitter.com/1.1/statuses/update.json",
        {"include_entities": "true", "status": "Hello Ladies + Gentlemen, a signed OAuth request!"},
        keys,
        nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        timestamp=1318622958,
    )
    assert 'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"' in header
    assert header.startswith("OAuth oauth_consumer_key=")


@pytest.mark.parametrize(
    ("text", "seconds"), [("3h", 10800), ("30m", 1800), ("1h30m", 5400), ("90s", 90), ("2d", 172800), ("45", 45)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "3 hours", "h", "1x", "-5m"])
def test_bad_durations(text):
    with pytest.raises(TweetlingError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["300000000h", "99999999999999999999h", "1e30", "367d", "31622401"])
def test_durations_longer_than_a_year_are_refused(text):
    with pytest.raises(TweetlingError, match="invalid duration|is longer than a year"):
        parse_duration(text)


def test_secrets_never_print():
    secret = Secret("hunter2")
    assert "hunter2" not in f"{secret} {secret!r} {[secret]} { ({'token': secret}) }"
    assert secret.reveal() == "hunter2"


def test_credentials_file_is_private_and_atomic(tweetling_home):
    credentials.save("x:botname", {"user_token": Secret("tok-1")})
    credentials.save("bluesky:bot.bsky.social", {"app_password": Secret("pw")})
    path = credentials.credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials.load("x:botname")["user_token"].reveal() == "tok-1"
    assert credentials.delete("x:botname") and not credentials.delete("x:botname")
    assert list(tweetling_home.glob(".credentials.json.*")) == []  # no temporary file left behind
    with pytest.raises(TweetlingError, match="x:botname is not connected"):
        credentials.load("x:botname")


def test_credentials_readable_by_others_are_refused(tweetling_home):
    credentials.save("x:botname", {"user_token": Secret("tok-1")})
    os.chmod(credentials.credentials_path(), 0o644)
    with pytest.raises(TweetlingError, match=r"can be read by other users \(mode 644\): run `chmod 600"):
        credentials.load("x:botname")


@pytest.mark.parametrize(
    ("text", "shown"),
    [("\x1b]0;owned\x07 hi", "  hi"), ("two\nlines", "two\nlines"), ("tab\there", "tab here")],
)
def test_plain_removes_what_a_terminal_would_obey(text, shown):
    assert compose.plain(text) == shown


@pytest.mark.parametrize(
    ("handle", "ok"),
    [
        ("alice", True),
        ("alice@social.example", True),
        ("bob.bsky.social", True),
        ("evil\x1b[2J", False),
        ("a b", False),
        ("", False),
    ],
)
def test_only_handles_are_addressed(handle, ok):
    assert compose.is_handle(handle) is ok
