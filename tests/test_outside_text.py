"""Outside text (posts, display names, prompts, sampled text) carrying escape sequences, control
characters and bidi overrides: none reaches a draft, a generated post, a share link, the model
card, a web page or the predictions image, where a terminal would obey them or a reader would see the text
reordered; the CLI's own hints escape rich markup."""

from __future__ import annotations

import shlex

from click.testing import CliRunner
from PIL import ImageFont

from tweetling import preview
from tweetling.card import code_span, escape_html, escape_markdown
from tweetling.cli import cli
from tweetling.generate import select
from tweetling.live.compose import prepare
from tweetling.share import share_links

HOSTILE = "go \x1b]0;TITLE\x07now \x1b[2J\x1b[31mred\x1b[0m \u202egnp.exe\u202c \x9b1m\x00end"
UNSAFE = ("\x1b", "\x07", "\x00", "\x9b", "\u202e", "\u202c", "[2J", "]0;", "[31m")


def clean(text: str) -> bool:
    return not any(mark in text for mark in UNSAFE)


def test_a_draft_keeps_no_escape_sequence_bidi_override_or_half_character():
    drafted = prepare(HOSTILE + " caf\ufffd")
    assert clean(drafted) and "\ufffd" not in drafted
    assert drafted == "go now red gnp.exe end caf"


def test_generated_posts_keep_no_control_characters_or_half_characters():
    samples = [" there " + HOSTILE + " caf\ufffd", "\x1b[2J\x07", "\ufffd\ufffd"]
    result = select("hi \x1b[31m", samples, keep_newlines=False, index=None)
    [text] = result.texts
    assert clean(text) and text.split()[:5] == ["hi", "there", "go", "now", "red"] and text.endswith(" caf")
    assert result.dropped_empty == 2


def test_web_pages_show_outside_text_without_control_characters(tiny_bot):
    from dataclasses import replace

    from tweetling.bots import AccountProfile, read_metadata
    from tweetling.web import render

    hostile = replace(read_metadata(tiny_bot), profiles={"jack": AccountProfile(display_name=HOSTILE)})
    for page in (render.bot_facts(hostile), render.bot_cards([hostile]), render.post_list([HOSTILE], "x")):
        assert clean(page) and "gnp.exe" in page


def test_share_links_carry_no_control_characters():
    links = share_links(HOSTILE, ["ada"])
    assert clean(links.text) and "%1B" not in links.x and "%E2%80%AE" not in links.mastodon


def test_the_card_writes_no_control_characters_in_any_context():
    for escaped in (escape_markdown(HOSTILE), escape_html(HOSTILE), code_span(HOSTILE)):
        assert "\x1b" not in escaped and "\x07" not in escaped and "\u202e" not in escaped


def test_the_image_draws_no_control_characters_and_breaks_a_word_wider_than_a_line():
    font = ImageFont.load_default(size=40)
    width = 300.0
    lines = preview._layout("", "abc " + "W" * 400 + " end", font, font, width)
    assert len(lines) > 3 and "".join(word for line in lines for _, word, _ in line) == "abc" + "W" * 400 + "end"
    assert all(x + preview.text_width(word, font) <= width + 1 for line in lines for x, word, _ in line)
    image = preview.render([preview.Author("Ada", "ada")], "", HOSTILE)
    assert image.size[0] == preview.WIDTH


def test_the_display_name_on_the_image_is_cleaned(tiny_bot):
    from dataclasses import replace

    from tweetling.bots import AccountProfile, read_metadata

    hostile = replace(
        read_metadata(tiny_bot), profiles={"jack": AccountProfile(display_name="Ja\x1b]0;T\x07ck \u202eX")}
    )
    [author] = preview.authors_of(tiny_bot, hostile)
    assert author.display_name == "Ja ck X" and preview._initials(author) == "JC"


def test_a_home_path_with_rich_markup_is_printed_as_written(tmp_path, monkeypatch):
    home = tmp_path / "home-[bold red]x[/]"
    monkeypatch.setenv("TWEETLING_HOME", str(home))
    result = CliRunner().invoke(cli, ["runs"])
    assert result.exit_code == 0, result.output
    assert shlex.quote(f"sqlite:///{home}/mlflow.db") in "".join(result.output.split("\n"))
