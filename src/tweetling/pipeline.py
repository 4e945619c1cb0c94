"""The user steps that compose several modules: preparing a dataset (store → clean → split →
tracking), training a bot (fine-tune → predictions image → model card) and continuing one on
the posts new since its dataset. The CLI and the web app call these for those steps; steps
that are one module's work (import, fetch, generate, eval, push, sweep) they call in that module."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from . import bots, distributed, paths, track
from .bots import DatasetRecord
from .card import write_card
from .dataset import (
    Dataset,
    PrepareConfig,
    blend_name,
    new_examples,
    prepare,
    prepare_continuation,
    replay_sample,
)
from .errors import TweetlingError
from .export import DTYPES, check_dtype, export_safetensors
from .generate import DEFAULT_PROMPT
from .models import DEFAULT_BASE
from .preview import emoji_note, write_preview
from .recipes import ContinueConfig, ProgressCallback, TrainConfig, continue_recipe
from .store import Store
from .train import TrainPlan, checkpoint_extra, checkpoint_path, checkpoint_summary, fine_tune


def prepare_dataset(
    accounts: list[str], config: PrepareConfig = PrepareConfig(), track_backend: str | None = None
) -> Dataset:
    """Clean ACCOUNTS' stored posts into a versioned dataset, recorded once per dataset version."""
    with Store() as store:
        dataset = prepare(store, accounts, config)
    if track.backend_name(track_backend) != "mlflow" or track.prepare_run_id(dataset.manifest) is None:
        track.record_prepare(dataset.manifest, track_backend)
    return dataset


def train_bot(
    dataset: Dataset,
    config: TrainConfig = TrainConfig(),
    base: str = DEFAULT_BASE,
    out: Path | None = None,
    *,
    resume: bool = False,
    track_backend: str | None = None,
    on_progress: ProgressCallback | None = None,
    on_warning: Callable[[str], None] | None = None,
    dtype: str | None = None,
    on_plan: Callable[[TrainPlan], None] | None = None,
) -> Path:
    """Train a bot on DATASET and give its folder the predictions image and model card (under a
    launcher, the main process does). DTYPE is the precision the weights are saved in: bfloat16
    or float16 halve the folder; None: float32, or when RESUMING what the stopped training was
    started with. ON_PLAN hears what training will do and how long it should take
    before it starts."""
    out = bots.out_folder(out, dataset.name)
    checkpoint = checkpoint_path(out)
    if dtype is None:
        dtype = checkpoint_extra(checkpoint).get("dtype", "float32") if resume and checkpoint.exists() else "float32"
    check_dtype(dtype)
    if checkpoint.exists() and not resume and on_warning:
        on_warning(
            f"{checkpoint} holds a stopped training (--resume continues it): this one starts over and replaces it"
        )
    folder = fine_tune(
        dataset,
        config,
        base,
        out,
        resume=resume,
        track_backend=track_backend,
        on_progress=on_progress,
        on_plan=on_plan,
        notes={"dtype": dtype},
    )
    return _finish_trained(folder, dtype, on_warning)


def _finish_trained(folder: Path, dtype: str, on_warning: Callable[[str], None] | None) -> Path:
    """Save a freshly trained bot's weights in DTYPE and add its image and card (the main process)."""
    if not distributed.world().is_main:
        return folder
    if dtype != "float32":
        export_safetensors(folder, folder, dtype)
    for warning in finish_bot(folder):
        if on_warning:
            on_warning(warning)
    return folder


@dataclass(frozen=True)
class BotUpdate:
    """A planned `train --continue`: the bot, the grown dataset (its `train` holds what will be
    trained: the new posts and the replayed older ones) and the recipe."""

    folder: Path
    previous: bots.BotMeta
    dataset: Dataset
    config: TrainConfig

    @property
    def new_posts(self) -> int:
        return len(new_examples(self.dataset))

    @property
    def replayed_posts(self) -> int:
        return len(self.dataset.train) - self.new_posts


def plan_continuation(
    accounts: list[str],
    config: ContinueConfig = ContinueConfig(),
    out: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> BotUpdate:
    """How the bot of ACCOUNTS (at OUT, default bots/<name>) is updated with the posts stored
    since its dataset was prepared: the grown dataset (prepared now; its held-out posts stay
    held out), the new posts plus a replayed sample of older ones, and the bot's own recipe with
    a lower rate and OVERRIDES (`recipes.continue_recipe`)."""
    folder = bots.out_folder(out, blend_name(accounts))
    previous = bot_to_continue(folder, accounts)
    dataset_folder = previous.dataset.folder()
    if dataset_folder is None:
        raise TweetlingError(
            f"bot {previous.name!r} cannot be continued: its dataset is no longer at {previous.dataset.path};"
            " train it again without --continue"
        )
    with distributed.world().main_first(), Store() as store:
        grown = prepare_continuation(store, Dataset.load(dataset_folder))
    train_config = continue_recipe(previous.recipe, config, **(overrides or {}))
    trained = replay_sample(grown, config.replay_fraction, train_config.seed)
    return BotUpdate(folder, previous, replace(grown, train=trained), train_config)


def continue_bot(
    update: BotUpdate,
    *,
    resume: bool = False,
    track_backend: str | None = None,
    on_progress: ProgressCallback | None = None,
    on_warning: Callable[[str], None] | None = None,
    dtype: str | None = None,
    on_plan: Callable[[TrainPlan], None] | None = None,
) -> Path:
    """Run UPDATE: fine-tune from the bot's weights, then its predictions image and model card
    (as `train_bot`). The bot is replaced only once the update is done; tweetling.json and the
    card record both datasets. DTYPE None keeps the precision the bot's weights are saved in."""
    kept = bots.saved_dtype(update.folder)
    dtype = dtype or (kept if kept in DTYPES else "float32")
    check_dtype(dtype)
    folder = fine_tune(
        update.dataset,
        update.config,
        str(update.folder),
        update.folder,
        resume=resume,
        track_backend=track_backend,
        on_progress=on_progress,
        on_plan=on_plan,
        continues=update.previous,
    )
    return _finish_trained(folder, dtype, on_warning)


def bot_to_continue(folder: Path, accounts: list[str]) -> bots.BotMeta:
    """The metadata of the bot at FOLDER, which must imitate exactly ACCOUNTS."""
    if not (folder / "config.json").exists():
        raise TweetlingError(f"no bot to continue at {folder}; train one first (without --continue)")
    meta = bots.read_metadata(folder)
    if meta.accounts != list(accounts):
        handles = ", ".join(f"@{a}" for a in meta.accounts)
        raise TweetlingError(
            f"bot {folder.name!r} was trained on {handles}, not {', '.join(f'@{a}' for a in accounts)};"
            f" continue it with `tweetling train {' '.join(meta.accounts)} --continue`"
        )
    return meta


def finish_bot(folder: Path, prompt: str = DEFAULT_PROMPT, seed: int = 0) -> list[str]:
    """Draw predictions.png (a post generated for PROMPT) and write the model card README.md; the
    warnings say what could not be made (a bot that only samples empty posts gets no image)."""
    from .bots import Bot

    warnings: list[str] = []
    bot = Bot.load(folder)
    result = bot.generate(prompt, n=1, seed=seed)
    if result.outputs:
        write_preview(bot, prompt, result.texts[0])
        warnings += filter(None, [emoji_note(result.texts[0])])
    else:
        warnings.append(f"no predictions image: {result.summary()}")
    write_card(folder)
    return warnings


# --- what is on disk: prepared datasets, trainings to continue, bots to remove ----------------------


def prepared_datasets() -> list[DatasetRecord]:
    """Every prepared dataset under TWEETLING_HOME/datasets, newest first (damaged ones left out)."""
    records = []
    for manifest_file in paths.datasets_dir().glob("*/manifest.json") if paths.datasets_dir().exists() else []:
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
            records.append(DatasetRecord.from_dict({**manifest, "path": str(manifest_file.parent)}))
        except (OSError, ValueError, TypeError, AttributeError):
            continue  # a folder being written or broken is not a dataset to offer
    return sorted(records, key=lambda record: record.created_at or "", reverse=True)


@dataclass(frozen=True)
class Resumable:
    """A training stopped with a checkpoint: what continuing it needs (the same dataset, base
    model and settings) and how far it got."""

    bot: str  # the bot folder's name under TWEETLING_HOME/bots
    dataset: DatasetRecord | None  # None when the dataset it was made with is gone
    base: str
    config: TrainConfig
    step: int


def resumable_trainings() -> list[Resumable]:
    """The trainings under TWEETLING_HOME/bots that stopped with a checkpoint, newest first."""
    by_hash = {record.hash: record for record in prepared_datasets()}
    known = {f.name for f in fields(TrainConfig)}
    found = []
    checkpoints = paths.bots_dir().glob("*.checkpoint.pt") if paths.bots_dir().exists() else []
    for checkpoint in sorted(checkpoints, key=lambda path: path.stat().st_mtime, reverse=True):
        try:
            summary = checkpoint_summary(checkpoint)
            identity = summary["identity"]
            config = TrainConfig(**{k: v for k, v in identity["config"].items() if k in known})
        except Exception:  # a damaged or foreign checkpoint (torch, pickle, key errors) is not offered
            continue
        bot = checkpoint.name.removesuffix(".checkpoint.pt")
        found.append(
            Resumable(bot, by_hash.get(identity.get("dataset")), identity.get("base", ""), config, summary["step"])
        )
    return found


def delete_bot(name: str) -> None:
    """Remove the bot NAME (its folder under TWEETLING_HOME/bots) and any checkpoint of its training."""
    folder = bots.default_dir(name)
    checkpoint = checkpoint_path(folder)
    if not folder.exists() and not checkpoint.exists():
        raise TweetlingError(f"no bot named {name!r}")
    if folder.exists():
        # Renamed out of the way first, so no reader sees half a folder while it is removed.
        trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}.deleted.", dir=folder.parent))
        folder.rename(trash / folder.name)
        shutil.rmtree(trash)
    checkpoint.unlink(missing_ok=True)
