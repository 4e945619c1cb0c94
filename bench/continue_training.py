"""Continuing a bot on new posts vs training it again from scratch, on one real account.

The newest HOLDBACK share of the account's posts (by date) plays the posts fetched later: a bot
is trained on the older ones (`tweetling train`), then the newer ones are imported and the bot
is continued (`tweetling train --continue`, once per --variants entry) and, for comparison,
a bot is trained from the base model on all the training posts of the grown dataset (the union
of old and new). Every bot is scored with `train.heldout_perplexity` (float32) on the grown
dataset's held-out posts: all of them, those held out before (old) and the new ones.

    python bench/continue_training.py --csv ../shared/data/tweets/BarackObama.csv
    python bench/continue_training.py --variants 0.5:0.5 0.5:1 0.25:0.5   # replay share : rate factor
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from pathlib import Path

SHARED_TWEETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tweets"


def split_by_date(source: Path, folder: Path, holdback: float) -> tuple[Path, Path]:
    """SOURCE's rows, oldest first, as two CSV files: the older posts and the newest HOLDBACK share."""
    with source.open(encoding="utf-8", newline="") as lines:
        rows = sorted(csv.DictReader(lines), key=lambda row: row["created_at"])
    cut = round(len(rows) * (1 - holdback))
    parts = []
    for name, part in (("older", rows[:cut]), ("newer", rows[cut:])):
        target = folder / f"{source.stem}-{name}.csv"
        with target.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(part)
        parts.append(target)
    print(
        f"{source.stem}: {cut:,} older posts (to {rows[cut - 1]['created_at']}), {len(rows) - cut:,} newer", flush=True
    )
    return parts[0], parts[1]


def perplexities(folder: Path, grown) -> dict[str, float]:
    """The bot at FOLDER on the grown dataset's held-out posts: all, the old ones, the new ones."""
    from tweetling.models import load_base
    from tweetling.train import heldout_perplexity

    model, tokenizer = load_base(str(folder))
    old = grown.manifest["valid_count"] - grown.manifest["new_counts"]["valid"]
    parts = {"all": grown.valid, "old": grown.valid[:old], "new": grown.valid[old:]}
    return {
        name: round(heldout_perplexity(model, tokenizer, [e.text for e in examples]).perplexity, 2)
        for name, examples in parts.items()
    }


def row(label: str, folder: Path, grown) -> dict:
    from tweetling.bots import read_metadata

    meta = read_metadata(folder)
    trained = meta.continued[-1].new_posts + meta.continued[-1].replayed_posts if meta.continued else None
    return {
        "bot": label,
        "trained_posts": trained if trained is not None else meta.dataset.train_count,
        "steps": meta.steps,
        "train_s": meta.train_time_s,
        "wall_s": meta.wall_time_s,
        "ppl": perplexities(folder, grown),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=SHARED_TWEETS / "BarackObama.csv", help="id,created_at,text")
    parser.add_argument("--holdback", type=float, default=0.2, help="newest share of the posts added later")
    parser.add_argument("--recipe", default="default")
    parser.add_argument("--base", default="smollm2-135m", help="base model (the embedded default, or a folder)")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["0.5:0.5"],
        help="continuations to run, as replay_fraction:learning_rate_factor",
    )
    parser.add_argument(
        "--home", type=Path, default=Path("/tmp/tweetling-bench-continue"), help="scratch TWEETLING_HOME"
    )
    parser.add_argument("--results", type=Path, help="JSON lines to append to (default: HOME/continue_results.jsonl)")
    args = parser.parse_args()
    os.environ["TWEETLING_HOME"] = str(args.home)
    from transformers.utils import logging as transformers_logging

    from tweetling import bots
    from tweetling.dataset import Dataset
    from tweetling.importer import import_path
    from tweetling.pipeline import continue_bot, plan_continuation, prepare_dataset, train_bot
    from tweetling.recipes import ContinueConfig, recipe
    from tweetling.store import Store

    transformers_logging.disable_progress_bar()
    account = args.csv.stem
    (args.home / "tweetling.db").unlink(missing_ok=True)  # a fresh store; the cached base model in models/ is kept
    for stale in ("datasets", "bots"):
        shutil.rmtree(args.home / stale, ignore_errors=True)
    args.home.mkdir(parents=True, exist_ok=True)
    older, newer = split_by_date(args.csv, args.home, args.holdback)
    with Store() as store:
        import_path(store, older, account=account)
    config = recipe(args.recipe, checkpoint_every=0)
    first = train_bot(prepare_dataset([account], track_backend="none"), config, args.base, track_backend="none")
    with Store() as store:
        import_path(store, newer, account=account)

    rows, grown = [], None
    for variant in args.variants:
        replay, factor = (float(part) for part in variant.split(":"))
        folder = bots.default_dir(f"{account}-continued-{replay:g}-{factor:g}")
        shutil.copytree(first, folder)
        update = plan_continuation([account], ContinueConfig(replay, factor), folder, {"checkpoint_every": 0})
        grown = Dataset.load(update.dataset.path)
        continue_bot(update, track_backend="none")
        rows.append(row(f"continued (replay {replay:g}, lr x{factor:g})", folder, grown))
    assert grown is not None
    rows.insert(0, row("first bot (older posts only)", first, grown))
    union = train_bot(grown, config, args.base, bots.default_dir(f"{account}-union"), track_backend="none")
    rows.append(row("from scratch on the union", union, grown))

    counts = grown.manifest["new_counts"]
    print(
        f"grown dataset: {grown.manifest['train_count']:,} training posts ({counts['train']:,} new), "
        f"{len(grown.valid):,} held out ({counts['valid']:,} new)"
    )
    print("| bot | posts trained | steps | train s | wall s | held-out ppl (all) | old held-out | new held-out |")
    print("|---|---|---|---|---|---|---|---|")
    for result in rows:
        ppl = result["ppl"]
        print(
            f"| {result['bot']} | {result['trained_posts']:,} | {result['steps']} | {result['train_s']} "
            f"| {result['wall_s']} | {ppl['all']} | {ppl['old']} | {ppl['new']} |"
        )
    with (args.results or args.home / "continue_results.jsonl").open("a", encoding="utf-8") as results:
        for result in rows:
            results.write(json.dumps({"account": account, "recipe": args.recipe, **result}) + "\n")


if __name__ == "__main__":
    main()
