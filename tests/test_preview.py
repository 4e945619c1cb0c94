"""The predictions image: a post-like card drawn with Pillow, offline."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from PIL import Image

from tweetling.bots import Bot, BotMeta
from tweetling.cli import cli
from tweetling.errors import TweetlingError
from tweetling.preview import AVATAR, MIN_HEIGHT, PAD, WIDTH, Author, authors_of, render, write_preview


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


def test_bot_folder_avatar_is_found(tiny_bot):
    Image.new("RGB", (10, 10), "blue").save(tiny_bot / "avatar.jpg")
    meta = BotMeta.from_dict({"accounts": ["jack"], "profiles": {"jack": {"display_name": "Jack D"}}})
    assert authors_of(tiny_bot, meta) == [Author("Jack D", "jack", tiny_bot / "avatar.jpg")]


def test_write_preview_saves_a_png(tiny_bot):
    target = write_preview(Bot.load(tiny_bot), "My dream is", seed=1)
    assert target == tiny_bot / "predictions.png"
    with Image.open(target) as image:
        assert image.format == "PNG" and image.size[0] == WIDTH


def test_cli_preview_with_avatar(tiny_bot, tmp_path):
    avatar = tmp_path / "a.png"
    Image.new("RGB", (64, 64), (10, 160, 10)).save(avatar)
    result = CliRunner().invoke(cli, ["preview", "jack", "Coffee", "--avatar", str(avatar), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert (tiny_bot / "predictions.png").exists()
