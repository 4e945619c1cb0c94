"""The predictions image: a post-like card drawn with Pillow, offline."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from click.testing import CliRunner
from PIL import Image

from tweetling import preview
from tweetling.bots import Bot, BotMeta
from tweetling.cli import cli
from tweetling.errors import TweetlingError
from tweetling.preview import (
    AVATAR,
    EMOJI_WIDTH,
    MIN_HEIGHT,
    NO_EMOJI_FONT,
    PAD,
    PLACEHOLDER,
    TEXT_SIZE,
    WIDTH,
    Author,
    _fit,
    _font,
    authors_of,
    emoji_font,
    emoji_note,
    post_image,
    render,
    runs,
    text_width,
    write_preview,
)

needs_emoji_font = pytest.mark.skipif(
    emoji_font() is None, reason="no colour emoji font: install fonts-noto-color-emoji (`make test` does)"
)
TEXT_TOP = (MIN_HEIGHT - (AVATAR + 40 + 59 + 40 + 28)) // 2 + AVATAR + 40  # the first line of a one-line post
EMOJI = "❤️🚀🇫🇷👍🏽😀"  # five clusters: a heart asked for as emoji, a rocket, a flag, a skin tone, a face


def dark_pixels(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    return sum(1 for p in image.crop(box).convert("L").getdata() if p < 128)


def test_render_draws_avatar_names_and_text(tmp_path):
    avatar = tmp_path / "face.png"
    Image.new("RGB", (300, 200), (200, 30, 30)).save(avatar)
    image = render([Author("Jack", "jack", avatar)], "My dream is", " to water the plants")
    assert image.size == (WIDTH, MIN_HEIGHT)
    top = (MIN_HEIGHT - (AVATAR + 40 + 59 + 40 + 28)) // 2
    assert image.getpixel((PAD + AVATAR // 2, top + AVATAR // 2)) == (200, 30, 30)
    assert image.getpixel((2, 2)) == (255, 255, 255)
    assert dark_pixels(image, (PAD, top + AVATAR + 40, WIDTH - PAD, top + AVATAR + 99)) > 1000  # the post
    assert dark_pixels(image, (PAD + AVATAR, top, WIDTH - PAD, top + 60)) > 300  # the name


def test_long_posts_wrap_into_a_taller_card():
    short = render([Author("Jack", "jack")], "A", " b")
    long = render([Author("Jack", "jack")], "My dream is", " to build" * 80)
    assert short.size[1] == MIN_HEIGHT and long.size[1] > MIN_HEIGHT


def test_blend_shows_each_account_with_placeholders():
    authors = [Author("Ann Lee", "ann"), Author("Bo", "bo"), Author("Cy", "cy")]
    image = render(authors, "Hi", " there")
    # Each placeholder disc has its own colour at its centre, unlike the white background.
    centres = [image.getpixel((PAD + i * (AVATAR * 3 // 4) + AVATAR // 4, MIN_HEIGHT // 2 - 80)) for i in range(3)]
    assert len(set(centres)) >= 2 and (255, 255, 255) not in centres


def test_unreadable_avatar_is_an_error(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    with pytest.raises(TweetlingError, match="cannot read the avatar"):
        render([Author("Jack", "jack", broken)], "A", " b")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def black_png(width: int, height: int, extra: bytes = b"") -> bytes:
    """A black 1-bit PNG, compressed row by row: about 110 KB on disk for 30000 x 30000 pixels."""
    deflate, row = zlib.compressobj(9), bytes(1 + (width + 7) // 8)
    pixels = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + extra + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "content, message",
    [
        (
            lambda: black_png(30000, 30000),
            r"cannot read the avatar image \(Image size \(900000000 pixels\) exceeds limit",
        ),
        (lambda: black_png(5000, 5000), r"is 5,000 x 5,000 pixels, more than the 16,777,216 an avatar may have$"),
        (
            lambda: black_png(8, 8, png_chunk(b"zTXt", b"k\0\0" + zlib.compress(bytes(20 * 2**20)))),
            r"(?i)cannot read the avatar image \(Decompressed data too large",  # Pillow 10 capitalises it
        ),
        (lambda: black_png(8, 8)[:-30], r"cannot read the avatar image"),
        (lambda: b"", r"cannot read the avatar image \(cannot identify image file"),
    ],
    ids=["over Pillow's cap", "over ours", "text chunk bomb", "truncated", "empty"],
)
def test_an_avatar_that_is_a_bomb_or_broken_is_one_line(tiny_bot, tmp_path, content, message):
    avatar = tmp_path / "avatar.png"
    avatar.write_bytes(content())
    with pytest.raises(TweetlingError, match=message):
        render([Author("Jack", "jack", avatar)], "A", " b")
    result = CliRunner().invoke(cli, ["preview", "jack", "--text", "Hello", "--avatar", str(avatar)])
    assert result.exit_code == 1 and result.output.startswith(f"error: {avatar}: ") and result.output.count("\n") == 1


def test_bot_folder_avatar_is_found(tiny_bot):
    Image.new("RGB", (10, 10), "blue").save(tiny_bot / "avatar.jpg")
    meta = BotMeta.from_dict({"accounts": ["jack"], "profiles": {"jack": {"display_name": "Jack D"}}})
    assert authors_of(tiny_bot, meta) == [Author("Jack D", "jack", tiny_bot / "avatar.jpg")]


def emoji_box() -> tuple[int, int, int, int]:
    """Where EMOJI sits on the card of render(..., "Hi", " " + EMOJI)."""
    left = PAD + _font(TEXT_SIZE, bold=True).getlength("Hi") + _font(TEXT_SIZE).getlength(" ")
    return (round(left), TEXT_TOP, round(left + 5 * EMOJI_WIDTH * TEXT_SIZE), TEXT_TOP + 59)


def colour_and_ink(image: Image.Image, box) -> tuple[int, int]:
    """Pixels of BOX that are saturated colour, and that are dark grey like text (or a tofu box)."""
    pixels = list(image.crop(box).getdata())
    return (
        sum(1 for p in pixels if max(p) - min(p) > 60),
        sum(1 for p in pixels if max(p) < 110 and max(p) - min(p) < 30),
    )


@pytest.fixture
def without_emoji_font(monkeypatch):
    monkeypatch.setattr(preview, "EMOJI_FONT", "no-such-emoji-font.ttf")
    for cached in (preview.emoji_font, preview._emoji_glyph):
        cached.cache_clear()
    yield
    monkeypatch.undo()
    for cached in (preview.emoji_font, preview._emoji_glyph):
        cached.cache_clear()


@needs_emoji_font
def test_emoji_are_drawn_in_colour_without_tofu(monkeypatch):
    image = render([Author("Jack", "jack")], "Hi", " " + EMOJI)
    colour, ink = colour_and_ink(image, emoji_box())
    assert colour > 3000 and ink < 50
    # The same text in the text font alone shows what tofu looks like here: dark boxes, no colour.
    monkeypatch.setattr(preview, "runs", lambda text: [(text, False)])
    tofu_colour, tofu_ink = colour_and_ink(render([Author("Jack", "jack")], "Hi", " " + EMOJI), emoji_box())
    assert tofu_colour == 0 and tofu_ink > 1000
    assert emoji_note("Hi " + EMOJI) is None


@needs_emoji_font
def test_emoji_in_names_are_drawn_in_colour():
    plain = render([Author("Jack", "jack")], "Hi", " there")
    rocket = render([Author("Jack 🚀🚀🚀", "jack")], "Hi", " there")
    top = TEXT_TOP - AVATAR - 40  # of the avatar and the name beside it
    box = (PAD + AVATAR, top, WIDTH - PAD, top + 60)
    assert colour_and_ink(rocket, box)[0] > colour_and_ink(plain, box)[0] + 600


def test_without_an_emoji_font_emoji_are_grey_dots_and_the_user_is_told(without_emoji_font):
    image = render([Author("Jack", "jack")], "Hi", " " + EMOJI)
    dots = sum(1 for p in image.crop(emoji_box()).getdata() if p == PLACEHOLDER)
    assert dots > 2000 and colour_and_ink(image, emoji_box()) == (0, 0)  # no tofu either
    assert emoji_note("Hi " + EMOJI) == NO_EMOJI_FONT and emoji_note("Hi there ©") is None


@needs_emoji_font
def test_an_emoji_newer_than_the_font_is_a_grey_dot_too():
    newer = "\U0001fae9"  # face with bags under the eyes (Emoji 16.0), after Debian 12's font
    image = render([Author("Jack", "jack")], "Hi", " " + newer)
    assert sum(1 for p in image.crop(emoji_box()).getdata() if p == PLACEHOLDER) > 500
    assert "lacks an emoji" in emoji_note(newer)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a😀b", [("a", False), ("😀", True), ("b", False)]),
        ("🇫🇷🇩🇪", [("🇫🇷", True), ("🇩🇪", True)]),  # a flag is two letters: split between flags only
        ("👨‍👩‍👧 ok", [("👨‍👩‍👧", True), (" ok", False)]),  # a family: people joined by ZWJ
        ("👍🏽", [("👍🏽", True)]),
        ("1️⃣ x", [("1️⃣", True), (" x", False)]),
        ("I ❤ it", [("I ❤ it", False)]),  # a bare heart defaults to text presentation
        ("I ❤️ it", [("I ", False), ("❤️", True), (" it", False)]),
        ("© 2025 ☺︎", [("© 2025 ☺︎", False)]),  # U+FE0E asks for text
        ("", []),
    ],
)
def test_text_splits_into_emoji_and_text_runs(text, expected):
    assert runs(text) == expected


def test_emoji_are_measured_as_one_wide_glyph_and_never_cut():
    font = _font(40)
    assert text_width("a😀", font) == pytest.approx(font.getlength("a") + EMOJI_WIDTH * 40)
    fitted = _fit("Jack " + "👨‍👩‍👧" * 10, font, 200)
    assert fitted.endswith("👨‍👩‍👧…") and text_width(fitted, font) <= 200


def test_write_preview_draws_the_given_post(tiny_bot):
    bot = Bot.load(tiny_bot)
    target = write_preview(bot, "My dream is", "My dream is to sail 🚀")
    assert target == tiny_bot / "predictions.png"
    with Image.open(target) as image:
        assert image.format == "PNG" and image.size[0] == WIDTH
        assert image.convert("RGB").tobytes() == post_image(bot, "My dream is", "My dream is to sail 🚀").tobytes()
    # a text that does not start with the prompt is drawn without it
    assert (
        post_image(bot, "My dream is", "Hello").tobytes()
        == render(authors_of(bot.path, bot.meta), "", "Hello").tobytes()
    )


@pytest.mark.parametrize("text, message", [("  ", "is empty"), ("x" * 1001, "1,001 characters; the limit is 1,000")])
def test_write_preview_refuses_empty_or_huge_posts(tiny_bot, text, message):
    with pytest.raises(TweetlingError, match=message):
        write_preview(Bot.load(tiny_bot), "My dream is", text)


def test_cli_preview_lists_candidates_and_draws_the_one_picked(tiny_bot):
    result = CliRunner().invoke(cli, ["preview", "jack", "Coffee", "-n", "3", "--seed", "4", "--pick", "2"])
    assert result.exit_code == 0, result.output
    candidates = Bot.load(tiny_bot).generate("Coffee", n=3, seed=4).texts
    assert len(candidates) == 3 and "→" in result.stdout and "--seed 4 --pick N" in " ".join(result.stdout.split())
    with Image.open(tiny_bot / "predictions.png") as image:
        drawn = image.convert("RGB").tobytes()
    assert drawn == post_image(Bot.load(tiny_bot), "Coffee", candidates[1]).tobytes()
    assert "predictions.png" in (tiny_bot / "README.md").read_text()


def test_cli_preview_draws_a_given_text_and_shows_a_random_seed_otherwise(tiny_bot):
    result = CliRunner().invoke(cli, ["preview", "jack", "--text", "Hello there, a post of my own 🚀"])
    assert result.exit_code == 0, result.output
    with Image.open(tiny_bot / "predictions.png") as image:
        drawn = image.convert("RGB").tobytes()
    assert drawn == post_image(Bot.load(tiny_bot), "My dream is", "Hello there, a post of my own 🚀").tobytes()
    result = CliRunner().invoke(cli, ["preview", "jack"])
    assert result.exit_code == 0 and re.search(r"--seed \d+ --pick N", " ".join(result.stdout.split()))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--text", "Hi there you", "--pick", "2"], "goes without --seed and --pick"),
        (["--text", "Hi there you", "--seed", "1"], "goes without --seed and --pick"),
        (["-n", "2", "--pick", "3", "--seed", "1"], "--pick 3: there are 2 candidates"),
    ],
)
def test_cli_preview_bad_options_are_one_line(tiny_bot, args, message):
    result = CliRunner().invoke(cli, ["preview", "jack", *args])
    assert result.exit_code == 1 and message in result.stderr, result.output


def test_without_an_emoji_font_the_cli_says_so_once(tiny_bot, without_emoji_font):
    result = CliRunner().invoke(cli, ["preview", "jack", "--text", "Hello 🚀 and 😀"])
    assert result.exit_code == 0 and result.stderr.count("no colour emoji font") == 1


def test_cli_preview_with_avatar(tiny_bot, tmp_path):
    avatar = tmp_path / "a.png"
    Image.new("RGB", (64, 64), (10, 160, 10)).save(avatar)
    result = CliRunner().invoke(cli, ["preview", "jack", "Coffee", "--avatar", str(avatar), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert (tiny_bot / "predictions.png").exists()


def test_cli_preview_refuses_more_avatars_than_accounts(tiny_bot, tmp_path):
    avatar = tmp_path / "a.png"
    Image.new("RGB", (64, 64), (10, 160, 10)).save(avatar)
    result = CliRunner().invoke(cli, ["preview", "jack", "--avatar", str(avatar), "--avatar", str(avatar)])
    assert result.exit_code == 1
    assert "2 avatars for the 1 account(s) of the bot (jack): give one per account" in " ".join(result.stderr.split())
    assert not (tiny_bot / "predictions.png").exists()


def test_cli_preview_refuses_a_broken_avatar_before_sampling(tiny_bot, tmp_path, monkeypatch):
    from tweetling.bots import Bot

    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    monkeypatch.setattr(Bot, "generate", lambda *a, **k: pytest.fail("sampled before the avatar was checked"))
    result = CliRunner().invoke(cli, ["preview", "jack", "--avatar", str(broken)])
    assert result.exit_code == 1 and "cannot read the avatar image" in result.stderr
