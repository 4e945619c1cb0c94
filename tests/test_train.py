"""Training: recipes, the loop, checkpoints and resume, the bot folder, the CLI."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import load_file

from tiny_bot import read_meta_file
from tiny_model import TEXTS
from tweetling import track
from tweetling.bots import FORMAT_VERSION
from tweetling.cli import cli
from tweetling.dataset import Dataset
from tweetling.errors import TweetlingError
from tweetling.models import computes_bf16
from tweetling.recipes import RECIPES, TrainingInterrupted, recipe
from tweetling.train import (
    checkpoint_path,
    fine_tune,
    heldout_perplexity,
    plan_batches,
    posts_to_train,
    training_batches,
)

FAST = dict(epochs=2, batch_size=4, learning_rate=1e-2, checkpoint_every=0)


def write_dataset(folder: Path, accounts=("jack",), train=TEXTS, valid=TEXTS[:6], test=None) -> Path:
    """A dataset folder in the documented format, posts spread over ACCOUNTS; without TEST, as
    prepared before datasets had a test split."""
    folder.mkdir(parents=True)
    name = "-".join(accounts)
    manifest = {
        "name": name,
        "hash": "ab" * 32,
        "accounts": list(accounts),
        "seed": 42,
        "valid_fraction": 0.1,
        "options": {},
        "keep_newlines": False,
        "table": {a: {"kept": len(train)} for a in accounts},
        "profiles": {a: {"display_name": a.title()} for a in accounts},
        "train_count": len(train),
        "valid_count": len(valid),
        "created_at": "2025-01-01T00:00:00+00:00",
    }
    if test is not None:
        manifest.update(test_fraction=0.1, test_count=len(test))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for split, texts in (("train", train), ("valid", valid), ("test", test)):
        if texts is None:
            continue
        lines = [json.dumps({"account": accounts[i % len(accounts)], "text": t}) for i, t in enumerate(texts)]
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    return Dataset.load(write_dataset(tmp_path / "dataset"))


def weights(folder: Path) -> dict:
    return load_file(folder / "model.safetensors")


def test_full_fine_tune_writes_a_bot_that_the_pipeline_loads(tiny_model, dataset, tweetling_home):
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    before = heldout_perplexity(base, tokenizer, [e.text for e in dataset.valid])
    events = []

    folder = fine_tune(
        dataset, recipe("default", **FAST), str(tiny_model), track_backend="none", on_progress=events.append
    )

    assert folder == tweetling_home / "bots" / "jack"
    meta = read_meta_file(folder)
    assert meta["valid_perplexity"] < before.perplexity / 2  # it learned the posts
    assert meta["valid_loss"] == pytest.approx(math.log(meta["valid_perplexity"]))
    assert meta["accounts"] == ["jack"] and meta["method"] == "full" and meta["base_model"] == str(tiny_model)
    assert meta["dataset"]["hash"] == "ab" * 32 and meta["dataset"]["path"] == str(dataset.path)
    assert meta["recipe"]["name"] == "default" and meta["recipe"]["learning_rate"] == 1e-2 and meta["seed"] == 42
    assert {"torch", "transformers", "peft"} <= set(meta["versions"]) and meta["format_version"] == FORMAT_VERSION
    assert meta["train_tokens"] > 0 and meta["tokens_per_s"] > 0 and meta["wall_time_s"] > 0
    assert meta["train_loss"] > 0 and len(meta["valid_history"]) == 2  # one validation per epoch
    assert meta["test_perplexity"] is None and meta["test_loss"] is None  # the dataset has no test split
    steps = [e for e in events if e.event == "step"]
    assert [e.step for e in steps] == list(range(1, steps[-1].total_steps + 1))
    assert steps[-1].eta_s == 0 and steps[-1].tokens == meta["train_tokens"]
    assert [e.epoch for e in events if e.event == "eval"] == [1, 2]

    trained = AutoModelForCausalLM.from_pretrained(folder)
    assert heldout_perplexity(
        trained, AutoTokenizer.from_pretrained(folder), [e.text for e in dataset.valid]
    ).perplexity == pytest.approx(meta["valid_perplexity"])
    config = json.loads((folder / "config.json").read_text())
    assert config["task_specific_params"]["text-generation"] == {
        "do_sample": True,
        "top_p": 0.95,
        "max_length": 128,
        "min_length": 10,
        "prefix": "<|endoftext|>",
    }
    generation = json.loads((folder / "generation_config.json").read_text())
    assert generation["do_sample"] and generation["top_p"] == 0.95 and generation["eos_token_id"] == 0
    assert not list(folder.parent.glob("*.checkpoint.pt"))

    generator = pipeline("text-generation", model=str(folder))
    outputs = generator("My dream is", max_new_tokens=8, num_return_sequences=2)
    assert len(outputs) == 2 and all(o["generated_text"].startswith("My dream is") for o in outputs)


def test_test_posts_are_measured_after_training_and_steer_nothing(tiny_model, tmp_path, tweetling_home):
    """Two datasets that differ only in their test posts train the same weights through the same
    validations; each bot records the perplexity of its own test posts."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tests = {"a": ["Tides and moons, a walk by the river.", "Birds at five, coffee at six."], "b": TEXTS[:3]}
    folders = {}
    for name, test in tests.items():
        dataset = Dataset.load(write_dataset(tmp_path / f"dataset-{name}", test=test))
        assert dataset.test and dataset.manifest["test_count"] == len(test)
        folders[name] = fine_tune(
            dataset, recipe("default", **FAST), str(tiny_model), tmp_path / f"bot-{name}", track_backend="none"
        )
    metas = {name: read_meta_file(folder) for name, folder in folders.items()}
    a, b = weights(folders["a"]), weights(folders["b"])
    assert all((a[key] == b[key]).all() for key in a)
    assert metas["a"]["valid_history"] == metas["b"]["valid_history"]
    assert metas["a"]["test_perplexity"] != metas["b"]["test_perplexity"]
    for name, folder in folders.items():
        model, tokenizer = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
        measured = heldout_perplexity(model, tokenizer, tests[name])
        assert metas[name]["test_perplexity"] == pytest.approx(measured.perplexity)
        assert metas[name]["test_loss"] == pytest.approx(measured.loss)
        assert metas[name]["dataset"]["test_count"] == len(tests[name])


def test_lora_is_merged_into_a_plain_model(tiny_model, dataset, tmp_path, tweetling_home):
    from transformers import pipeline

    out = tmp_path / "lora-bot"
    fine_tune(dataset, recipe("default", method="lora", **FAST), str(tiny_model), out, track_backend="none")

    assert not (out / "adapter_config.json").exists()
    trained, base = weights(out), weights(tiny_model)
    changed = [name for name in base if not (trained[name] == base[name]).all()]
    assert changed and all(".attn." in name or ".mlp." in name for name in changed)  # only adapted layers moved
    assert read_meta_file(out)["method"] == "lora"
    assert pipeline("text-generation", model=str(out))("Coffee", max_new_tokens=4)[0]["generated_text"]


def test_frozen_layers_keep_their_weights(tiny_model, dataset, tmp_path, tweetling_home):
    out = tmp_path / "frozen-bot"
    fine_tune(dataset, recipe("default", freeze_fraction=0.5, **FAST), str(tiny_model), out, track_backend="none")

    trained, base = weights(out), weights(tiny_model)
    changed = {name for name in base if not (trained[name] == base[name]).all()}
    assert changed and all(
        name.startswith("transformer.h.1.") or name.startswith("transformer.ln_f.") for name in changed
    )  # embeddings and the lowest block stayed put


def test_bf16_autocast_only_where_the_device_computes_bf16(tiny_model, dataset, tmp_path, tweetling_home, monkeypatch):
    import tweetling.train

    monkeypatch.setattr(tweetling.train, "computes_bf16", lambda device: False)
    emulated = fine_tune(dataset, recipe("default", **FAST), str(tiny_model), tmp_path / "fp32", track_backend="none")
    monkeypatch.setattr(tweetling.train, "computes_bf16", lambda device: True)
    native = fine_tune(dataset, recipe("default", **FAST), str(tiny_model), tmp_path / "bf16", track_backend="none")
    one, two = read_meta_file(emulated), read_meta_file(native)
    assert (one["bf16"], two["bf16"]) == (False, True) and one["recipe"]["bf16"] and two["recipe"]["bf16"]
    assert one["valid_loss"] != two["valid_loss"]  # the steps did run in another precision


def test_resume_after_interruption_matches_an_uninterrupted_run(tiny_model, dataset, tmp_path, tweetling_home):
    config = recipe("default", **{**FAST, "epochs": 3, "checkpoint_every": 2})
    whole = fine_tune(dataset, config, str(tiny_model), tmp_path / "whole", track_backend="none")

    def interrupt_at_step_5(update):
        if update.event == "step" and update.step == 5:
            raise KeyboardInterrupt

    out = tmp_path / "resumed"
    with pytest.raises(TrainingInterrupted) as stopped:
        fine_tune(dataset, config, str(tiny_model), out, track_backend="none", on_progress=interrupt_at_step_5)
    assert stopped.value.step == 5 and stopped.value.checkpoint == checkpoint_path(out)
    assert "--resume" in str(stopped.value) and checkpoint_path(out).exists() and not out.exists()

    resumed_steps = []
    fine_tune(
        dataset,
        config,
        str(tiny_model),
        out,
        resume=True,
        track_backend="none",
        on_progress=lambda u: u.event == "step" and resumed_steps.append(u.step),
    )
    assert resumed_steps[0] == 6
    expected, got = weights(whole), weights(out)
    assert all((expected[name] - got[name]).abs().max() < 1e-5 for name in expected)
    assert read_meta_file(out)["valid_loss"] == pytest.approx(read_meta_file(whole)["valid_loss"], abs=1e-5)
    assert not checkpoint_path(out).exists()


def test_ctrl_c_finishes_the_step_and_saves_a_checkpoint(tiny_model, dataset, tmp_path, tweetling_home):
    def press_ctrl_c(update):
        if update.event == "step" and update.step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "bot"
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN where the suite runs in the background
    with pytest.raises(TrainingInterrupted) as stopped:
        fine_tune(
            dataset, recipe("default", **FAST), str(tiny_model), out, track_backend="none", on_progress=press_ctrl_c
        )
    assert stopped.value.step == 2 and checkpoint_path(out).exists()
    assert signal.getsignal(signal.SIGINT) == before  # the handler training replaced is back


def test_sigterm_stops_like_ctrl_c_with_a_checkpoint(tiny_model, dataset, tmp_path, tweetling_home):
    """`kill`, `systemctl stop` and `docker stop` send SIGTERM: the steps so far are kept."""

    def terminate(update):
        if update.event == "step" and update.step == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    out = tmp_path / "bot"
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted) as stopped:
        fine_tune(dataset, recipe("default", **FAST), str(tiny_model), out, track_backend="none", on_progress=terminate)
    assert stopped.value.step == 2 and checkpoint_path(out).exists()
    assert signal.getsignal(signal.SIGTERM) == before


def test_ctrl_c_once_the_steps_are_done_waits_for_the_bot(tiny_model, dataset, tmp_path, tweetling_home, monkeypatch):
    """After the last step there may be no checkpoint: a first Ctrl-C must not throw the training away."""
    import tweetling.train

    measure = tweetling.train.test_perplexity

    def ctrl_c_while_measuring(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return measure(*args, **kwargs)

    monkeypatch.setattr(tweetling.train, "test_perplexity", ctrl_c_while_measuring)
    out = fine_tune(dataset, recipe("default", **FAST), str(tiny_model), tmp_path / "bot", track_backend="none")
    assert (out / "model.safetensors").exists() and not checkpoint_path(out).exists()


def test_no_bot_is_written_when_its_dataset_was_forgotten_meanwhile(
    tiny_model, dataset, tmp_path, tweetling_home, monkeypatch
):
    import tweetling.train

    measure = tweetling.train.test_perplexity

    def forget_while_measuring(*args, **kwargs):
        shutil.rmtree(dataset.path)  # what `tweetling forget` of its account does
        return measure(*args, **kwargs)

    monkeypatch.setattr(tweetling.train, "test_perplexity", forget_while_measuring)
    out = tmp_path / "bot"
    with pytest.raises(TweetlingError, match="was deleted while training .* the bot is not written"):
        fine_tune(dataset, recipe("default", **FAST), str(tiny_model), out)
    assert not out.exists()
    runs = track.recent_runs()
    assert runs[0].status == "FAILED"  # the tracked run ends, not RUNNING forever


def stop_at_once(update):
    if update.event == "step":
        raise KeyboardInterrupt


def test_a_stop_before_the_first_step_ends_at_once_without_a_checkpoint(tiny_model, dataset, tmp_path, tweetling_home):
    events = []

    def stop_at_start(update):
        events.append(update.event)
        if update.event == "start":
            raise KeyboardInterrupt

    out = tmp_path / "bot"
    with pytest.raises(TrainingInterrupted) as stopped:
        fine_tune(
            dataset, recipe("default", **FAST), str(tiny_model), out, track_backend="none", on_progress=stop_at_start
        )
    assert events == ["start"] and stopped.value.step == 0 and stopped.value.checkpoint is None
    assert not checkpoint_path(out).exists() and not out.exists()


def test_resume_refuses_a_checkpoint_of_other_settings(tiny_model, dataset, tmp_path, tweetling_home):
    out = tmp_path / "bot"
    with pytest.raises(TrainingInterrupted):
        fine_tune(
            dataset, recipe("default", **FAST), str(tiny_model), out, track_backend="none", on_progress=stop_at_once
        )
    with pytest.raises(TweetlingError, match=r"other settings or data \(learning_rate: [\d.e-]+ then, 0\.0001 now\)"):
        fine_tune(
            dataset,
            recipe("default", **{**FAST, "learning_rate": 1e-4}),
            str(tiny_model),
            out,
            resume=True,
            track_backend="none",
        )
    with pytest.raises(TweetlingError, match="no checkpoint"):
        fine_tune(
            dataset, recipe("default", **FAST), str(tiny_model), tmp_path / "other", resume=True, track_backend="none"
        )
    # How long it may run and how often it saves change no step: the training resumes.
    steps = []
    fine_tune(
        dataset,
        recipe("default", **{**FAST, "max_time_s": 3600.0, "checkpoint_every": 7}),
        str(tiny_model),
        out,
        resume=True,
        track_backend="none",
        on_progress=lambda u: u.event == "step" and steps.append(u.step),
    )
    assert steps and steps[0] == 2


@pytest.mark.parametrize("content", [b"junk", b"PK\x03\x04" + b"\0" * 100, "truncated"])
def test_a_damaged_checkpoint_is_one_line(tiny_model, dataset, tmp_path, tweetling_home, content):
    out = tmp_path / "bot"
    with pytest.raises(TrainingInterrupted):
        fine_tune(
            dataset, recipe("default", **FAST), str(tiny_model), out, track_backend="none", on_progress=stop_at_once
        )
    checkpoint = checkpoint_path(out)
    whole = checkpoint.read_bytes()
    checkpoint.write_bytes(whole[: len(whole) // 2] if content == "truncated" else content)
    for track_backend in ("none", "mlflow"):  # with MLflow the run id is read from it first
        with pytest.raises(
            TweetlingError, match=rf"^{checkpoint}: a damaged checkpoint \(.*\): start again"
        ) as refused:
            fine_tune(
                dataset, recipe("default", **FAST), str(tiny_model), out, resume=True, track_backend=track_backend
            )
        assert "\n" not in str(refused.value)


def test_heldout_perplexity_counts_each_post_and_its_final_eos(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_model), AutoTokenizer.from_pretrained(tiny_model)
    texts = ["Coffee first.", "Reading a book about tides and the moon tonight."]
    result = heldout_perplexity(model, tokenizer, texts, batch_size=1)
    assert result.tokens == sum(len(tokenizer(t)["input_ids"]) + 1 for t in texts)
    assert result.perplexity == pytest.approx(math.exp(result.loss))
    # padding in a shared batch changes nothing
    assert heldout_perplexity(model, tokenizer, texts, batch_size=2).loss == pytest.approx(result.loss, rel=1e-5)


def test_batches_group_similar_lengths_and_packing_fills_blocks():
    posts = [[7] * n for n in (1, 9, 2, 8, 3, 7, 4, 6)]
    per_post = plan_batches(posts, recipe("default", epochs=2, batch_size=2), eos_id=0, max_length=8)
    assert len(per_post) == 8 and all(len(batch) == 2 for batch in per_post)
    assert all(abs(len(a) - len(b)) <= 1 for a, b in per_post)  # neighbours in length
    assert max(len(example) for batch in per_post for example in batch) == 8  # long posts cut
    assert per_post == plan_batches(posts, recipe("default", epochs=2, batch_size=2), eos_id=0, max_length=8)

    packed = plan_batches(posts, RECIPES["huggingtweets"], eos_id=0, max_length=8)
    blocks = [block for batch in packed for block in batch]
    assert all(len(batch) == 1 for batch in packed) and all(len(block) <= 8 for block in blocks)
    stream = sum(map(len, posts)) + len(posts) + 1  # every post after an EOS, one closing EOS
    assert stream % 8 == 1  # so each epoch's last block would be a lone token, with nothing to predict
    assert sum(map(len, blocks)) == 4 * (stream - 1)


def test_recipes():
    baseline = RECIPES["huggingtweets"]
    assert (
        baseline.packing,
        baseline.epochs,
        baseline.batch_size,
        baseline.learning_rate,
        baseline.lr_scheduler,
        baseline.warmup_ratio,
        baseline.max_length,
    ) == (True, 4, 1, 1.372e-4, "cosine", 0.0, 1024)
    assert baseline.freeze_fraction == 0 and RECIPES["thorough"].freeze_fraction == 0
    assert RECIPES["default"].freeze_fraction > 0 and not RECIPES["default"].packing
    with pytest.raises(TweetlingError, match="freeze_fraction"):
        recipe("default", freeze_fraction=1.0)
    assert recipe("huggingtweets", method="lora", epochs=None).epochs == 4
    with pytest.raises(TweetlingError, match="unknown recipe"):
        recipe("fastest")
    with pytest.raises(TweetlingError, match="unknown method"):
        recipe("default", method="qlora")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("learning_rate", math.nan, "the learning rate must be a positive number, not nan"),
        ("learning_rate", -1e-4, "the learning rate must be a positive number"),
        ("learning_rate", math.inf, "the learning rate must be a positive number"),
        ("max_time_s", -5.0, "the time limit must be a positive number of seconds"),
        ("max_time_s", math.inf, "the time limit must be a positive number of seconds"),
        ("warmup_ratio", 1.5, "warmup_ratio and weight_decay must be in"),
        ("lora_r", 0, "lora_r and lora_alpha must be at least 1"),
    ],
)
def test_settings_that_cannot_train_are_refused(field, value, message):
    with pytest.raises(TweetlingError, match=re.escape(message)):
        recipe("default", **{field: value})


def test_cli_refuses_a_learning_rate_that_is_not_a_number(tweetling_home):
    result = CliRunner().invoke(cli, ["train", "nobody", "--lr", "nan"])
    assert result.exit_code == 2 and "'--lr': 'nan' is not a finite number" in result.output


@pytest.mark.parametrize(
    ("posts", "batch_size", "epochs"),
    [(200, 16, 3), (500, 16, 2), (946, 16, 1), (2_615, 16, 1), (50_000, 16, 1), (500, 4, 1)],
    ids=lambda value: str(value),
)
def test_recipes_size_their_passes_to_the_posts(posts, batch_size, epochs):
    """Passes until min_steps steps (60), at most max_epochs (3); large accounts stay at one pass."""
    assert recipe("default", batch_size=batch_size).sized(posts).epochs == epochs
    assert recipe("thorough", batch_size=batch_size).sized(posts).epochs == epochs
    assert recipe("default", epochs=4).sized(posts).epochs == 4  # what the user asks for stands
    assert RECIPES["huggingtweets"].sized(posts) == RECIPES["huggingtweets"]


def test_a_large_account_trains_on_a_sample_within_the_step_budget():
    posts = [[5 + i % 7] * (3 + i % 20) for i in range(50_000)]
    config = recipe("default").sized(len(posts))
    batches, steps_per_epoch = training_batches(posts, config, eos_id=0, max_length=64)
    assert steps_per_epoch == 3_125 and len(batches) == config.max_steps == 400
    lengths = sorted(len(example) for batch in batches for example in batch)
    assert lengths[0] <= 6 and lengths[-1] >= 23  # a sample across the lengths, not the shortest posts
    assert len(training_batches(posts, replace(config, max_steps=None), 0, 64)[0]) == 3_125


def test_the_plan_says_what_training_does_and_timing_it_changes_nothing(tiny_model, dataset, tmp_path, tweetling_home):
    plans = []
    config = recipe("default", batch_size=4, learning_rate=1e-2, checkpoint_every=0)  # epochs sized: 3
    planned = fine_tune(
        dataset, config, str(tiny_model), tmp_path / "planned", track_backend="none", on_plan=plans.append
    )
    plain = fine_tune(dataset, config, str(tiny_model), tmp_path / "plain", track_backend="none")

    [plan] = plans
    meta = read_meta_file(planned)
    assert (plan.posts, plan.epochs, plan.steps, plan.batch_size) == (24, 3, 18, 4)
    assert plan.steps == meta["steps"] and plan.tokens == meta["train_tokens"] and not plan.sampled
    assert meta["recipe"]["epochs"] == 3  # the bot records the sized recipe
    assert plan.tokens_per_s > 0 and plan.estimated_s > 0 and plan.device == "cpu"
    assert plan.bf16 == computes_bf16("cpu")  # autocast where this CPU computes bfloat16 natively
    assert "24 posts, 3 epochs: 18 steps of 4" in plan.describe() and "an estimate" in plan.describe()
    a, b = weights(planned), weights(plain)
    assert all((a[key] == b[key]).all() for key in a)
    assert meta["valid_history"] == read_meta_file(plain)["valid_history"]


def test_near_duplicate_posts_are_trained_on_once(tmp_path):
    """A template an account posts again and again (in any case or punctuation) is learnt once,
    not copied; short posts never share 8 words, a repeat of a kept post stays (a blend's
    balance), and huggingtweets' recipe trains on every post."""
    petition = "Add your name to stand with the President on climate action today: "
    train = [
        petition + "go.ofa.us",
        "Coffee first, then the world.",
        petition.upper() + "join us!",
        "A walk by the river with the dog and a friend.",
        petition + "go.ofa.us",
    ]
    dataset = Dataset.load(write_dataset(tmp_path / "dataset", train=train))
    assert posts_to_train(dataset, recipe("default")) == [train[0], train[1], train[3], train[4]]
    assert posts_to_train(dataset, recipe("thorough")) == posts_to_train(dataset, recipe("default"))
    assert posts_to_train(dataset, recipe("huggingtweets")) == train
    assert posts_to_train(dataset, recipe("default", near_duplicate_words=13)) == train  # the petition has 12 words
    with pytest.raises(TweetlingError, match="near_duplicate_words must be at least 2"):
        recipe("default", near_duplicate_words=1)


def test_recipes_describe_a_training_without_importing_torch():
    code = (
        "import sys; from tweetling.recipes import RECIPES, recipe; recipe('thorough', epochs=2); "
        "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_trains_a_blend_of_stored_accounts(tiny_model, tweetling_home):
    from tweetling.posts import Post
    from tweetling.store import Store

    with Store() as store:
        store.upsert_posts(
            Post("file", f"{account}{i}", account, f"{text} number {i}", "original", None, None, None)
            for account in ("ann", "bob")
            for i, text in enumerate(TEXTS * 6)
        )
    stopped = tweetling_home / "bots" / "ann-bob.checkpoint.pt"  # an earlier training's, stopped
    stopped.parent.mkdir(parents=True)
    stopped.write_bytes(b"state")
    result = CliRunner().invoke(
        cli, ["train", "ann", "bob", "--base", str(tiny_model), "--epochs", "1", "--batch-size", "8", "--track", "none"]
    )
    assert result.exit_code == 0, result.output
    said = "".join(result.output.split())  # rich wraps the long path anywhere
    assert "ann-bob.checkpoint.ptholdsastoppedtraining(--resumecontinuesit):thisonestartsover" in said
    folder = tweetling_home / "bots" / "ann-bob"
    meta = read_meta_file(folder)
    assert meta["accounts"] == ["ann", "bob"] and f"test perplexity {meta['test_perplexity']:.2f}" in result.output
    plan = " ".join(result.output.split("plan: ")[1].split())  # unwrapped
    # Each account's six copies of a post differ in their number only: the near-duplicates are left out.
    trained, left_out = meta["dataset"]["train_count"] - meta["near_duplicates"], meta["near_duplicates"]
    assert left_out > 0
    assert plan.startswith(
        f"{trained:,} posts ({left_out:,} near-duplicates left out), 1 epoch: {meta['steps']} steps of 8"
    )
    assert "min on this machine (an estimate from timed steps" in plan
    # The bot leaves training with its model card and, unless every sample came out empty, the image.
    card = (folder / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["pipeline_tag"] == "text-generation" and "@ann and @bob" in card
    assert f"{meta['dataset']['test_count']:,} test posts (the reported perplexity)" in card
    assert f"({left_out:,} of them left out of training as near-duplicates of others)" in card
    if (folder / "predictions.png").exists():
        assert Image.open(folder / "predictions.png").size[0] > 100
    else:
        assert "no predictions image" in result.output

    result = CliRunner().invoke(cli, ["train", "ann", "bob", "cat", "dan", "--base", str(tiny_model)])
    assert result.exit_code == 1 and "1 to 3 accounts" in result.output


def without_dropout(model: Path, folder: Path) -> Path:
    """A copy of MODEL with dropout off, so that how a batch is split cannot change the result."""
    shutil.copytree(model, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update({key: 0.0 for key in config if key.endswith("pdrop") or key.endswith("dropout")})
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_two_launched_processes_train_the_same_bot_as_one(tiny_model, tmp_path, tweetling_home):
    """`accelerate launch` (torchrun underneath), two CPU processes: each takes its share of
    every batch, one of them even an empty share, and the bot is the one a lone process trains."""
    base = str(without_dropout(tiny_model, tmp_path / "base"))
    dataset = write_dataset(tmp_path / "dataset")
    args = [
        "train",
        str(dataset),
        "--base",
        base,
        "--recipe",
        "huggingtweets",
        "--batch-size",
        "5",
        "--epochs",
        "2",
        "--track",
        "none",
    ]
    alone = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "alone")])
    assert alone.exit_code == 0, alone.output

    launched = subprocess.run(
        [
            str(Path(sys.executable).with_name("accelerate")),
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--main_process_port",
            "0",
            "-m",
            "tweetling",
            *args,
            "--out",
            str(tmp_path / "launched"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HOME": str(tmp_path / "hf")},
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert launched.stdout.count("bot jack →") == 1  # the main process speaks for both

    one, two = read_meta_file(tmp_path / "alone"), read_meta_file(tmp_path / "launched")
    assert (one["processes"], two["processes"]) == (1, 2) and one["steps"] == two["steps"] == 4
    assert two["train_tokens"] == one["train_tokens"]
    assert two["valid_loss"] == pytest.approx(one["valid_loss"], rel=1e-6)
    expected, got = weights(tmp_path / "alone"), weights(tmp_path / "launched")
    assert all((expected[name] - got[name]).abs().max() < 1e-5 for name in expected)
    assert (tmp_path / "launched" / "README.md").exists() and not checkpoint_path(tmp_path / "launched").exists()


@pytest.mark.slow
def test_real_smollm2_base_trains_a_few_steps(tweetling_home, tmp_path):
    import time

    from transformers import pipeline

    from tweetling.models import load_base

    dataset = Dataset.load(write_dataset(tmp_path / "dataset", train=TEXTS[:16], valid=TEXTS[:4]))
    out = fine_tune(dataset, recipe("default", batch_size=8, epochs=1), "smollm2-135m", track_backend="none")

    assert (tweetling_home / "models" / "smollm2-135m" / "model.safetensors").exists()
    started = time.perf_counter()
    load_base("smollm2-135m")
    assert time.perf_counter() - started < 5  # cached safetensors, no second dequantization
    meta = read_meta_file(out)
    assert meta["steps"] == 2 and meta["eos_token"] == "<|endoftext|>" and meta["valid_perplexity"] < 100
    text = pipeline("text-generation", model=str(out))("My dream is", max_new_tokens=5)[0]["generated_text"]
    assert text.startswith("My dream is")


@pytest.fixture
def ann_posts(tweetling_home):
    from tweetling.posts import Post
    from tweetling.store import Store

    with Store() as store:
        store.upsert_posts(
            Post("file", f"ann{i}", "ann", f"{text} number {i}", "original", None, None, None)
            for i, text in enumerate(TEXTS * 6)
        )


@pytest.mark.parametrize("out", ["precious", "a-file", "", "."])
def test_train_refuses_an_out_folder_it_would_delete_others_files_with(
    ann_posts, tiny_model, tmp_path, monkeypatch, out
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("years of work")
    (tmp_path / "a-file").write_text("a note")
    result = CliRunner().invoke(cli, ["train", "ann", "--base", str(tiny_model), "--out", out, "--track", "none"])
    said = " ".join(result.output.split())
    assert result.exit_code == (2 if out == "a-file" else 1), said  # click itself refuses a file
    assert (
        "holds files tweetling did not write (it has no tweetling.json)" in said
        or "'a-file' is a file" in said
        or "is the current folder or holds it" in said
    )
    assert (tmp_path / "precious" / "thesis.tex").read_text() == "years of work"
    assert (tmp_path / "a-file").read_text() == "a note"


def test_train_writes_into_an_empty_folder_and_replaces_a_bot(ann_posts, tiny_model, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    args = ["train", "ann", "--base", str(tiny_model), "--epochs", "1", "--out", str(out), "--track", "none"]
    for _ in range(2):  # into the empty folder, then over the bot it wrote
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert read_meta_file(out)["name"] == "ann"
