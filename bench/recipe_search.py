"""Measure candidate training recipes on real tweets with the embedded SmolLM2-135M base.

Each candidate is a set of TrainConfig overrides on top of the default recipe. All of them
train on the same (optionally subsampled) split of one account, prepared exactly as
`tweetling prepare` does (huggingtweets' cleaning, deterministic 90/10 split), and are scored
with `train.heldout_perplexity` on the same held-out posts. Results go to stdout as a Markdown
table and, one JSON object per run, to --results.

    python bench/recipe_search.py --train-posts 600 --valid-posts 150 plain-bs16 default
    python bench/recipe_search.py huggingtweets default   # the whole account

See bench/RECIPES.md for what was measured and why the default recipe is what it is.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

SHARED_TWEETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tweets"

# name → (recipe, overrides). "plain-bs16" is the developers' guide reference loop.
CANDIDATES: dict[str, tuple[str, dict]] = {
    "huggingtweets": ("huggingtweets", {}),
    "default": ("default", {}),
    "thorough": ("thorough", {}),
    # Variations of the thorough recipe (every weight trained):
    "plain-bs16": ("thorough", dict(learning_rate=5e-5, warmup_ratio=0.0, early_stopping=False)),
    "lr1e-4": ("thorough", dict(learning_rate=1e-4)),
    "lr4e-4": ("thorough", dict(learning_rate=4e-4)),
    "lr8e-4": ("thorough", dict(learning_rate=8e-4)),
    "bs8": ("thorough", dict(batch_size=8)),
    "bs32-lr4e-4": ("thorough", dict(batch_size=32, learning_rate=4e-4)),
    "fp32": ("thorough", dict(bf16=False)),
    "frozen-emb": ("thorough", dict(freeze_embeddings=True)),
    "packed-256": ("thorough", dict(packing=True, max_length=256, batch_size=2)),
    "2-epochs": ("thorough", dict(epochs=2)),
    # freeze-K: the embeddings and the lowest K of SmolLM2's 30 blocks stay fixed ("default" is freeze-10).
    "freeze-5": ("default", dict(freeze_fraction=1 / 6, learning_rate=2e-4)),
    "freeze-15": ("default", dict(freeze_fraction=1 / 2)),
    "lora-r16-lr1e-3": ("thorough", dict(method="lora", learning_rate=1e-3)),
    "lora-r64-lr1e-3": ("thorough", dict(method="lora", lora_r=64, lora_alpha=128, learning_rate=1e-3)),
}


def bench_dataset(csv: Path, train_posts: int | None, valid_posts: int | None, seed: int):
    """The account's dataset as `tweetling prepare` makes it, optionally subsampled with SEED."""
    from tweetling.dataset import Dataset, PrepareConfig, prepare
    from tweetling.importer import import_path
    from tweetling.store import Store

    account = csv.stem
    with Store() as store:
        if not store.count_posts(account):
            import_path(store, csv, account=account)
        dataset = prepare(store, [account], PrepareConfig())
    rng = random.Random(seed)
    train = (
        rng.sample(dataset.train, train_posts) if train_posts and train_posts < len(dataset.train) else dataset.train
    )
    valid = (
        rng.sample(dataset.valid, valid_posts) if valid_posts and valid_posts < len(dataset.valid) else dataset.valid
    )
    return Dataset(path=dataset.path, manifest=dataset.manifest, train=train, valid=valid)


def run_candidate(name: str, dataset, threads: int | None, seed: int) -> dict:
    import torch

    from tweetling.models import DEFAULT_BASE, load_base
    from tweetling.recipes import recipe
    from tweetling.train import prepare_model, train_model

    recipe_name, overrides = CANDIDATES[name]
    config = recipe(recipe_name, threads=threads, checkpoint_every=0, seed=seed, **overrides)
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    model, tokenizer = load_base(DEFAULT_BASE)
    model = prepare_model(model, config)
    result = train_model(model, tokenizer, dataset, config)
    return {
        "candidate": name,
        "config": {k: v for k, v in vars(config).items()},
        "train_posts": len(dataset.train),
        "valid_posts": len(dataset.valid),
        "steps": result.steps,
        "train_tokens": result.tokens,
        "train_time_s": round(result.train_time_s, 1),
        "wall_time_s": round(time.perf_counter() - started, 1),
        "tokens_per_s": round(result.tokens / result.train_time_s, 1),
        "train_loss": round(result.train_loss, 4),
        "valid_perplexity": round(result.valid.perplexity, 3),
        "stopped_early": result.stopped_early,
        "threads": torch.get_num_threads(),
    }


def base_perplexity(dataset) -> float:
    from tweetling.models import DEFAULT_BASE, load_base
    from tweetling.train import heldout_perplexity

    model, tokenizer = load_base(DEFAULT_BASE)
    return heldout_perplexity(model, tokenizer, [e.text for e in dataset.valid]).perplexity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "candidates", nargs="*", default=["huggingtweets", "default"], help=f"any of: {', '.join(CANDIDATES)}"
    )
    parser.add_argument("--csv", type=Path, default=SHARED_TWEETS / "BarackObama.csv")
    parser.add_argument("--train-posts", type=int, help="random subset of the training posts")
    parser.add_argument("--valid-posts", type=int, help="random subset of the held-out posts")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subsets")
    parser.add_argument(
        "--train-seeds",
        type=int,
        nargs="+",
        default=[42],
        help="training seeds (batch order, initial adapters); each candidate runs once per seed",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=Path("/tmp/tweetling-bench"),
        help="TWEETLING_HOME for the store, dataset and cached base model",
    )
    parser.add_argument("--results", type=Path, default=Path("bench/recipe_results.jsonl"))
    args = parser.parse_args()
    unknown = [c for c in args.candidates if c not in CANDIDATES]
    if unknown:
        sys.exit(f"unknown candidates: {', '.join(unknown)}")
    os.environ["TWEETLING_HOME"] = str(args.home)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    dataset = bench_dataset(args.csv, args.train_posts, args.valid_posts, args.seed)
    print(
        f"{args.csv.stem}: {len(dataset.train)} train / {len(dataset.valid)} valid posts; "
        f"base model perplexity {base_perplexity(dataset):.2f}",
        flush=True,
    )
    print("| candidate | seed | steps | tokens | train s | wall s | tok/s | train loss | valid ppl |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for name, seed in ((name, seed) for name in args.candidates for seed in args.train_seeds):
        row = run_candidate(name, dataset, args.threads, seed)
        print(
            f"| {name} | {seed} | {row['steps']} | {row['train_tokens']:,} | {row['train_time_s']} | {row['wall_time_s']} "
            f"| {row['tokens_per_s']} | {row['train_loss']} | {row['valid_perplexity']} |",
            flush=True,
        )
        with args.results.open("a", encoding="utf-8") as results:
            results.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
