"""Sampling posts: newline cut, dropped empties and duplicates, the memorization guard, seeds, CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

import tweetling
from tiny_bot import TRAIN_POSTS
from tweetling.bots import Bot
from tweetling.cli import cli
from tweetling.errors import TweetlingError
from tweetling.generate import GenerateConfig, NgramIndex, newline_token_ids, sample_rows, sample_top_p, select

COPY = TRAIN_POSTS[0]  # "My dream is to build a small robot that waters the plants every single morning."


def test_ngram_index_finds_copies_despite_case_and_punctuation():
    index = NgramIndex(TRAIN_POSTS, n=8)
    assert index.is_memorized("MY DREAM is... to build a small robot that waters the plants!!")
    assert index.overlap("Today: to build a small robot that waters the plants, said no one") == 9
    assert index.is_memorized("coffee first then the world maybe")  # a whole short post
    assert not index.is_memorized("My dream is to build a small boat that floats")
    assert not index.is_memorized("Coffee first")  # a fragment of a short post is no copy
    assert index.overlap("nothing like the training posts") == 0


def test_select_cuts_at_newline_and_drops_empty_and_duplicate_outputs():
    result = select(
        "My dream is", [" to fly\nand more", "\nonly after", " to fly", "   ", " big"], keep_newlines=False, index=None
    )
    assert result.texts == ["My dream is to fly", "My dream is big"]
    assert (result.sampled, result.dropped_empty, result.dropped_duplicate) == (5, 2, 1)


def test_select_keeps_newlines_when_the_bot_does():
    result = select("A", [" b\nc"], keep_newlines=True, index=None)
    assert result.texts == ["A b\nc"]


def test_memorized_outputs_are_dropped_or_flagged():
    index = NgramIndex(TRAIN_POSTS)
    continuations = [COPY.removeprefix("My dream is"), " to see the sea"]
    dropped = select("My dream is", continuations, keep_newlines=False, index=index)
    assert dropped.texts == ["My dream is to see the sea"]
    assert dropped.dropped_memorized == 1
    flagged = select("My dream is", continuations, keep_newlines=False, index=index, allow_memorized=True)
    assert [(g.memorized, g.overlap) for g in flagged.outputs] == [(True, 15), (False, 0)]
    assert flagged.flagged_memorized == 1 and flagged.dropped_memorized == 0


def test_top_p_samples_only_from_the_nucleus():
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log().expand(2000, -1)
    torch.manual_seed(0)
    assert set(sample_top_p(logits, top_p=0.7, temperature=1.0).tolist()) == {0, 1}
    assert set(sample_top_p(logits, top_p=0.9, temperature=1.0).tolist()) == {0, 1, 2}
    assert set(sample_top_p(logits, top_p=1.0, temperature=1.0).tolist()) == {0, 1, 2, 3}
    assert set(sample_top_p(logits, top_p=1.0, temperature=0.01).tolist()) == {0}
    # a nucleus wider than the candidates looked at first
    flat = torch.zeros(4000, 1000)
    assert len(set(sample_top_p(flat, top_p=0.95, temperature=1.0, candidates=(16, 256)).tolist())) > 600


def uncached_rows(model, prompt: list[int], n: int, ends: list[int], max_length: int) -> list[list[int]]:
    """sample_rows' result recomputed the slow way: every step runs the whole context, no cache."""
    rows, alive = [[] for _ in range(n)], list(range(n))
    while alive:
        logits = model(input_ids=torch.tensor([prompt + rows[row] for row in alive])).logits[:, -1]
        for row, token in zip(alive, sample_top_p(logits, top_p=0.95, temperature=1.0).tolist(), strict=True):
            rows[row].append(token)
        alive = [row for row in alive if rows[row][-1] not in ends and len(prompt) + len(rows[row]) < max_length]
    return rows


def test_rows_leave_the_batch_when_they_end_and_the_others_keep_their_own_cache(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_model), AutoTokenizer.from_pretrained(tiny_model)
    eos = tokenizer.eos_token_id
    prompt = [eos] + tokenizer("Coffee")["input_ids"]
    ends = [eos, *newline_token_ids(tokenizer)]
    with torch.inference_mode():
        torch.manual_seed(0)
        rows = sample_rows(
            model, prompt, 12, end_ids=ends, eos_id=eos, max_length=40, min_length=0, top_p=0.95, temperature=1.0
        )
        torch.manual_seed(0)
        assert rows == uncached_rows(model, prompt, 12, ends, max_length=40)
    assert len({len(row) for row in rows}) >= 3  # rows ended at different steps
    for row in rows:
        assert all(token not in ends for token in row[:-1])
        assert row[-1] in ends or len(prompt) + len(row) == 40


def test_eos_is_barred_until_min_length(tiny_bot):
    bot = Bot.load(tiny_bot)
    prompt = [bot.tokenizer.eos_token_id] + bot.tokenizer("Coffee")["input_ids"]
    with torch.inference_mode():
        likeliest = int(bot.model(input_ids=torch.tensor([prompt])).logits[0, -1].argmax())
        every_token_ends = list(range(len(bot.tokenizer)))

        def first_tokens(min_length: int) -> set[int]:
            rows = sample_rows(
                bot.model,
                prompt,
                50,
                end_ids=every_token_ends,
                eos_id=likeliest,
                max_length=60,
                min_length=min_length,
                top_p=1.0,
                temperature=0.05,
            )
            assert all(len(row) == 1 for row in rows)
            return {row[0] for row in rows}

        torch.manual_seed(0)
        assert likeliest in first_tokens(min_length=0)
        assert likeliest not in first_tokens(min_length=len(prompt) + 1)


def test_bot_generates_seeded_batches(tiny_bot):
    bot = tweetling.Bot.load(tiny_bot)
    first = bot.generate("My dream is", n=6, seed=3)
    assert first.sampled == 6
    assert first.outputs and all(text.startswith("My dream is") and "\n" not in text for text in first.texts)
    assert bot.generate("My dream is", n=6, seed=3).texts == first.texts
    assert bot.generate("My dream is", n=6, seed=4).texts != first.texts


def test_raw_samples_stop_right_after_the_first_newline(tiny_bot):
    bot = Bot.load(tiny_bot)
    samples = bot.sample("Coffee", n=40, seed=0)
    with_newline = [s for s in samples if "\n" in s]
    assert with_newline, "the tiny model should sample some newlines within 127 tokens"
    for sample in with_newline:
        # Sampling stopped at the token holding the newline: at most the rest of that token follows.
        assert len(bot.tokenizer(sample.split("\n", 1)[1])["input_ids"]) <= 1


def fake_rounds(bot, monkeypatch, rounds: list[list[str]]) -> list[int]:
    """Make BOT's sampler return ROUNDS one after another (the last one repeated), each cut or
    padded with empty samples to the size asked for; returns the list of sizes asked for."""
    asked: list[int] = []

    def sample(prompt_ids, n, config):
        asked.append(n)
        batch = rounds[min(len(asked), len(rounds)) - 1]
        return (batch + [""] * n)[:n]

    monkeypatch.setattr(bot, "_sample", sample)
    return asked


def test_bot_drops_a_copied_training_post(tiny_bot, monkeypatch):
    bot = Bot.load(tiny_bot)
    copy = " to build a small robot that waters the plants every single morning."
    asked = fake_rounds(bot, monkeypatch, [[copy, " new", "", " new"], [" one", " two", " three", " four"]])
    result = bot.generate("My dream is", n=4)
    assert result.texts == ["My dream is new", "My dream is one", "My dream is two", "My dream is three"]
    assert asked == [4, 14]  # 3 missing at a quarter kept, plus two
    assert (result.dropped_memorized, result.dropped_duplicate, result.dropped_empty, result.surplus) == (1, 1, 11, 1)
    fake_rounds(bot, monkeypatch, [[copy, " new", "", " new"]])
    flagged = bot.generate("My dream is", n=2, config=GenerateConfig(allow_memorized=True))
    assert flagged.outputs[0].memorized and flagged.rounds == 1


def test_dropped_samples_are_sampled_again_until_n_posts(tiny_bot, monkeypatch):
    bot = Bot.load(tiny_bot)
    first = [" a", "", " a", " b", "", "", " c", " d", "", " e"]  # 5 kept of 10
    asked = fake_rounds(bot, monkeypatch, [first, [" f", " b", "", " g", " h", " i", " j", " k", " l", " m", " n"]])
    result = bot.generate("X", n=10)
    assert result.complete and len(result.texts) == 10 and len(set(result.texts)) == 10
    assert asked == [10, 12]  # 5 missing at half kept, plus a margin of two
    assert (result.rounds, result.sampled, result.dropped_empty, result.dropped_duplicate) == (2, 22, 6, 2)
    assert result.surplus == 22 - 10 - 6 - 2
    assert result.summary() == "10 posts from 22 samples in 2 rounds; dropped 6 empty, 2 duplicate"
    assert result.to_dict()["requested"] == 10 and result.to_dict()["surplus"] == 4


def test_a_bot_that_only_drops_gives_up_after_bounded_rounds_and_says_why(tiny_bot, monkeypatch):
    bot = Bot.load(tiny_bot)
    asked = fake_rounds(bot, monkeypatch, [["", " same", " same"]])
    result = bot.generate("X", n=3, config=GenerateConfig(max_rounds=3))
    assert result.texts == ["X same"] and not result.complete
    assert len(asked) == 3 and asked[0] == 3 and max(asked) <= 4 * 2 + 2  # at most 4x what is missing, plus 2
    assert result.summary().startswith(f"only 1 of 3 posts from {sum(asked)} samples in 3 rounds; dropped ")
    assert "empty" in result.summary() and "duplicate" in result.summary()


@pytest.mark.parametrize("rounds", [0, -1])
def test_max_rounds_must_be_positive(rounds):
    with pytest.raises(TweetlingError, match="max_rounds"):
        GenerateConfig(max_rounds=rounds)


@pytest.mark.parametrize("n", [1, 10, 20])
def test_a_real_sampler_gives_exactly_n_posts_repeatably_by_seed(tiny_bot, n):
    bot = Bot.load(tiny_bot)  # a random model: many samples come out empty or end at once
    result = bot.generate("Coffee", n=n, seed=5)
    assert len(result.texts) == n and len(set(result.texts)) == n and result.complete
    again = bot.generate("Coffee", n=n, seed=5)
    assert (again.texts, again.sampled, again.rounds) == (result.texts, result.sampled, result.rounds)
    assert torch.rand(1).item() != torch.rand(1).item()  # the seed was not left set


def test_prompt_longer_than_the_model_is_an_error(tiny_bot):
    with pytest.raises(TweetlingError, match="prompt is too long"):
        Bot.load(tiny_bot).generate("word " * 200, n=1)


def test_import_tweetling_stays_light():
    code = "import sys, tweetling; assert 'torch' not in sys.modules; print(tweetling.Bot.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Bot"


@pytest.mark.parametrize("seed", [str(10**20), "-1"])
def test_cli_generate_refuses_a_seed_torch_cannot_take(tiny_bot, seed):
    result = CliRunner().invoke(cli, ["generate", "jack", "My dream is", "--seed", seed])
    assert result.exit_code == 1 and result.output.startswith("error: the seed must be a whole number from 0 to ")


def test_cli_generate_json(tiny_bot):
    result = CliRunner().invoke(cli, ["generate", "jack", "My dream is", "-n", "4", "--seed", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["requested"] == 4 and len(data["outputs"]) == 4 and data["seed"] == 1
    assert set(data["dropped"]) == {"empty", "duplicate", "memorized"}
    assert all(o["text"].startswith("My dream is") for o in data["outputs"])


def test_cli_generate_prints_exactly_n_posts_and_counts(tiny_bot):
    result = CliRunner().invoke(cli, ["generate", str(tiny_bot), "Coffee", "-n", "10", "--seed", "2"])
    assert result.exit_code == 0, result.output
    numbers = re.findall(r"^ ?(\d+)\. Coffee", result.stdout, re.MULTILINE)  # long posts wrap onto more lines
    assert numbers == [str(i) for i in range(1, 11)]
    assert "10 posts from " in result.stderr


def test_cli_generate_says_how_many_posts_it_could_make(tiny_bot, monkeypatch):
    monkeypatch.setattr(Bot, "_sample", lambda self, prompt_ids, n, config: [" same"] * n)
    result = CliRunner().invoke(cli, ["generate", "jack", "A", "-n", "3"])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "only 1 of 3 posts from" in result.stderr and "duplicate" in result.stderr


def test_cli_generate_unknown_bot(tweetling_home):
    result = CliRunner().invoke(cli, ["generate", "nobody"])
    assert result.exit_code == 1
    assert "no bot named 'nobody'" in result.stderr
