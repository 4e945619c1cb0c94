"""Step 2, search: an Optuna sweep of learning rate, epochs, schedule, warm-up, batch size and
method (`tweetling sweep`) as the training runner's background job. The page shows the current
trial's steps and the trials so far; the best bot is kept as <dataset>-sweep, and searching the
same dataset and base model again continues the study."""

from __future__ import annotations

from collections.abc import Callable

from ..dataset import Dataset
from ..errors import TweetlingError
from ..pipeline import finish_bot
from ..recipes import TrainingInterrupted, TrainProgress
from ..sweep import SweepConfig, SweepSpace, TrialSummary, sweep
from . import render
from .feedback import page_words
from .fields import number, text, whole_number
from .jobs import Cancelled, JobControl
from .training import MAX_MINUTES, RUNNER, find_dataset, progress_fields

MAX_TRIALS = 50
METHOD_CHOICES = [("Both", "both"), ("Full only", "full"), ("LoRA only", "lora")]


def sweep_config(base_model: str, trials: float | None, method: str, trial_minutes: float | None) -> SweepConfig:
    """The sweep the page's fields ask for; an error naming the field that is wrong."""
    base = text(base_model)
    if not base:
        raise TweetlingError("enter a “Base model”")
    minutes = number(trial_minutes, "Minutes per trial", 0, MAX_MINUTES, hint=" (0: no limit)", empty=0)
    return SweepConfig(
        trials=whole_number(trials, "Trials", 1, MAX_TRIALS),
        base=base,
        space=SweepSpace() if method in ("both", "", None) else SweepSpace(methods=(method,)),
        max_time_s=minutes * 60 or None,
    )


def start_sweep(
    dataset_path: str | None,
    base_model: str,
    trials: float | None,
    method: str,
    trial_minutes: float | None,
    track_backend: str | None = None,
) -> str:
    """Start the search on the chosen dataset in the background; the training panel as it starts."""
    record = find_dataset(dataset_path)
    if record is None:
        raise TweetlingError("choose a dataset first (get data in step 1)")
    if not record.valid_count:
        raise TweetlingError(f"dataset {record.name} has no validation posts to score trials on")
    config = sweep_config(base_model, trials, method, trial_minutes)
    name = f"{record.name}-sweep"
    job = sweep_job(str(record.path), config, track_backend)
    status = RUNNER.start(name, job, {"phase": "loading", "trials_planned": config.trials, "trial": 1})
    return render.training_status(status)


def sweep_job(dataset_path: str, config: SweepConfig, track_backend: str | None) -> Callable[[JobControl], str]:
    """The job: each trial's steps (its own loss chart), each finished trial, then the best bot's
    card and image. A cancel stops the trial in progress; the best bot so far stays."""

    def work(control: JobControl) -> str:
        finished: list[TrialSummary] = []
        points: list[tuple[int, float, str]] = []

        def on_progress(update: TrainProgress) -> None:
            if update.event == "start":
                points.clear()
            control.report(**progress_fields(update, points), trial=len(finished) + 1)

        def on_trial(summary: TrialSummary) -> None:
            finished.append(summary)
            control.report(trials=tuple(finished), phase="loading")

        try:
            result = sweep(
                Dataset.load(dataset_path),
                config,
                track_backend=track_backend,
                on_trial=on_trial,
                on_progress=on_progress,
            )
        except (TrainingInterrupted, Cancelled):
            if not control.cancel_requested.is_set():
                raise
            done = sum(trial.value is not None for trial in finished)
            kept = "the best bot so far is kept" if done else "no trial had finished, so no bot was kept"
            raise Cancelled(f"stopped during trial {len(finished) + 1}; {kept}") from None
        except TweetlingError as error:
            raise TweetlingError(page_words(str(error))) from None
        control.report(phase="finishing", best=best_line(result.best_trial, result.best_value, result.best_perplexity))
        finish_bot(result.bot)
        return str(result.bot)

    return work


def best_line(trial: int, loss: float, perplexity: float | None) -> str:
    ppl = "" if perplexity is None else f", perplexity {perplexity:.2f}"
    return f"best: trial {trial}, validation loss {loss:.4f}{ppl}"
