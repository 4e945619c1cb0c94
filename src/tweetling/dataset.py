"""Prepared datasets: cleaned posts, a deterministic train/valid/test split, balanced blends,
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
POST_IDS_FILE = "post_ids.txt"  # the kept posts' "source:post_id", one a line (hashed as the manifest's source_ids)


@dataclass(frozen=True)
class Example:
    account: str
    text: str


@dataclass(frozen=True)
class PrepareConfig:
    """How a dataset is made from the store. Validation posts steer training (early stopping, the
    best weights); test posts are seen by no training decision, so their perplexity is the honest
    held-out number."""

    clean: CleanOptions = field(default_factory=CleanOptions)
    valid_fraction: float = 0.05
    test_fraction: float = 0.1
    seed: int = 42
    balance: bool = True  # upsample smaller accounts of a blend to equal text length

    def __post_init__(self) -> None:
        for name in ("valid_fraction", "test_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise TweetlingError(f"{name} must be in [0, 1), not {getattr(self, name)}")
        if self.valid_fraction + self.test_fraction >= 1:
            raise TweetlingError("valid_fraction and test_fraction together must leave posts to train on")


@dataclass
class Dataset:
    path: Path
    manifest: dict
    train: list[Example]
    valid: list[Example]
    test: list[Example] = field(default_factory=list)  # empty in datasets prepared before test splits
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
        manifest = _read_manifest(manifest_file)
        dataset = cls(
            path=path,
            manifest=manifest,
            train=_read_examples(path / "train.jsonl"),
            valid=_read_examples(path / "valid.jsonl"),
            test=_read_examples(path / "test.jsonl") if (path / "test.jsonl").exists() else [],
        )
        parts = ("train", "valid", "test") if (path / "test.jsonl").exists() else ("train", "valid")  # older ones
        for part in parts:
            held, listed = len(getattr(dataset, part)), manifest.get(f"{part}_count")
            if listed is not None and held != listed:
                raise TweetlingError(
                    f"{path / part}.jsonl: {held:,} posts where its manifest lists {listed:,} (damaged):"
                    " prepare the dataset again"
                )
        return dataset


def blend_name(accounts: list[str]) -> str:
    return "-".join(accounts)


def split(
    texts: list[str], valid_fraction: float, test_fraction: float, seed: int
) -> tuple[list[str], list[str], list[str]]:
    """Train, valid and test posts: shuffle with SEED, hold out TEST_FRACTION, then VALID_FRACTION
    (each at least one post once there are ten); every part keeps the posts' order."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)

    def held_out(fraction: float) -> int:
        count = round(len(texts) * fraction)
        return max(1, count) if fraction > 0 and len(texts) >= 10 else count

    def pick(indices: list[int]) -> list[str]:
        return [texts[i] for i in sorted(indices)]

    n_test, n_valid = held_out(test_fraction), held_out(valid_fraction)
    return pick(order[n_test + n_valid :]), pick(order[n_test : n_test + n_valid]), pick(order[:n_test])


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
    train_parts, valid, test = {}, [], []
    for part in cleaned:
        train_texts, valid_texts, test_texts = split(
            part.texts, config.valid_fraction, config.test_fraction, config.seed
        )
        train_parts[part.account] = train_texts
        valid += [Example(part.account, text) for text in valid_texts]
        test += [Example(part.account, text) for text in test_texts]
    if config.balance and len(train_parts) > 1:
        train_parts = balance(train_parts, config.seed)
    train = [Example(account, text) for account, texts in train_parts.items() for text in texts]

    manifest = {
        "name": blend_name(accounts),
        "accounts": accounts,
        "seed": config.seed,
        "valid_fraction": config.valid_fraction,
        "test_fraction": config.test_fraction,
        "balance": config.balance,
        "options": config.clean.to_dict(),
        "keep_newlines": config.clean.keep_newlines,
        "table": {c.account: c.table.to_dict() for c in cleaned},
        "profiles": _profiles(store, accounts),
    }
    provenance = {c.account: _provenance(store, c).to_dict() for c in cleaned}
    dataset = _save(manifest, (train, valid, test), [i for c in cleaned for i in c.post_ids], provenance)
    dataset.warnings = warnings
    return dataset


def _save(
    manifest: dict,
    parts: tuple[list[Example], list[Example], list[Example]],
    post_ids: list[str],
    provenance: dict[str, dict],
) -> Dataset:
    """Version MANIFEST and the (train, valid, test) examples by their hash, write the folder
    unless that version exists, and load it; POST_IDS are the kept posts' ids (hashed in the
    manifest, listed beside), PROVENANCE where each account's posts came from."""
    train, valid, test = parts
    lines = {"train": _jsonl(train), "valid": _jsonl(valid), "test": _jsonl(test)}
    id_lines = "".join(f"{post_id}\n" for post_id in post_ids)
    manifest = {
        **manifest,
        "train_count": len(train),
        "valid_count": len(valid),
        "test_count": len(test),
        "source_ids": hashlib.sha256("\n".join(post_ids).encode()).hexdigest(),
    }
    digest = hashlib.sha256(
        json.dumps(manifest, sort_keys=True).encode() + "".join(lines.values()).encode()
    ).hexdigest()
    manifest["hash"] = digest
    manifest["created_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # Outside the hash: a refetch that only re-checks opt-outs makes no new version.
    manifest["provenance"] = provenance
    folder = paths.datasets_dir() / f"{manifest['name']}-{digest[:12]}"
    if (folder / "manifest.json").exists():
        try:
            return Dataset.load(folder)
        except TweetlingError:  # damaged since: this version is made again below
            pass
    _write_folder(folder, manifest, lines, id_lines)
    return Dataset.load(folder)


# --- continuing: a dataset grown by the posts new since an earlier one ---------------------------


def prepare_continuation(store: Store, previous: Dataset) -> Dataset:
    """PREVIOUS grown by the posts its accounts have gained since: the stored posts cleaned with
    PREVIOUS's options, those it did not hold split with its seed and fractions. Its held-out
    posts stay held out, so a bot's perplexities before and after continuing are comparable;
    the new training posts come last in `train` (`new_examples` finds them). A blend's new posts
    are not upsampled."""
    manifest = previous.manifest
    accounts = previous.accounts
    options = CleanOptions.from_dict(manifest.get("options") or {})
    cleaned = clean_accounts(store, accounts, options)
    known_ids = previous.post_ids()
    known_texts = {e.text for e in (*previous.train, *previous.valid, *previous.test)}  # datasets listing no ids
    new_train, new_valid, new_test = [], [], []
    for part in cleaned:
        new = [
            text
            for post_id, text in zip(part.post_ids, part.texts, strict=True)
            if (post_id not in known_ids if known_ids is not None else text not in known_texts)
        ]
        train_texts, valid_texts, test_texts = split(
            new, manifest.get("valid_fraction", 0.1), manifest.get("test_fraction", 0.0), manifest.get("seed", 42)
        )
        new_train += [Example(part.account, text) for text in train_texts]
        new_valid += [Example(part.account, text) for text in valid_texts]
        new_test += [Example(part.account, text) for text in test_texts]
    if not new_train:
        raise TweetlingError(
            f"no new posts for {', '.join('@' + a for a in accounts)} since dataset {previous.path.name}"
            f" (prepared {manifest.get('created_at', '?')}); fetch or import newer posts first"
        )
    continuation = {
        **{
            key: manifest[key]
            for key in ("name", "accounts", "seed", "valid_fraction", "test_fraction", "balance")
            if key in manifest
        },
        "options": options.to_dict(),
        "keep_newlines": options.keep_newlines,
        "table": {c.account: c.table.to_dict() for c in cleaned},
        "profiles": _profiles(store, accounts),
        "continues": {"name": manifest["name"], "hash": manifest["hash"], "path": str(previous.path)},
        "new_counts": {"train": len(new_train), "valid": len(new_valid), "test": len(new_test)},
    }
    parts = ([*previous.train, *new_train], [*previous.valid, *new_valid], [*previous.test, *new_test])
    provenance = {c.account: _provenance(store, c).to_dict() for c in cleaned}
    return _save(continuation, parts, [i for c in cleaned for i in c.post_ids], provenance)


def new_examples(dataset: Dataset) -> list[Example]:
    """The training posts a continuation dataset added to the one it continues (none for others)."""
    count = (dataset.manifest.get("new_counts") or {}).get("train", 0)
    return dataset.train[len(dataset.train) - count :] if count else []


def replay_sample(dataset: Dataset, replay_fraction: float, seed: int) -> list[Example]:
    """What a continuation trains on: its new training posts, and older ones drawn with SEED so
    that they make REPLAY_FRACTION of the whole (as many as there are, at most)."""
    if not 0 <= replay_fraction < 1:
        raise TweetlingError(f"the replay fraction must be in [0, 1), not {replay_fraction}")
    new = new_examples(dataset)
    older = dataset.train[: len(dataset.train) - len(new)]
    count = min(len(older), round(len(new) * replay_fraction / (1 - replay_fraction)))
    return random.Random(seed).sample(older, count) + new


def resolve(name_or_path: str | Path) -> Path:
    """A dataset folder given as a path, or the newest dataset of an account or blend name."""
    path = Path(name_or_path)
    if (path / "manifest.json").exists():
        return path
    name = paths.checked_name(str(name_or_path), "dataset name")
    candidates = []
    for manifest_file in paths.datasets_dir().glob(f"{name}-*/manifest.json"):
        try:
            manifest = _read_manifest(manifest_file)
        except TweetlingError:  # a damaged version is not offered; `prepare` makes it again
            continue
        if manifest["name"] == name:
            candidates.append((str(manifest.get("created_at", "")), manifest_file.parent))
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


def _read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise TweetlingError(f"{path}: damaged ({error.__class__.__name__}): prepare the dataset again") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("name"), str):
        raise TweetlingError(f"{path}: not a dataset manifest: prepare the dataset again")
    return manifest


def _read_examples(path: Path) -> list[Example]:
    try:
        with path.open(encoding="utf-8") as lines:
            return [_example(line, number) for number, line in enumerate(lines, start=1) if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise TweetlingError(
            f"{path}: cannot read it ({error.__class__.__name__}): prepare the dataset again"
        ) from None
    except TweetlingError as error:
        raise TweetlingError(f"{path}:{error}: prepare the dataset again") from None


def _example(line: str, number: int) -> Example:
    try:
        record = json.loads(line)
        return Example(account=str(record["account"]), text=str(record["text"]))
    except (ValueError, RecursionError, TypeError, KeyError):
        raise TweetlingError(f"{number}: not a post of a dataset") from None


def _write_folder(folder: Path, manifest: dict, lines: dict[str, str], post_ids: str) -> None:
    """Build the folder beside its final place, then rename: readers never see half a dataset."""
    with paths.atomic_folder(folder) as tmp:
        for part, text in lines.items():
            (tmp / f"{part}.jsonl").write_text(text, encoding="utf-8")
        (tmp / POST_IDS_FILE).write_text(post_ids, encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
