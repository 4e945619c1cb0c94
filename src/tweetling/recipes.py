"""How a bot is trained, without training it: the typed config, the named recipes, the progress
the loop reports and how an interrupted training ends. Importing this module never imports torch,
so the CLI, the web app and the sweep describe trainings cheaply; `train` runs them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import TweetlingError

METHODS = ("full", "lora")  # fine-tune every (unfrozen) weight, or LoRA adapters merged when saved

# Learning-rate factor after warm-up, by training progress in [0, 1].
SCHEDULES: dict[str, Callable[[float], float]] = {
    "cosine": lambda progress: 0.5 * (1 + math.cos(math.pi * progress)),
    "linear": lambda progress: 1 - progress,
    "constant": lambda progress: 1.0,
}


def check_seed(seed: int | None) -> None:
    """Refuse a seed torch cannot take (it would fail deep inside, with an overflow)."""
    if seed is not None and not 0 <= seed < 2**63:
        raise TweetlingError(f"the seed must be a whole number from 0 to {2**63 - 1}, not {str(seed)[:30]}")


@dataclass(frozen=True)
class TrainConfig:
    """How a bot is trained. The field defaults are the "default" recipe, chosen by measurement
    (bench/README.md): one post per example, batches of similar length, a short warm-up, the
    embeddings and the lowest third of the blocks fixed (backpropagation stops above them), then a
    constant rate."""

    recipe: str = "default"
    method: str = "full"  # "full" fine-tune, or "lora" adapters merged into the saved model
    packing: bool = (
        False  # False: each post is one example (EOS + post + EOS); True: posts joined by EOS, cut into blocks
    )
    epochs: int | None = None  # passes over the training posts; None: sized to their number (`sized`)
    # Sizing (epochs None): an account too small for MIN_STEPS steps in one pass gets more passes,
    # up to MAX_EPOCHS, early stopping keeping the best; MAX_STEPS bounds the steps of any account,
    # so a large one trains on a sample of its posts (the schedule ends at the last step).
    min_steps: int = 60
    max_epochs: int = 3
    max_steps: int | None = 400
    batch_size: int = 16
    # A training post that shares this many words in a row with a post kept before it is left out
    # (None: train on every post). An account's templates (petitions, calls to action) are then
    # learnt once rather than copied: measured, fewer sampled posts copy a training post and
    # held-out perplexity does not suffer (bench/README.md).
    near_duplicate_words: int | None = 8
    learning_rate: float = 4e-4
    # After warm-up. Constant, measured: in one pass a cosine decays too early (bench/README.md).
    lr_scheduler: str = "constant"  # "constant", "cosine" or "linear"
    warmup_ratio: float = 0.05  # share of the steps with a linearly rising learning rate
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = 1024  # tokens of one example or block; longer posts are cut (capped by the model's context)
    bf16: bool = True  # bf16 autocast where the device computes bf16 natively; weights and optimizer state stay float32
    freeze_embeddings: bool = False  # keep the token (and position) embeddings fixed; tied ones fix the LM head too
    freeze_fraction: float = 1 / 3  # share of the lowest blocks kept fixed, with the embeddings
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    eval_every: int = 0  # steps between validation passes, besides one after each epoch; 0: epochs only
    early_stopping: bool = True  # stop once validation loss rises and keep the best weights
    max_time_s: float | None = None  # stop training after this many seconds
    checkpoint_every: int = 100  # steps
    seed: int = 42
    threads: int | None = None  # torch CPU threads; None leaves torch's choice

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise TweetlingError(f"unknown method {self.method!r}; use {' or '.join(METHODS)}")
        if self.lr_scheduler not in SCHEDULES:
            raise TweetlingError(f"unknown lr_scheduler {self.lr_scheduler!r}; use one of {', '.join(SCHEDULES)}")
        if (self.epochs is not None and self.epochs < 1) or self.batch_size < 1 or self.max_length < 4:
            raise TweetlingError("epochs and batch_size must be at least 1, max_length at least 4")
        if self.min_steps < 1 or self.max_epochs < 1 or (self.max_steps is not None and self.max_steps < 1):
            raise TweetlingError("min_steps, max_epochs and max_steps must be at least 1")
        if self.near_duplicate_words is not None and self.near_duplicate_words < 2:
            raise TweetlingError(f"near_duplicate_words must be at least 2, not {self.near_duplicate_words}")
        if not 0 <= self.freeze_fraction < 1:
            raise TweetlingError(f"freeze_fraction must be in [0, 1), not {self.freeze_fraction}")
        if not 0 < self.learning_rate < math.inf:  # also refuses NaN, which trains a bot of noise
            raise TweetlingError(f"the learning rate must be a positive number, not {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1 or not 0 <= self.weight_decay < 1 or not self.max_grad_norm > 0:
            raise TweetlingError("warmup_ratio and weight_decay must be in [0, 1), max_grad_norm above 0")
        if self.max_time_s is not None and not 0 < self.max_time_s < math.inf:
            raise TweetlingError(f"the time limit must be a positive number of seconds, not {self.max_time_s}")
        check_seed(self.seed)
        if self.lora_r < 1 or self.lora_alpha < 1 or not 0 <= self.lora_dropout < 1:
            raise TweetlingError("lora_r and lora_alpha must be at least 1, lora_dropout in [0, 1)")

    @property
    def sized_epochs(self) -> int:
        """The epochs of a config that `sized` has decided (training only ever sees those)."""
        if self.epochs is None:
            raise TweetlingError("the recipe's epochs are decided for the data (TrainConfig.sized) before training")
        return self.epochs

    def sized(self, train_posts: int) -> TrainConfig:
        """This config with its epochs decided for TRAIN_POSTS training posts (unchanged when they
        are set): as many passes as it takes to reach min_steps steps, from 1 to max_epochs."""
        if self.epochs is not None:
            return self
        steps_per_epoch = max(1, math.ceil(train_posts / self.batch_size))
        return replace(self, epochs=min(self.max_epochs, max(1, math.ceil(self.min_steps / steps_per_epoch))))


RECIPES: dict[str, TrainConfig] = {
    "default": TrainConfig(),
    # Every weight trained: the lowest held-out perplexity in one epoch, about 1.6x the default's time.
    "thorough": TrainConfig(recipe="thorough", learning_rate=2e-4, freeze_fraction=0.0),
    # huggingtweets' run: 4 shuffled epochs joined by EOS in blocks of up to 1024 tokens, batch 1,
    # lr 1.372e-4 with a cosine schedule and no warm-up, float32 — the baseline to beat.
    "huggingtweets": TrainConfig(
        recipe="huggingtweets",
        packing=True,
        epochs=4,
        max_steps=None,
        batch_size=1,
        near_duplicate_words=None,
        learning_rate=1.372e-4,
        lr_scheduler="cosine",
        warmup_ratio=0.0,
        bf16=False,
        early_stopping=False,
        freeze_fraction=0.0,
    ),
}


def recipe(name: str, **overrides) -> TrainConfig:
    """The named recipe with OVERRIDES (None values are ignored) applied."""
    if name not in RECIPES:
        raise TweetlingError(f"unknown recipe {name!r}; use one of {', '.join(RECIPES)}")
    return _overridden(RECIPES[name], overrides)


def _overridden(config: TrainConfig, overrides: dict) -> TrainConfig:
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class ContinueConfig:
    """How `train --continue` updates a bot with the posts new since its dataset: from the bot's
    weights, with its own recipe but a lower rate, on the new posts plus a replayed sample of the
    older ones (measured in bench/README.md, "Continuing a bot")."""

    replay_fraction: float = 0.5  # share of the posts trained on that are older ones: the bot keeps its voice
    learning_rate_factor: float = 0.5  # times the bot's own rate: its weights are tuned already

    def __post_init__(self) -> None:
        if not 0 <= self.replay_fraction < 1:
            raise TweetlingError(f"replay_fraction must be in [0, 1), not {self.replay_fraction}")
        if self.learning_rate_factor <= 0:
            raise TweetlingError(f"learning_rate_factor must be positive, not {self.learning_rate_factor}")


def continue_recipe(trained: dict, config: ContinueConfig = ContinueConfig(), **overrides) -> TrainConfig:
    """The recipe a bot was TRAINED with (its tweetling.json `recipe`; the default for a bot that
    does not say), its learning rate times CONFIG's factor, then OVERRIDES (None values ignored)."""
    names = {f.name for f in fields(TrainConfig)}
    known = {key: value for key, value in trained.items() if key in names}
    base = replace(RECIPES["default"], **known) if known else RECIPES["default"]
    return _overridden(replace(base, learning_rate=base.learning_rate * config.learning_rate_factor), overrides)


@dataclass
class TrainProgress:
    """What the loop reports: once the model is ready ("start"), after each step ("step"),
    validation ("eval") and checkpoint."""

    event: str
    step: int
    total_steps: int
    epoch: int
    tokens: int
    tokens_per_s: float
    loss: float | None = None  # mean training loss per token of the step
    eta_s: float | None = None
    valid_loss: float | None = None


ProgressCallback = Callable[[TrainProgress], None]


class TrainingInterrupted(TweetlingError):
    """Training stopped by Ctrl-C; the message says where the checkpoint is and how to resume."""

    def __init__(self, step: int, total_steps: int, checkpoint: Path | None):
        self.step, self.total_steps, self.checkpoint = step, total_steps, checkpoint
        where = f"checkpoint saved to {checkpoint}" if checkpoint else "no new checkpoint written"
        super().__init__(
            f"interrupted at step {step}/{total_steps}; {where}; run the same command with --resume to continue"
        )
