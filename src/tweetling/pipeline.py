"""The user steps that compose several modules: preparing a dataset (store → clean → split →
tracking) and training a bot (fine-tune → predictions image → model card). The CLI and the web
app call these for those steps; steps that are one module's work (import, fetch, generate, eval,
push, sweep) they call in that module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import distributed, track
from .card import write_card
from .dataset import Dataset, PrepareConfig, prepare
from .errors import TweetlingError
from .export import check_dtype, export_safetensors
from .generate import DEFAULT_PROMPT
from .models import DEFAULT_BASE
from .preview import write_preview
from .recipes import ProgressCallback, TrainConfig
from .store import Store
from .train import TrainPlan, fine_tune


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
    dtype: str = "float32",
    on_plan: Callable[[TrainPlan], None] | None = None,
) -> Path:
    """Train a bot on DATASET and give its folder the predictions image and model card (under a
    launcher, the main process does). DTYPE is the precision the weights are saved in: bfloat16
    or float16 halve the folder. ON_PLAN hears what training will do and how long it should take
    before it starts."""
    check_dtype(dtype)
    folder = fine_tune(
        dataset,
        config,
        base,
        out,
        resume=resume,
        track_backend=track_backend,
        on_progress=on_progress,
        on_plan=on_plan,
    )
    if not distributed.world().is_main:
        return folder
    if dtype != "float32":
        export_safetensors(folder, folder, dtype)
    for warning in finish_bot(folder):
        if on_warning:
            on_warning(warning)
    return folder


def finish_bot(folder: Path, prompt: str = DEFAULT_PROMPT, seed: int = 0) -> list[str]:
    """Draw predictions.png (a sample for PROMPT) and write the model card README.md; the
    warnings say what could not be made (a bot that only samples empty posts gets no image)."""
    from .bots import Bot

    warnings = []
    try:
        write_preview(Bot.load(folder), prompt, seed=seed)
    except TweetlingError as error:
        warnings.append(f"no predictions image: {error}")
    write_card(folder)
    return warnings
