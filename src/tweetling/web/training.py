"""Step 2, train: pick a prepared dataset, name the bot (asking before one is replaced), choose
recipe and method, then train in the background with live progress, a loss chart and cancel;
a training stopped with a checkpoint can be continued after a reload."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import bots, paths, track
from ..bots import DatasetRecord
from ..dataset import Dataset
from ..errors import TweetlingError
from ..export import DTYPES
from ..pipeline import (
    BotUpdate,
    Resumable,
    continue_bot,
    plan_continuation,
    prepared_datasets,
    resumable_trainings,
    train_bot,
)
from ..recipes import ContinueConfig, TrainConfig, TrainingInterrupted, TrainProgress, recipe
from ..train import TrainPlan
from . import render
from .feedback import page_words
from .fields import number, text, whole_number
from .jobs import Cancelled, JobControl, JobRunner, JobStatus

MAX_EPOCHS = 20
MAX_BATCH = 512
MAX_LORA_RANK = 256
MAX_MINUTES = 7 * 24 * 60  # a week: a time limit, of a training or of a sweep's trial
# One line each, shown on the page beside the choice (measured in bench/README.md).
RECIPE_CHOICES = [
    ("Default — one pass with the lowest third of the model kept fixed: the fastest", "default"),
    ("Thorough — the same pass training every weight: a closer fit in about 1.6× the time", "thorough"),
    ("huggingtweets — the original recipe, 4 passes in float32: the baseline, about 8× the time", "huggingtweets"),
]
METHOD_CHOICES = [
    ("Full — trains the model's own weights (those the recipe does not keep fixed)", "full"),
    ("LoRA — trains small adapters merged in when saved: less memory, a looser fit", "lora"),
]
RUNNER = JobRunner()  # one training at a time for the whole server


# --- datasets and names ---------------------------------------------------------------------------


def find_dataset(path: str | None) -> DatasetRecord | None:
    """The prepared dataset at PATH, among those under TWEETLING_HOME/datasets only."""
    return next((record for record in prepared_datasets() if record.path == path), None) if path else None


def dataset_choices() -> list[tuple[str, str]]:
    return [(render.dataset_label(record), str(record.path)) for record in prepared_datasets()]


def existing_bot(name: str) -> bool:
    try:
        return (bots.default_dir(name) / "config.json").exists()
    except TweetlingError:  # not a valid name: training says so
        return False


def name_warning(name: str) -> tuple[str, bool]:
    """A warning when NAME is an existing bot's (training would replace it), and whether to ask."""
    name = text(name)
    if not existing_bot(name):
        return "", False
    note = f"A bot named {name} already exists: training replaces it. Tick “Replace {name}” or choose another name."
    return render.message(note, "warning"), True


# --- the job --------------------------------------------------------------------------------------


# A training given where to record it, its progress callback and its plan's: the bot's folder.
Train = Callable[[str | None, Callable[[TrainProgress], None], Callable[[TrainPlan], None]], Path]


def start_job(name: str, train: Train, first_phase: str, track_backend: str | None, mlflow_ui: str) -> str:
    """Run TRAIN into the bot NAME in the background (`training_job`); the panel as it starts, saying FIRST_PHASE."""
    status = RUNNER.start(name, training_job(name, train, track_backend, mlflow_ui), {"phase": first_phase})
    return render.training_status(status)


def training_job(name: str, train: Train, track_backend: str | None, mlflow_ui: str) -> Callable[[JobControl], str]:
    """The job that runs TRAIN into the bot NAME. It reports the plan once known, each step's
    loss (the chart's points) and, with MLflow, the run's address; a report after a cancel
    raises Cancelled, which the trainer answers by saving a checkpoint and stopping."""

    def work(control: JobControl) -> str:
        points: list[tuple[int, float, str]] = []  # (step, loss, "training" or "validation")
        out = bots.default_dir(name)

        def on_progress(update: TrainProgress) -> None:
            fields = progress_fields(update, points)
            if update.event == "start":
                fields.update(run_url=run_url(out, track_backend, mlflow_ui))
            control.report(**fields)

        def on_plan(plan: TrainPlan) -> None:
            control.report(plan=plan, total=plan.steps)

        try:
            return str(train(track_backend, on_progress, on_plan))
        except TrainingInterrupted as stopped:
            if not control.cancel_requested.is_set():
                raise
            if stopped.checkpoint:
                where = "the checkpoint is kept: continue it below"
            elif stopped.step == 0:
                where = "it had not started training"
            else:
                where = "no checkpoint was written"
            raise Cancelled(f"stopped at step {stopped.step} of {stopped.total_steps}; {where}") from None
        except Cancelled as cancelled:  # before the trainer took over
            raise Cancelled(str(cancelled) or "stopped while loading; it had not started training") from None
        except TweetlingError as error:
            raise TweetlingError(page_words(str(error))) from None

    return work


def progress_fields(update: TrainProgress, points: list[tuple[int, float, str]]) -> dict:
    """What the panel shows of a trainer's report; a loss is added to POINTS, the chart's."""
    fields: dict = {"step": update.step, "total": update.total_steps, "tokens_per_s": update.tokens_per_s}
    if update.event == "start":
        fields.update(phase="training")
    elif update.event == "step" and update.loss is not None:
        points.append((update.step, update.loss, "training"))
        fields.update(loss=update.loss, eta_s=update.eta_s, points=tuple(points))
        if update.step == update.total_steps:
            fields.update(phase="finishing")
    elif update.event == "eval" and update.valid_loss is not None:
        points.append((update.step, update.valid_loss, "validation"))
        fields.update(valid_loss=update.valid_loss, points=tuple(points))
    return fields


def training_work(
    dataset_path: str, name: str, base_model: str, config: TrainConfig, resume: bool, dtype: str | None = None
) -> Train:
    """Training the bot NAME on the dataset at DATASET_PATH from BASE_MODEL (or RESUME its
    checkpoint), its weights saved in DTYPE (None: as `train_bot` chooses)."""

    def train(
        track_backend: str | None, on_progress: Callable[[TrainProgress], None], on_plan: Callable[[TrainPlan], None]
    ) -> Path:
        dataset = Dataset.load(dataset_path)
        out = bots.default_dir(name)
        return train_bot(
            dataset,
            config,
            base_model,
            out,
            resume=resume,
            track_backend=track_backend,
            on_progress=on_progress,
            on_plan=on_plan,
            dtype=dtype,
        )

    return train


def run_url(bot_path: Path, track_backend: str | None, mlflow_ui: str) -> str | None:
    """The MLflow UI's address of the training run writing BOT_PATH (None without MLflow)."""
    if track.backend_name(track_backend) != "mlflow":
        return None
    found = track.train_run(bot_path)
    return render.run_address(mlflow_ui, *found) if found else None


def check_epochs(epochs: float | None) -> int | None:
    return whole_number(epochs, "Epochs", 0, MAX_EPOCHS, hint=" (0: the recipe's)", empty=0) or None


@dataclass(frozen=True)
class MoreSettings:
    """Step 2's "More settings", as the page sends them: 0 (or empty) keeps the recipe's value."""

    learning_rate: float | None = 0
    batch_size: float | None = 0
    minutes: float | None = 0  # the time limit
    seed: float | None = None
    lora_r: float | None = 0
    dtype: str = "float32"  # the precision the weights are saved in

    def overrides(self) -> dict:
        """The recipe's fields these settings change (lora_alpha twice a chosen rank, as the sweep
        sets it); an error naming the field that is wrong."""
        rate = number(self.learning_rate, "Learning rate", 0, 1, hint=" (0: the recipe's)", empty=0)
        minutes = number(self.minutes, "Time limit", 0, MAX_MINUTES, hint=" minutes (0: none)", empty=0)
        rank = whole_number(self.lora_r, "LoRA rank", 0, MAX_LORA_RANK, empty=0)
        return {
            "learning_rate": rate or None,
            "batch_size": whole_number(self.batch_size, "Batch size", 0, MAX_BATCH, empty=0) or None,
            "max_time_s": minutes * 60 or None,
            "seed": None if self.seed is None else whole_number(self.seed, "Seed", 0, 2**31 - 1),
            "lora_r": rank or None,
            "lora_alpha": 2 * rank or None,
        }


def start_training(
    dataset_path: str | None,
    bot_name: str,
    base_model: str,
    method: str,
    recipe_name: str,
    epochs: float | None,
    replace: bool = False,
    track_backend: str | None = None,
    mlflow_ui: str = "http://127.0.0.1:5000",
    more: MoreSettings = MoreSettings(),
) -> str:
    """Step 2: start training in the background (the page polls its progress); returns the panel."""
    record = find_dataset(dataset_path)
    if record is None:
        raise TweetlingError("choose a dataset first (get data in step 1)")
    name = paths.checked_name(text(bot_name), "bot name")
    base_model = text(base_model)
    if not base_model:
        raise TweetlingError("enter a “Base model”")
    if more.dtype not in DTYPES:
        raise TweetlingError(f"“Saved precision” must be one of {', '.join(DTYPES)}")
    config = recipe(recipe_name, method=method, epochs=check_epochs(epochs), **more.overrides())
    if existing_bot(name) and not replace:
        raise TweetlingError(
            f"a bot named {name} already exists: tick “Replace {name}” to train over it, or choose another “Bot name”"
        )
    train = training_work(str(record.path), name, base_model, config, False, more.dtype)
    return start_job(name, train, "loading", track_backend, mlflow_ui)


def resumable_choices() -> list[tuple[str, str]]:
    """The stopped trainings to offer, as (label, bot name)."""
    return [(resumable_label(item), item.bot) for item in resumable_trainings()]


def resumable_label(item: Resumable) -> str:
    data = item.dataset.name if item.dataset else "its dataset is gone"
    return f"{item.bot} · stopped at step {item.step:,} · {item.config.recipe}, {item.config.method} · {data}"


def continue_training(
    bot: str | None, track_backend: str | None = None, mlflow_ui: str = "http://127.0.0.1:5000"
) -> str:
    """Continue the stopped training of BOT with the dataset, base model and settings it began with."""
    item = next((item for item in resumable_trainings() if item.bot == bot), None)
    if item is None:
        raise TweetlingError("choose a stopped training to continue")
    if Path(item.base) == bots.default_dir(item.bot):  # a stopped update of the bot with its new posts
        return start_job(item.bot, continuation_work(plan_update(item.bot), True), "updating", track_backend, mlflow_ui)
    if item.dataset is None:
        raise TweetlingError(f"the dataset of {item.bot}'s training is gone: start it again with “Train”")
    train = training_work(str(item.dataset.path), item.bot, item.base, item.config, True)
    return start_job(item.bot, train, "resuming", track_backend, mlflow_ui)


def continuation_work(update: BotUpdate, resume: bool) -> Train:
    """Updating a bot with its new posts (`pipeline.continue_bot`, as `train --continue`)."""

    def train(
        track_backend: str | None, on_progress: Callable[[TrainProgress], None], on_plan: Callable[[TrainPlan], None]
    ) -> Path:
        return continue_bot(
            update, resume=resume, track_backend=track_backend, on_progress=on_progress, on_plan=on_plan
        )

    return train


def plan_update(name: str) -> BotUpdate:
    """How the bot NAME is updated with the posts stored since it was trained, with the CLI's
    default share of older posts replayed."""
    if not name:
        raise TweetlingError("choose the bot to continue in “Bot to continue”")
    if not existing_bot(name):
        raise TweetlingError(f"no bot named {name!r}; train one with “Train”")
    folder = bots.default_dir(name)
    return plan_continuation(bots.read_metadata(folder).accounts, ContinueConfig(), folder)


def continue_on_new_posts(
    bot: str | None, track_backend: str | None = None, mlflow_ui: str = "http://127.0.0.1:5000"
) -> tuple[str, str]:
    """Step 2: update the existing bot BOT with the posts fetched or imported since it was
    trained, plus older ones replayed, in the background; the panel and what it trains on."""
    update = plan_update(text(bot))
    panel = start_job(update.folder.name, continuation_work(update, False), "updating", track_backend, mlflow_ui)
    note = (
        f"Continuing {update.folder.name} on {update.new_posts:,} new posts and "
        f"{update.replayed_posts:,} older ones replayed."
    )
    return panel, render.message(note, "ok")


def cancel_training() -> str:
    if not RUNNER.cancel():
        raise TweetlingError("no training is running")
    return render.training_status(RUNNER.status())


def loss_chart(status: JobStatus | None) -> str:
    """The chart of the job's losses so far."""
    if status is None:
        return ""
    return render.loss_chart(status.progress.get("points", ()), status.progress.get("total"))
