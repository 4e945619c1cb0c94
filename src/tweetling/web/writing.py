"""Step 3, generate: sample posts from a bot with huggingtweets' sampling settings (or the
user's), share them, and choose which one becomes the bot's predictions image."""

from __future__ import annotations

import random

from .. import preview, share
from ..bots import Bot
from ..card import write_card
from ..errors import TweetlingError
from ..generate import GenerateConfig
from ..paths import atomic_path
from . import handouts, render
from .fields import whole_number
from .library import BOTS, Progress, bot_folder, no_progress

MAX_PROMPT_CHARS = 200
MAX_SAMPLES = 20
TEMPERATURE_RANGE = (0.1, 2.0)
TOP_P_RANGE = (0.05, 1.0)
LENGTH_RANGE = (16, 512)  # tokens, prompt included


def sampling_config(temperature: float | None, top_p: float | None, max_length: float | None) -> GenerateConfig:
    """The sampling settings of the page's sliders, checked; None keeps huggingtweets' default."""
    defaults = GenerateConfig()
    temperature = defaults.temperature if temperature is None else float(temperature)
    top_p = defaults.top_p if top_p is None else float(top_p)
    max_length = defaults.max_length if max_length is None else max_length
    for label, value, (low, high) in (
        ("Temperature", temperature, TEMPERATURE_RANGE),
        ("Top-p", top_p, TOP_P_RANGE),
        ("Length", max_length, LENGTH_RANGE),
    ):
        if not low <= value <= high:
            raise TweetlingError(f"“{label}” must be from {low} to {high}, not {value}")
    if int(max_length) != max_length:
        raise TweetlingError(f"“Length” must be a whole number of tokens, not {max_length}")
    return GenerateConfig(temperature=temperature, top_p=top_p, max_length=int(max_length))


def check_generate_inputs(bot: str | None, prompt: str, n: float | None) -> int:
    """The limits of the generate step; returns the number of posts as an int."""
    if not bot:
        raise TweetlingError("choose a bot first (train one in step 2)")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise TweetlingError(f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}")
    return whole_number(n, "Posts", 1, MAX_SAMPLES)


def predictions_image(bot: Bot, prompt: str, text: str) -> str:
    """huggingtweets' predictions image for one generated post, as a PNG file to show."""
    image = preview.post_image(bot, prompt, text)
    target = handouts.fresh_folder("predictions") / "predictions.png"
    image.save(target, format="PNG")
    return str(target)


def preview_choices(texts: list[str]) -> list[tuple[str, str]]:
    """The generated posts as choices for the predictions image, by their number in the list."""
    return [(str(i), text) for i, text in enumerate(texts, 1)]


def generate_step(
    bot: str | None,
    prompt: str,
    n: float | None,
    seed: float | None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_length: float | None = None,
    progress: Progress = no_progress,
) -> tuple[str, str, str | None, list[tuple[str, str]], str]:
    """Step 3: sample posts. Returns (posts with share links, summary, predictions image of the
    first, the posts as preview choices, the prompt they continue)."""
    prompt = prompt or ""
    count = check_generate_inputs(bot, prompt, n)
    config = sampling_config(temperature, top_p, max_length)
    if not BOTS.is_loaded(bot):
        progress(None, desc=f"loading the bot {bot}")
    loaded = BOTS.get(bot)
    progress(None, desc=f"writing {count} posts")
    # A drawn seed, shown in the summary, so any result can be written again.
    seed = whole_number(seed, "Seed", -(2**63), 2**63 - 1, hint=" (-1: a new one each time)", empty=-1)
    if seed < 0:
        seed = random.SystemRandom().randrange(2**31)
    result = loaded.generate(prompt, n=count, seed=seed, config=config)
    summary = f"{result.summary()}; seed {seed}"
    if not result.outputs:
        return "", render.message(summary, "warning"), None, [], prompt
    posts = [(text, share.share_links(text, loaded.accounts)) for text in result.texts]
    image = predictions_image(loaded, prompt, result.texts[0])
    notes = render.notes([summary], "info" if result.complete else "warning")
    return render.generated_posts(posts), notes, image, preview_choices(result.texts), prompt


def show_preview(bot: str | None, prompt: str, text: str | None) -> str | None:
    """The predictions image for the chosen post."""
    if not text:
        return None
    return predictions_image(BOTS.get(bot), prompt or "", text)


def save_preview(bot: str | None, prompt: str, text: str | None) -> str:
    """Make the chosen post the bot's predictions.png (shown on its model card)."""
    folder = bot_folder(bot)
    if not text:
        raise TweetlingError("generate posts first, then choose the one for the image")
    image = preview.post_image(BOTS.get(bot), prompt or "", text)
    with atomic_path(folder / "predictions.png") as tmp:
        image.save(tmp, format="PNG", optimize=True)
    write_card(folder)
    return render.message(f"predictions.png of {folder.name} now shows post “{text}”.", "ok")
