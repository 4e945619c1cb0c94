"""Every number the command line takes is finite and bounded: nan, infinity, a huge count or a
port that does not exist is refused by click in one line (exit 2) before any work starts."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from tweetling.cli import cli
from tweetling.errors import TweetlingError
from tweetling.generate import GenerateConfig
from tweetling.web.app import check_can_listen


@pytest.mark.parametrize(
    "args, option",
    [
        (["generate", "jack", "--top-p", "nan"], "--top-p"),
        (["generate", "jack", "--temperature", "inf"], "--temperature"),
        (["generate", "jack", "--temperature", "nan"], "--temperature"),
        (["generate", "jack", "-n", "1001"], "-n"),
        (["draft", "jack", "-n", "100000000"], "-n"),
        (["preview", "jack", "-n", "5000"], "-n"),
        (["eval", "jack", "-n", "1000000000"], "-n"),
        (["train", "jack", "--lr", "inf"], "--learning-rate"),
        (["train", "jack", "--max-time", "nan"], "--max-time"),
        (["train", "jack", "--continue", "--replay", "nan"], "--replay"),
        (["sweep", "jack", "--timeout", "nan"], "--timeout"),
        (["sweep", "jack", "--timeout", "-1"], "--timeout"),
        (["sweep", "jack", "--max-time", "inf"], "--max-time"),
        (["prepare", "jack", "--valid-fraction", "nan"], "--valid-fraction"),
        (["prepare", "jack", "--test-fraction", "2"], "--test-fraction"),
        (["serve", "--port", "99999"], "--port"),
        (["serve", "--port", "-1"], "--port"),
        (["serve", "--max-upload-mb", "99999999999999"], "--max-upload-mb"),
    ],
)
def test_odd_numbers_are_refused_naming_the_option(tweetling_home, args, option):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output or f"'{option}'" in result.output


@pytest.mark.parametrize("settings", [{"top_p": float("nan")}, {"top_p": 0}, {"temperature": float("inf")}])
def test_sampling_settings_that_would_sample_noise_are_refused(settings):
    with pytest.raises(TweetlingError, match="top_p must be|temperature must be"):
        GenerateConfig(**settings)


def test_a_bot_samples_at_most_its_cap_per_call(tiny_bot):
    from tweetling.bots import Bot

    bot = Bot.load(tiny_bot)
    for call in (lambda: bot.generate("My dream is", n=1001), lambda: bot.sample("My dream is", 0)):
        with pytest.raises(TweetlingError, match="the number of posts must be 1 to 1,000"):
            call()


def test_serve_says_in_one_line_where_it_cannot_listen(tweetling_home):
    for host in ("999.1.1.1", "a b", "a" * 300):
        result = CliRunner().invoke(cli, ["serve", "--host", host])
        assert result.exit_code == 1 and "cannot listen on" in result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(TweetlingError, match=f"port {port} on 127.0.0.1 is in use"):
            check_can_listen("127.0.0.1", port)


@pytest.mark.parametrize("command", [["generate"], ["queue"], ["export"], ["share", "--instance", "a.b"]])
def test_a_name_too_long_for_the_file_system_is_one_shortened_line(tweetling_home, command):
    name = "a" * 3000
    result = CliRunner().invoke(cli, [command[0], name, *(["hi", *command[1:]] if len(command) > 1 else [])])
    assert result.exit_code == 1, result.output
    assert "\n" not in result.stderr.strip() and "File name too long" in result.stderr and len(result.stderr) < 400


@pytest.mark.parametrize(
    "args", [["generate", "jack", "\udcff"], ["share", "jack", "\udcffhi"], ["sweep", "\udcff"], ["stats", "a\ud800"]]
)
def test_an_argument_that_is_not_utf8_is_refused_in_one_line(tweetling_home, args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "is not UTF-8 text" in result.output


def test_a_file_whose_name_is_not_utf8_is_imported(tweetling_home, tmp_path):
    path = tmp_path / "caf\udce9.txt"  # b"caf\xe9.txt": a Latin-1 name
    path.write_text("one post of mine that is long enough to keep\n")
    result = CliRunner().invoke(cli, ["import", str(path), "--account", "ann"])
    assert result.exit_code == 0, result.output


def test_eval_refuses_a_seed_torch_cannot_take(tiny_bot):
    result = CliRunner().invoke(cli, ["eval", "jack", "--seed", "999999999999999999999", "--no-base", "--no-style"])
    assert result.exit_code == 1 and "the seed must be a whole number from 0 to" in result.stderr
