"""Evaluation: text metrics, style attribution, and `tweetling eval` on a trained tiny bot."""

from __future__ import annotations

import json
import re
import zlib

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from test_train import FAST, write_dataset
from tiny_bot import read_meta_file
from tiny_model import TEXTS
from tweetling.cli import cli
from tweetling.dataset import Dataset, Example
from tweetling.evaluate import EvalConfig, distinct_n, evaluate_bot, style_attribution, text_metrics
from tweetling.recipes import recipe
from tweetling.train import fine_tune


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A stand-in sentence embedder: hashed word counts, L2-normalised."""
    rows = np.zeros((len(texts), 64))
    for row, text in enumerate(texts):
        for word in text.lower().split():
            rows[row, zlib.crc32(word.encode()) % 64] += 1
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def test_distinct_n_and_text_metrics():
    assert distinct_n(["a b a b"], 1) == 0.5 and distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n([""], 2) is None
    train = ["the quick brown fox jumps over the lazy dog near the river bank"]
    posts = ["the quick brown fox jumps over the lazy dog near here", "something else entirely new"]
    metrics = text_metrics(posts, train, memorization_ngram=8)
    assert metrics["generated"] == 2 and metrics["memorized_rate"] == 0.5  # the first copies 10 words
    assert metrics["mean_words"] == 7.5 and metrics["account_mean_words"] == 13


def test_style_attribution_finds_each_accounts_voice():
    references = {
        "rockets": [f"rocket launch orbit number {i}" for i in range(5)],
        "garden": [f"garden seeds radish soil {i}" for i in range(5)],
    }
    held_out = [Example("rockets", "orbit rocket engine"), Example("garden", "radish soil seeds")]
    result = style_attribution(
        bag_of_words, ["rocket to orbit", "launch the rocket", "radish soil"], ["rockets"], references, held_out
    )
    assert result["attribution_accuracy"] == pytest.approx(2 / 3)
    assert result["shares"] == {"rockets": pytest.approx(2 / 3), "garden": pytest.approx(1 / 3)}
    assert result["reference_accuracy"] == 1.0


@pytest.fixture
def trained_bot(tiny_model, tmp_path, tweetling_home):
    dataset = Dataset.load(write_dataset(tmp_path / "dataset", train=TEXTS * 2, valid=TEXTS[:6]))
    return fine_tune(dataset, recipe("default", **FAST), str(tiny_model), track_backend="none")


def test_eval_measures_the_bot_and_records_it_in_metadata_and_card(trained_bot):
    stages = []
    result = evaluate_bot(
        trained_bot, EvalConfig(n=6, batch_size=3), track_backend="none", embed=bag_of_words, on_progress=stages.append
    )

    assert result["perplexity"] < result["base_perplexity"]  # training helped on the held-out posts
    assert result["generated"] <= 6 and 0 <= result["memorized_rate"] <= 1
    assert "no other account" in result["style"]["unavailable"]  # one account, nothing else in the store
    assert stages[0] == "loading the bot" and "style attribution" in stages
    sampling = [stage for stage in stages if stage.startswith("sampling posts")]
    assert sampling[0] == "sampling posts: 0 of 6" and re.fullmatch(
        r"sampling posts: 3 of 6, about \d+ s left", sampling[1]
    )
    assert read_meta_file(trained_bot)["eval"]["perplexity"] == result["perplexity"]
    card = (trained_bot / "README.md").read_text()
    assert "## Evaluation" in card and yaml.safe_load(card.split("---")[1])["pipeline_tag"] == "text-generation"


@pytest.mark.parametrize("has_test", [True, False], ids=["test-split", "prepared-before-test-splits"])
def test_eval_reports_perplexity_on_the_test_posts(tiny_model, tmp_path, tweetling_home, has_test):
    test = ["Tides and moons, a walk by the river.", "Birds at five, coffee at six."] if has_test else None
    dataset = Dataset.load(write_dataset(tmp_path / "dataset", train=TEXTS, valid=TEXTS[:6], test=test))
    bot = fine_tune(dataset, recipe("default", **FAST), str(tiny_model), track_backend="none")
    result = CliRunner().invoke(cli, ["eval", str(bot), "-n", "2", "--no-style", "--track", "none"])
    assert result.exit_code == 0, result.output
    evaluation, output = read_meta_file(bot)["eval"], " ".join(result.output.split())  # unwrapped
    if has_test:
        assert (evaluation["perplexity_split"], evaluation["heldout_posts"]) == ("test", 2)
        assert evaluation["perplexity"] == pytest.approx(read_meta_file(bot)["test_perplexity"])
        assert "on the 2 test posts, which no training decision saw" in output
    else:
        assert (evaluation["perplexity_split"], evaluation["heldout_posts"]) == ("valid", 6)
        assert evaluation["perplexity"] == pytest.approx(read_meta_file(bot)["valid_perplexity"])
        assert "the dataset has no test split" in output
    assert evaluation["base_perplexity"] > evaluation["perplexity"]


def test_cli_eval_json(trained_bot):
    result = CliRunner().invoke(
        cli, ["eval", str(trained_bot), "-n", "4", "--no-style", "--no-base", "--track", "none", "--json"]
    )
    assert result.exit_code == 0, result.output
    measured = json.loads(result.output.strip().splitlines()[-1])
    assert measured["n"] == 4 and measured["perplexity"] > 1 and "base_perplexity" not in measured


def test_cli_eval_of_a_plain_model_folder_is_a_clear_error(tiny_model):
    result = CliRunner().invoke(cli, ["eval", str(tiny_model), "--track", "none"])
    assert result.exit_code == 1 and "only tweetling bots can be evaluated" in result.output
