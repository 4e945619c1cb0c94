"""Hyperparameter search with Optuna: huggingtweets' sweep space (learning rate, epochs, scheduler,
warm-up, gradient accumulation) plus full fine-tuning vs LoRA and its rank, minimizing validation
loss. Studies live in TWEETLING_HOME/sweeps.db, so running the same sweep again continues it;
the best bot so far is kept in the bot folder."""

from __future__ import annotations

import hashlib
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import bots, paths
from .dataset import Dataset
from .errors import TweetlingError
from .models import DEFAULT_BASE
from .recipes import METHODS, ProgressCallback, TrainConfig, TrainingInterrupted, recipe


@dataclass(frozen=True)
class SweepSpace:
    """The ranges searched. Gradient accumulation multiplies the batch size: on one device with
    memory to spare it is the same update as accumulating that many batches."""

    learning_rate: tuple[float, float] = (1e-5, 2e-3)  # log scale
    epochs: tuple[int, int] = (1, 4)
    schedulers: tuple[str, ...] = ("linear", "cosine", "constant")
    warmup_ratio: tuple[float, float] = (0.0, 0.2)
    gradient_accumulation: tuple[int, ...] = (1, 2, 4)
    methods: tuple[str, ...] = METHODS
    lora_ranks: tuple[int, ...] = (4, 8, 16, 32, 64)  # lora_alpha is twice the rank


@dataclass(frozen=True)
class SweepConfig:
    """A sweep: TRIALS more trials (and at most TIMEOUT_S seconds) on top of what the study has."""

    trials: int = 20
    timeout_s: float | None = None
    base: str = DEFAULT_BASE
    recipe: str = "default"  # the settings the space leaves alone, and the first trial of a new study
    space: SweepSpace = field(default_factory=SweepSpace)
    max_time_s: float | None = None  # training time limit of each trial
    seed: int = 42
    startup_trials: int | None = None  # random trials before TPE models the space; None: startup_trials()

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise TweetlingError("a sweep needs at least one trial")
        if self.startup_trials is not None and self.startup_trials < 1:
            raise TweetlingError("a sweep needs at least one start-up trial")


def startup_trials(trials: int) -> int:
    """Random start-up trials for a study of TRIALS: about a third, from 2 up to Optuna's default
    of 10, so that a short sweep on a CPU budget is mostly guided by TPE's model."""
    return max(2, min(10, round(trials / 3)))


@dataclass(frozen=True)
class TrialSummary:
    number: int
    state: str  # COMPLETE, FAIL, ...
    value: float | None  # validation loss
    params: dict
    best_value: float | None  # the study's best after this trial


@dataclass(frozen=True)
class SweepResult:
    study_name: str
    storage: str
    trials: int  # in the study, earlier runs included
    best_trial: int
    best_value: float
    best_params: dict
    best_perplexity: float | None
    bot: Path
    stopped: bool = False  # by Ctrl-C or SIGTERM, before its trials were all run


TrialCallback = Callable[[TrialSummary], None]


def storage_url() -> str:
    return f"sqlite:///{paths.home() / 'sweeps.db'}"


def study_name(dataset: Dataset, base: str, space: SweepSpace = SweepSpace()) -> str:
    """One study per dataset version, base model and searched space: Optuna cannot continue a
    study whose choices (say, of methods) changed, so another space starts a study of its own."""
    name = f"{dataset.name}-{dataset.manifest['hash'][:12]}-{base}"
    if space != SweepSpace():
        name += "-space-" + hashlib.sha256(repr(space).encode()).hexdigest()[:8]
    return name


def suggest(trial, space: SweepSpace) -> dict:
    """One point of SPACE, as named parameters (lora_r only for LoRA)."""
    params = {
        "learning_rate": trial.suggest_float("learning_rate", *space.learning_rate, log=True),
        "epochs": trial.suggest_int("epochs", *space.epochs),
        "lr_scheduler": trial.suggest_categorical("lr_scheduler", list(space.schedulers)),
        "warmup_ratio": trial.suggest_float("warmup_ratio", *space.warmup_ratio),
        "gradient_accumulation": trial.suggest_categorical("gradient_accumulation", list(space.gradient_accumulation)),
        "method": trial.suggest_categorical("method", list(space.methods)),
    }
    if params["method"] == "lora":
        params["lora_r"] = trial.suggest_categorical("lora_r", list(space.lora_ranks))
    return params


def train_config(params: dict, config: SweepConfig) -> TrainConfig:
    """The recipe with a trial's PARAMS; no periodic checkpoints (a trial is cheap to redo)."""
    start = recipe(config.recipe)
    lora_r = params.get("lora_r")
    return recipe(
        config.recipe,
        learning_rate=params["learning_rate"],
        epochs=params["epochs"],
        lr_scheduler=params["lr_scheduler"],
        warmup_ratio=params["warmup_ratio"],
        batch_size=start.batch_size * params["gradient_accumulation"],
        method=params["method"],
        lora_r=lora_r,
        lora_alpha=2 * lora_r if lora_r else None,
        max_time_s=config.max_time_s,
        checkpoint_every=0,
        seed=config.seed,
    )


def recipe_params(config: SweepConfig, train_posts: int) -> dict:
    """The sweep parameters of CONFIG's recipe sized to TRAIN_POSTS posts, each moved into the
    space where the recipe lies outside it (Optuna refuses a first point it cannot suggest, e.g.
    the default's full fine-tune in a LoRA-only search): the first trial of a new study."""
    start = recipe(config.recipe).sized(train_posts)
    space = config.space
    params = {
        "learning_rate": _within(start.learning_rate, space.learning_rate),
        "epochs": _within(start.sized_epochs, space.epochs),
        "lr_scheduler": _one_of(start.lr_scheduler, space.schedulers),
        "warmup_ratio": _within(start.warmup_ratio, space.warmup_ratio),
        "gradient_accumulation": _one_of(1, space.gradient_accumulation),
        "method": _one_of(start.method, space.methods),
    }
    if params["method"] == "lora":
        params["lora_r"] = min(space.lora_ranks, key=lambda rank: abs(rank - start.lora_r))
    return params


def _within(value, bounds: tuple):
    low, high = bounds
    return min(max(value, low), high)


def _one_of(value, choices: tuple):
    return value if value in choices else choices[0]


def sweep(
    dataset: Dataset,
    config: SweepConfig = SweepConfig(),
    out: Path | None = None,
    *,
    track_backend: str | None = None,
    on_trial: TrialCallback | None = None,
    on_progress: ProgressCallback | None = None,
) -> SweepResult:
    """Run CONFIG.trials more trials of the study for DATASET and CONFIG.base; the best bot of
    the study is kept at OUT (default: bots/<dataset name>-sweep, beside what `train` makes).
    ON_TRIAL hears each trial as it ends, ON_PROGRESS each trial's training steps."""
    import optuna
    from optuna.exceptions import ExperimentalWarning

    from .train import StopOnSignal, fine_tune

    if not dataset.valid:
        raise TweetlingError(f"dataset {dataset.name!r} has no held-out posts to score trials on")
    out = bots.out_folder(out, f"{dataset.name}-sweep")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=ExperimentalWarning)
    paths.home().mkdir(parents=True, exist_ok=True)
    name = study_name(dataset, config.base, config.space)
    study = optuna.create_study(study_name=name, storage=storage_url(), direction="minimize", load_if_exists=True)
    startup = config.startup_trials or startup_trials(len(study.trials) + config.trials)
    # A fresh seed per run, or a resumed study would sample its first points again.
    study.sampler = optuna.samplers.TPESampler(
        seed=config.seed + len(study.trials), multivariate=True, group=True, n_startup_trials=startup
    )
    if not study.trials:
        study.enqueue_trial(recipe_params(config, len(dataset.train)))

    # The first Ctrl-C or SIGTERM stops the training of the trial under way (or the next one
    # before it starts) and the sweep with it; a second one stops at once.
    stop = StopOnSignal()

    def objective(trial) -> float:
        params = suggest(trial, config.space)
        trial_dir = out.with_name(f".{out.name}.trial-{trial.number}")
        try:
            try:
                folder = fine_tune(
                    dataset,
                    train_config(params, config),
                    config.base,
                    trial_dir,
                    track_backend=track_backend,
                    on_progress=on_progress,
                )
            except TrainingInterrupted:
                if not stop.requested:  # the caller's own stop (the web app's Cancel): theirs to report
                    raise
                # The sweep stops after this trial; a trial is not resumed, so its checkpoint goes.
                raise optuna.TrialPruned("stopped by Ctrl-C or SIGTERM") from None
            meta = bots.read_metadata(folder)
            value = meta.valid_loss
            assert value is not None  # the dataset has held-out posts (checked above): every trial measures it
            trial.set_user_attr("valid_perplexity", meta.valid_perplexity)
            trial.set_user_attr("tokens_per_s", meta.tokens_per_s)
            trial.set_user_attr("wall_time_s", meta.wall_time_s)
            best = _best_value(study)
            if best is None or value < best:
                study_record = {"study": name, "storage": storage_url(), "trial": trial.number, "params": params}
                bots.write_metadata(folder, replace(meta, sweep=study_record))
                paths.replace_folder(folder, out)
            return value
        finally:
            shutil.rmtree(trial_dir, ignore_errors=True)
            (trial_dir.with_name(f"{trial_dir.name}.checkpoint.pt")).unlink(missing_ok=True)

    def report(study, trial) -> None:
        if on_trial:
            on_trial(TrialSummary(trial.number, trial.state.name, trial.value, trial.params, _best_value(study)))
        if stop.requested:
            study.stop()

    with stop:
        study.optimize(objective, n_trials=config.trials, timeout=config.timeout_s, callbacks=[report])
    if _best_value(study) is None:
        raise TweetlingError("the sweep stopped before any trial finished: no bot was kept")
    best = study.best_trial
    assert best.value is not None  # the best trial is a completed one, with its validation loss
    return SweepResult(
        study_name=name,
        storage=storage_url(),
        trials=len(study.trials),
        best_trial=best.number,
        best_value=best.value,
        best_params=best.params,
        best_perplexity=best.user_attrs.get("valid_perplexity"),
        bot=out,
        stopped=stop.requested,
    )


def _best_value(study) -> float | None:
    """The study's best validation loss so far, or None before any trial completed."""
    try:
        return study.best_value
    except ValueError:
        return None


def delete_studies(dataset_hashes: set[str]) -> int:
    """Delete the studies of the datasets DATASET_HASHES (named after each dataset version, see
    `study_name`), as `tweetling forget` does; return how many went."""
    if not (paths.home() / "sweeps.db").exists():
        return 0
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    prefixes = {f"-{digest[:12]}-" for digest in dataset_hashes}
    doomed = [name for name in optuna.get_all_study_names(storage_url()) if any(p in name for p in prefixes)]
    for name in doomed:
        optuna.delete_study(study_name=name, storage=storage_url())
    return len(doomed)
