"""Prepared datasets: cleaned posts, a deterministic train/valid split, balanced blends,
written atomically as versioned folders (content hash in the name, manifest beside the data)."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import paths
from .clean import Cleaned, CleanOptions, Table, check_sufficient, clean_posts
from .errors import TweetlingError
from .provenance import Provenance
from .store import Store

MAX_ACCOUNTS = 3  # huggingtweets blended up to three accounts
POST_IDS_FILE = "post_ids.txt"  # "source:post_id" of every post the dataset holds, one a line


@dataclass(frozen=True)
class Example:
    account: str
    text: str


@dataclass(frozen=True)
class PrepareConfig:
    """How a dataset is made from the store."""

    clean: CleanOptions = field(default_factory=CleanOptions)
    valid_fraction: float = 0.1
    seed: int = 42
    balance: bool = True  # upsample smaller accounts of a blend to equal text length


@dataclass
class Dataset:
    path: Path
    manifest: dict
    train: list[Example]
    valid: list[Example]
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def accounts(self) -> list[str]:
        return self.manifest["accounts"]

    @property
    def tables(self) -> dict[str, Table]:
        """The data table's counts, by account."""
        return {account: Table.from_dict(row) for account, row in self.manifest["table"].items()}

    def post_ids(self) -> set[str] | None:
        """The "source:post_id" of every post in the dataset; None for datasets made before they were listed."""
        listing = self.path / POST_IDS_FILE
        return set(listing.read_text(encoding="utf-8").split()) if listing.exists() else None

    @classmethod
    def load(cls, path: Path | str) -> Dataset:
        path = Path(path)
        manifest_file = path / "manifest.json"
        if not manifest_file.exists():
            raise TweetlingError(f"{path}: not a tweetling dataset (no manifest.json)")
        return cls(
            path=path,
            manifest=json.loads(manifest_file.read_text(encoding="utf-8")),
            train=_read_examples(path / "train.jsonl"),
            valid=_read_examples(path / "valid.jsonl"),
        )


def blend_name(accounts: list[str]) -> str:
    return "-".join(accounts)


def split(texts: list[str], valid_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Shuffle with SEED and hold out VALID_FRACTION (at least one post once there are ten)."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    n_valid = round(len(texts) * valid_fraction)
    if valid_fraction > 0 and len(texts) >= 10:
        n_valid = max(1, n_valid)
    valid = sorted(order[:n_valid])
    train = sorted(order[n_valid:])
    return [texts[i] for i in train], [texts[i] for i in valid]


def balance(parts: dict[str, list[str]], seed: int) -> dict[str, list[str]]:
    """Repeat each account's posts until its text is about as long as the longest account's."""
    lengths = {account: sum(map(len, texts)) for account, texts in parts.items()}
    target = max(lengths.values())
    rng = random.Random(seed)
    balanced = {}
    for account, texts in parts.items():
        repeats, remainder = divmod(target, lengths[account])
        extra = rng.sample(texts, round(len(texts) * remainder / lengths[account]))
        balanced[account] = texts * repeats + extra
    return balanced


def clean_accounts(store: Store, accounts: list[str], options: CleanOptions) -> list[Cleaned]:
    """Clean each account's posts from the store; unknown accounts are an error."""
    if not 1 <= len(accounts) <= MAX_ACCOUNTS:
        raise TweetlingError(f"a bot is made from 1 to {MAX_ACCOUNTS} accounts, got {len(accounts)}")
    if len(set(accounts)) != len(accounts):
        raise TweetlingError(f"an account is named twice in {accounts}")
    cleaned = []
    for account in accounts:
        paths.checked_name(account)
        posts = store.posts(account)
        if not posts:
            raise TweetlingError(
                f"no posts for account {account!r} in the store; run `tweetling import` or `tweetling fetch` first"
            )
        cleaned.append(clean_posts(account, posts, options))
    return cleaned


def prepare(store: Store, accounts: list[str], config: PrepareConfig = PrepareConfig()) -> Dataset:
    """Clean, split and (for blends) balance ACCOUNTS' posts; write or reuse the versioned folder."""
    cleaned = clean_accounts(store, accounts, config.clean)
    warnings = [w for w in map(check_sufficient, cleaned) if w]
    train_parts, valid = {}, []
    for part in cleaned:
        train_texts, valid_texts = split(part.texts, config.valid_fraction, config.seed)
        train_parts[part.account] = train_texts
        valid += [Example(part.account, text) for text in valid_texts]
    if config.balance and len(train_parts) > 1:
        train_parts = balance(train_parts, config.seed)
    train = [Example(account, text) for account, texts in train_parts.items() for text in texts]

    name = blend_name(accounts)
    train_lines, valid_lines = _jsonl(train), _jsonl(valid)
    source_ids = hashlib.sha256("\n".join(i for c in cleaned for i in c.post_ids).encode()).hexdigest()
    manifest = {
        "name": name,
        "accounts": accounts,
        "seed": config.seed,
        "valid_fraction": config.valid_fraction,
        "balance": config.balance,
        "options": config.clean.to_dict(),
        "keep_newlines": config.clean.keep_newlines,
        "table": {c.account: c.table.to_dict() for c in cleaned},
        "profiles": _profiles(store, accounts),
        "train_count": len(train),
        "valid_count": len(valid),
        "source_ids": source_ids,
    }
    digest = hashlib.sha256(
        json.dumps(manifest, sort_keys=True).encode() + train_lines.encode() + valid_lines.encode()
    ).hexdigest()
    manifest["hash"] = digest
    manifest["created_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # Outside the hash: a refetch that only re-checks opt-outs makes no new version.
    manifest["provenance"] = {c.account: _provenance(store, c).to_dict() for c in cleaned}
    folder = paths.datasets_dir() / f"{name}-{digest[:12]}"
    if not (folder / "manifest.json").exists():
        post_ids = "".join(f"{post_id}\n" for c in cleaned for post_id in c.post_ids)
        _write_folder(folder, manifest, train_lines, valid_lines, post_ids)
    dataset = Dataset.load(folder)
    dataset.warnings = warnings
    return dataset


def resolve(name_or_path: str | Path) -> Path:
    """A dataset folder given as a path, or the newest dataset of an account or blend name."""
    path = Path(name_or_path)
    if (path / "manifest.json").exists():
        return path
    name = paths.checked_name(str(name_or_path), "dataset name")
    candidates = []
    for manifest_file in paths.datasets_dir().glob(f"{name}-*/manifest.json"):
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        if manifest["name"] == name:
            candidates.append((manifest["created_at"], manifest_file.parent))
    if not candidates:
        raise TweetlingError(f"no dataset named {name!r}; run `tweetling prepare {name.replace('-', ' ')}`")
    return max(candidates)[1]


def _profiles(store: Store, accounts: list[str]) -> dict[str, dict]:
    profiles = {}
    for account in accounts:
        profile = store.account(account)
        profiles[account] = {
            "display_name": profile.display_name if profile else None,
            "avatar_url": profile.avatar_url if profile else None,
            "bio": profile.bio if profile else None,
            "source": profile.source if profile else None,
        }
    return profiles


def _provenance(store: Store, cleaned: Cleaned) -> Provenance:
    return Provenance(tuple(store.origins(cleaned.account)), cleaned.first_post, cleaned.last_post)


def _jsonl(examples: list[Example]) -> str:
    return "".join(json.dumps({"account": e.account, "text": e.text}, ensure_ascii=False) + "\n" for e in examples)


def _read_examples(path: Path) -> list[Example]:
    with path.open(encoding="utf-8") as lines:
        return [Example(**json.loads(line)) for line in lines if line.strip()]


def _write_folder(folder: Path, manifest: dict, train_lines: str, valid_lines: str, post_ids: str) -> None:
    """Build the folder beside its final place, then rename: readers never see half a dataset."""
    with paths.atomic_folder(folder) as tmp:
        (tmp / "train.jsonl").write_text(train_lines, encoding="utf-8")
        (tmp / "valid.jsonl").write_text(valid_lines, encoding="utf-8")
        (tmp / POST_IDS_FILE).write_text(post_ids, encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
