"""Outside text reaches the terminal without escape sequences; names are matched in full (issue 11)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from http_payloads import FakeMastodon, json_response, mastodon_account, mastodon_status
from tweetling.card import hub_model_id, write_card
from tweetling.cli import cli
from tweetling.dataset import resolve
from tweetling.errors import TweetlingError
from tweetling.paths import checked_name
from tweetling.posts import Profile
from tweetling.share import mastodon_instance
from tweetling.store import Store
from tweetling.terminal import escape, terminal_safe

HOSTILE = [
    ("colour \x1b[31mred\x1b[0m", "colour red"),
    ("link \x1b]8;;https://evil.example\x07click me\x1b]8;;\x07", "link click me"),
    ("link \x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", "link click"),
    ("clear \x1b[2J\x1b[H", "clear "),
    ("title \x1b]0;pwned\x07", "title "),
    ("8-bit \x9b31mred \x9d0;t\x9c", "8-bit red "),
    ("cut off \x1b]8;;https://evil.example", "cut off "),
    ("bell\x07 backspace\x08 return\r", "bell backspace return"),
    ("bidi \u202eexe.gnp", "bidi exe.gnp"),
    (
        "kept: tab\tnewline\n emoji 👩\u200d👩\u200d👧 accents é",
        "kept: tab\tnewline\n emoji 👩\u200d👩\u200d👧 accents é",
    ),
]


@pytest.mark.parametrize("text, expected", HOSTILE)
def test_terminal_safe_removes_sequences_and_controls(text, expected):
    assert terminal_safe(text) == expected


def test_escape_also_escapes_rich_markup():
    assert escape("[bold]\x1b[1mloud[/]") == "\\[bold]loud\\[/]"


def test_cli_accounts_prints_display_names_without_escape_sequences(tweetling_home):
    with Store() as store:
        for number, (text, _) in enumerate(HOSTILE):
            store.upsert_account(Profile(f"user{number}", "x", display_name=text))
    result = CliRunner().invoke(cli, ["accounts"])
    assert result.exit_code == 0, result.output
    assert not any(c in result.output for c in "\x1b\x07\x08\x9b\x9d\u202e")
    assert "evil.example" not in result.output and "click me" in result.output


def test_cli_errors_show_server_text_on_one_line_without_escape_sequences(httpserver, tweetling_home):
    httpserver.expect_request("/api/v1/accounts/lookup").respond_with_response(
        json_response({"error": "go away\n\x1b[2J\x1b]8;;https://evil.example\x07pwned\x1b]8;;\x07"}, 418)
    )
    result = CliRunner().invoke(cli, ["fetch", "mastodon:@alice@social.example", "--base-url", httpserver.url_for("/")])
    assert result.exit_code == 1
    error = result.output.strip()
    assert error.endswith("HTTP 418 for /api/v1/accounts/lookup: go away pwned")
    assert "\x1b" not in result.output and "evil.example" not in result.output and "\n" not in error


def test_cli_import_summary_of_a_fetched_display_name_is_clean(httpserver, tweetling_home):
    FakeMastodon(httpserver, [mastodon_status(1)], account=mastodon_account(display_name="\x1b[5mAlice\x1b[0m"))
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["fetch", "mastodon:@alice@social.example", "--base-url", httpserver.url_for("/")]).exit_code
        == 0
    )
    listed = runner.invoke(cli, ["accounts"])
    assert "Alice" in listed.output and "\x1b" not in listed.output


@pytest.mark.parametrize(
    "check",
    [
        lambda: checked_name("fern\n"),
        lambda: checked_name("fern\r\n"),
        lambda: checked_name(" fern"),
        lambda: checked_name(123),
        lambda: resolve("fern\n"),
        lambda: mastodon_instance("mastodon.social\n"),
    ],
)
def test_names_with_a_trailing_newline_are_refused(check, tweetling_home):
    with pytest.raises(TweetlingError, match="invalid"):
        check()


def test_hub_repo_ids_are_matched_in_full(tiny_bot):
    assert hub_model_id("owner/name") == "owner/name"
    assert hub_model_id("owner/name\n") is None
    with pytest.raises(TweetlingError, match="invalid Hub repository id"):
        write_card(tiny_bot, "owner/name\n")
