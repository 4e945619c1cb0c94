"""Hyperparameter sweeps: Optuna trials on the tiny model, the kept best bot, resume, the CLI."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import optuna
import pytest
from click.testing import CliRunner

from test_train import write_dataset
from tiny_bot import read_meta_file
from tweetling.cli import cli
from tweetling.dataset import Dataset
from tweetling.errors import TweetlingError
from tweetling.recipes import RECIPES
from tweetling.sweep import (
    SweepConfig,
    SweepSpace,
    recipe_params,
    startup_trials,
    storage_url,
    study_name,
    sweep,
    train_config,
)

# Short trials: at most 2 epochs of the 24 tiny posts.
SPACE = SweepSpace(learning_rate=(1e-4, 3e-2), epochs=(1, 2), lora_ranks=(2, 4))


def config(tiny_model, trials: int) -> SweepConfig:
    return SweepConfig(trials=trials, base=str(tiny_model), space=SPACE, recipe="default")


@pytest.fixture
def dataset(tmp_path, tweetling_home) -> Dataset:
    return Dataset.load(write_dataset(tmp_path / "dataset"))


def test_trial_params_become_a_train_config():
    params = {
        "learning_rate": 3e-4,
        "epochs": 3,
        "lr_scheduler": "linear",
        "warmup_ratio": 0.1,
        "gradient_accumulation": 4,
        "method": "lora",
        "lora_r": 8,
    }
    trained = train_config(params, SweepConfig(max_time_s=60))
    assert (trained.learning_rate, trained.epochs, trained.lr_scheduler, trained.warmup_ratio) == (
        3e-4,
        3,
        "linear",
        0.1,
    )
    assert trained.batch_size == 4 * 16 and trained.method == "lora" and (trained.lora_r, trained.lora_alpha) == (8, 16)
    assert trained.max_time_s == 60 and trained.checkpoint_every == 0
    assert recipe_params(SweepConfig(), train_posts=2000) == {
        "learning_rate": RECIPES["default"].learning_rate,
        "epochs": 1,
        "lr_scheduler": "constant",
        "warmup_ratio": 0.05,
        "gradient_accumulation": 1,
        "method": "full",
    }
    # A search of LoRA only starts from the recipe trained with LoRA, at the space's nearest rank.
    lora_only = SweepConfig(space=SweepSpace(methods=("lora",), lora_ranks=(4, 8), learning_rate=(1e-5, 1e-4)))
    first = recipe_params(lora_only, train_posts=2000)
    assert (first["method"], first["lora_r"], first["learning_rate"]) == ("lora", 8, 1e-4)


def test_sweep_keeps_the_best_bot_and_resumes_the_study(tiny_model, dataset, tweetling_home):
    seen = []
    first = sweep(dataset, config(tiny_model, 2), track_backend="none", on_trial=seen.append)

    assert first.trials == 2 and [t.number for t in seen] == [0, 1]
    assert seen[0].params == recipe_params(config(tiny_model, 2), len(dataset.train))  # the recipe goes first
    assert all(t.state == "COMPLETE" and math.isfinite(t.value) for t in seen)
    assert first.best_value == min(t.value for t in seen)
    assert first.bot == tweetling_home / "bots" / "jack-sweep"
    meta = read_meta_file(first.bot)
    assert meta["valid_loss"] == pytest.approx(first.best_value)
    assert meta["sweep"]["trial"] == first.best_trial and meta["sweep"]["study"] == first.study_name
    assert meta["recipe"]["learning_rate"] == pytest.approx(first.best_params["learning_rate"])
    assert not [p for p in first.bot.parent.iterdir() if ".trial-" in p.name]  # trial folders are cleaned up

    second = sweep(dataset, config(tiny_model, 1), track_backend="none")

    study = optuna.load_study(study_name=study_name(dataset, str(tiny_model), SPACE), storage=storage_url())
    assert second.trials == len(study.trials) == 3 and second.study_name == first.study_name
    assert (tweetling_home / "sweeps.db").exists()
    assert second.best_value == min(t.value for t in study.trials) <= first.best_value
    assert read_meta_file(second.bot)["valid_loss"] == pytest.approx(second.best_value)


def test_a_sweep_of_other_methods_starts_its_own_study(tiny_model, dataset, tweetling_home):
    both = sweep(dataset, config(tiny_model, 1), track_backend="none")
    full_only = SweepConfig(trials=1, base=str(tiny_model), space=replace(SPACE, methods=("full",)), recipe="default")
    again = sweep(dataset, full_only, track_backend="none")  # Optuna refuses a changed choice in one study

    assert again.study_name != both.study_name and again.trials == 1
    assert all(f"-{dataset.manifest['hash'][:12]}-" in name for name in (both.study_name, again.study_name))


def test_sweep_cli_prints_the_best_config(tiny_model, dataset, tweetling_home):
    args = ["sweep", str(dataset.path), "--base", str(tiny_model), "--trials", "1", "--startup-trials", "1"]
    result = CliRunner().invoke(cli, [*args, "--method", "full", "--track", "none"])
    assert result.exit_code == 0, result.output
    assert "best trial 0" in result.output and "learning_rate" in result.output
    assert f"{RECIPES['default'].learning_rate:.4g}" in result.output  # the first trial is the default recipe
    assert re.search(r"trial .*(\d+)/\1 .*tok/s", result.stderr)  # each trial's steps, as a bar with an ETA
    assert (tweetling_home / "bots" / "jack-sweep" / "config.json").exists()


@pytest.mark.parametrize(("trials", "startup"), [(1, 2), (5, 2), (10, 3), (20, 7), (30, 10), (100, 10)])
def test_short_sweeps_start_with_few_random_trials(trials, startup):
    assert startup_trials(trials) == startup


def test_a_short_sweep_is_guided_by_tpe_after_its_startup_trials(tiny_model, dataset, monkeypatch):
    """With 4 trials, the default recipe and one random trial start the study; TPE picks the
    other two from its model of the first ones (Optuna's default would sample all 4 at random)."""
    samplers = []
    guided = []

    class Recording(optuna.samplers.TPESampler):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            samplers.append(kwargs)

        def sample_relative(self, study, trial, search_space):
            params = super().sample_relative(study, trial, search_space)
            if params:
                guided.append(trial.number)
            return params

    monkeypatch.setattr(optuna.samplers, "TPESampler", Recording)
    sweep(dataset, config(tiny_model, 4), track_backend="none")
    assert samplers[-1]["n_startup_trials"] == 2  # the one the sweep set (create_study makes a default first)
    assert guided == [2, 3]


@pytest.mark.parametrize("when", ["between trials", "during a trial"])
def test_sigterm_stops_the_sweep_keeping_the_best_bot(tiny_model, dataset, tweetling_home, when):
    import signal

    seen = []

    def on_trial(summary) -> None:
        seen.append(summary)
        if when == "between trials" and summary.number == 0:
            signal.raise_signal(signal.SIGTERM)

    def on_progress(progress) -> None:
        if when == "during a trial" and len(seen) == 1 and progress.step == 1:
            signal.raise_signal(signal.SIGTERM)

    result = sweep(dataset, config(tiny_model, 4), track_backend="none", on_trial=on_trial, on_progress=on_progress)

    assert result.stopped and result.best_trial == 0
    assert [t.state for t in seen] == (["COMPLETE"] if when == "between trials" else ["COMPLETE", "PRUNED"])
    assert read_meta_file(result.bot)["sweep"]["trial"] == 0
    assert not [p for p in result.bot.parent.iterdir() if ".trial-" in p.name]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_a_sweep_stopped_before_any_trial_finished_says_so(tiny_model, dataset, tweetling_home):
    import signal

    def on_progress(progress) -> None:
        signal.raise_signal(signal.SIGTERM)

    with pytest.raises(TweetlingError, match="stopped before any trial finished"):
        sweep(dataset, config(tiny_model, 3), track_backend="none", on_progress=on_progress)
