"""Continuing a bot on the posts new since its dataset: the grown dataset, the replay sample, the
recipe, the loop starting from the bot, the metadata and card, the CLI and its errors."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner
from PIL import Image

from tiny_bot import read_meta_file
from tiny_model import TEXTS
from tweetling.bots import BotMeta, Continuation, DatasetRecord, read_metadata
from tweetling.cli import cli
from tweetling.dataset import POST_IDS_FILE, new_examples, prepare, prepare_continuation, replay_sample
from tweetling.errors import TweetlingError
from tweetling.posts import Post
from tweetling.recipes import ContinueConfig, continue_recipe, recipe
from tweetling.store import Store


def add_posts(account: str, start: int, count: int) -> None:
    """COUNT posts of ACCOUNT numbered from START (each text distinct), stored by id."""
    with Store() as store:
        store.upsert_posts(
            Post(
                "x",
                f"{account}{i}",
                account,
                f"{TEXTS[i % 6]} number {i}",
                created_at=f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00",
            )
            for i in range(start, start + count)
        )


@pytest.fixture
def store(tweetling_home):
    with Store() as store:
        yield store


def test_the_grown_dataset_keeps_the_old_split_and_adds_the_new_posts_last(store):
    add_posts("ann", 0, 100)
    before = prepare(store, ["ann"])
    add_posts("ann", 100, 30)
    grown = prepare_continuation(store, before)
    new = new_examples(grown)
    assert grown.manifest["continues"] == {"name": "ann", "hash": before.manifest["hash"], "path": str(before.path)}
    assert grown.manifest["new_counts"] == {"train": 25, "valid": 2, "test": 3}
    # Held-out posts stay held out, each part growing by the new posts' share.
    assert grown.train[:85] == before.train and grown.valid[:5] == before.valid and grown.test[:10] == before.test
    grown_by = [*new, *grown.valid[5:], *grown.test[10:]]
    assert len(new) == 25 and len(grown_by) == 30 and all(int(e.text.rsplit(" ", 1)[1]) >= 100 for e in grown_by)
    assert grown.manifest["table"]["ann"]["kept"] == 130 and grown.manifest["train_count"] == 110
    assert len((grown.path / POST_IDS_FILE).read_text().split()) == 130
    assert prepare_continuation(store, before).path == grown.path  # the same posts, the same version
    assert new_examples(before) == []


def test_datasets_without_an_id_list_find_new_posts_by_text(store):
    add_posts("ann", 0, 100)
    before = prepare(store, ["ann"])
    (before.path / POST_IDS_FILE).unlink()
    add_posts("ann", 100, 20)
    assert before.post_ids() is None
    assert prepare_continuation(store, before).manifest["new_counts"] == {"train": 17, "valid": 1, "test": 2}


def test_no_new_posts_is_one_clear_error(store):
    add_posts("ann", 0, 100)
    before = prepare(store, ["ann"])
    add_posts("ann", 0, 100)  # the same posts again
    with pytest.raises(TweetlingError, match="^no new posts for @ann since dataset ann-.* fetch or import newer"):
        prepare_continuation(store, before)


def test_replay_sample_mixes_the_share_of_older_posts_with_every_new_one(store):
    add_posts("ann", 0, 100)
    before = prepare(store, ["ann"])
    add_posts("ann", 100, 30)
    grown = prepare_continuation(store, before)
    new = new_examples(grown)
    half = replay_sample(grown, 0.5, seed=1)
    assert half[-25:] == new and len(half) == 50 and set(half[:25]) <= set(grown.train[:85])
    assert replay_sample(grown, 0.5, seed=1) == half and replay_sample(grown, 0.5, seed=2) != half
    assert replay_sample(grown, 0.0, seed=1) == new
    assert len(replay_sample(grown, 0.9, seed=1)) == 25 + 85  # no more older posts than there are
    with pytest.raises(TweetlingError, match="replay fraction"):
        replay_sample(grown, 1.0, seed=1)


def test_continue_recipe_is_the_bots_own_with_a_lower_rate_and_overrides():
    trained = {"name": "thorough", **vars(recipe("thorough", epochs=2)), "key_of_a_newer_version": 1}
    config = continue_recipe(trained)
    assert config.recipe == "thorough" and config.epochs == 2 and config.freeze_fraction == 0.0
    assert config.learning_rate == pytest.approx(recipe("thorough").learning_rate * 0.5)
    assert continue_recipe(trained, ContinueConfig(learning_rate_factor=1.0), epochs=3, seed=None).epochs == 3
    assert continue_recipe({}) == continue_recipe({"name": "default", **vars(recipe("default"))})


@pytest.mark.parametrize(
    "options, message",
    [({"replay_fraction": 1.0}, "replay_fraction"), ({"learning_rate_factor": 0}, "learning_rate_factor")],
)
def test_continue_config_rejects_bad_values(options, message):
    with pytest.raises(TweetlingError, match=message):
        ContinueConfig(**options)


def test_metadata_records_each_continuation_and_reads_files_without_them():
    update = Continuation(DatasetRecord(name="ann", hash="a" * 64, train_count=90), "2025-01-01", 27, 27, 40.5)
    meta = BotMeta(name="ann", accounts=["ann"], dataset=DatasetRecord(name="ann", hash="b" * 64), continued=[update])
    data = meta.to_dict()
    assert data["continued"][0]["previous_dataset"]["hash"] == "a" * 64
    assert BotMeta.from_dict(data) == meta and meta.original_dataset.hash == "a" * 64
    data["continued"][0]["from_a_newer_version"] = True
    assert BotMeta.from_dict(data).to_dict()["continued"][0]["from_a_newer_version"] is True
    assert BotMeta.from_dict({"name": "ann"}).continued == [] and BotMeta(name="x").original_dataset == DatasetRecord()


def train_cli(*args: str):
    return CliRunner().invoke(cli, ["train", *args, "--track", "none"])


def test_cli_continues_a_bot_on_new_posts(tiny_model, tweetling_home):
    add_posts("jack", 0, 120)
    result = train_cli("jack", "--base", str(tiny_model), "--batch-size", "8", "--lr", "3e-3")
    assert result.exit_code == 0, result.output
    folder = tweetling_home / "bots" / "jack"
    first = read_metadata(folder)
    Image.new("RGB", (8, 8), "red").save(folder / "avatar.png")

    add_posts("jack", 120, 40)
    result = train_cli("jack", "--continue", "--replay", "0.25", "--seed", "3")
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "34 new posts and 11 older ones replayed of 136" in output and "before training: validation loss" in output
    meta = read_metadata(folder)
    (update,) = meta.continued
    assert (update.new_posts, update.replayed_posts) == (34, 11)
    assert update.previous_dataset == first.dataset and update.previous_created_at == first.created_at
    assert meta.dataset.extra["continues"]["hash"] == first.dataset.hash and meta.dataset.train_count == 136
    assert meta.base_model == str(tiny_model) and meta.seed == 3  # the original base, not the bot's folder
    assert meta.recipe["learning_rate"] == pytest.approx(1.5e-3)  # half the bot's own rate
    assert meta.valid_history[0]["step"] == 0  # the bot before continuing, measured on the same posts
    assert update.previous_valid_perplexity == pytest.approx(meta.valid_history[0]["perplexity"])
    assert meta.valid_perplexity <= update.previous_valid_perplexity  # never worse: early stopping keeps the best
    assert f"validation perplexity {update.previous_valid_perplexity:.2f} → {meta.valid_perplexity:.2f}" in output
    assert (folder / "avatar.png").exists() and read_meta_file(folder)["continued"][0]["new_posts"] == 34
    card = (folder / "README.md").read_text()
    assert "then continued on 34 posts new since (with 11 older ones replayed)" in card
    assert f"version {first.dataset.hash[:12]} (102 training posts)" in card

    result = train_cli("jack", "--continue")  # nothing new since
    assert result.exit_code == 1 and "no new posts for @jack since dataset jack-" in result.stderr


def test_continuing_keeps_the_bots_weights_when_no_step_improves_them(tiny_model, tweetling_home):
    from safetensors.torch import load_file

    add_posts("jack", 0, 120)
    assert train_cli("jack", "--base", str(tiny_model), "--batch-size", "8").exit_code == 0
    folder = tweetling_home / "bots" / "jack"
    before = load_file(folder / "model.safetensors")
    add_posts("jack", 120, 40)
    result = train_cli("jack", "--continue", "--lr", "3")  # a rate that wrecks the weights
    assert result.exit_code == 0, result.output
    after = load_file(folder / "model.safetensors")
    assert all(bool((before[name] == after[name]).all()) for name in before)
    meta = read_metadata(folder)
    assert meta.valid_perplexity == pytest.approx(meta.continued[0].previous_valid_perplexity)
    assert math.isfinite(meta.valid_perplexity)


@pytest.mark.parametrize(
    "args, message",
    [
        (["nobody", "--continue"], "no bot to continue at "),
        (["jack", "--continue", "--out", "BOTS/ann-bob"], "bot 'ann-bob' was trained on @ann, @bob, not @jack"),
        (["jack", "--continue", "--base", "gpt2"], "--base does not go with --continue"),
        (["jack", "--continue", "--recipe", "thorough"], "--recipe does not go with --continue"),
        (["jack", "--continue", "--keep-newlines"], "--keep-newlines does not go with --continue"),
        (["jack", "--replay", "0.3"], "--replay goes with --continue"),
    ],
)
def test_continue_errors_are_one_line(tiny_model, tweetling_home, args, message):
    from tiny_bot import build_tiny_bot

    build_tiny_bot(tiny_model, tweetling_home / "bots" / "ann-bob", accounts=("ann", "bob"))
    args = [arg.replace("BOTS", str(tweetling_home / "bots")) for arg in args]
    result = train_cli(*args)
    assert result.exit_code == 1 and message in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bot_whose_dataset_is_gone_cannot_be_continued(tiny_bot, tweetling_home):
    import shutil

    shutil.rmtree(read_metadata(tiny_bot).dataset.path)
    add_posts("jack", 0, 50)
    result = train_cli("jack", "--continue")
    assert result.exit_code == 1 and "its dataset is no longer at" in result.stderr
