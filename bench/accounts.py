"""The quality table: tweetling's default and thorough recipes against huggingtweets' recipe on
every account of ../shared/data/tweets/, with the targets of the developers' guide.

For each account (a CSV file or an X archive folder) and recipe, in this order: prepare the
dataset as `tweetling prepare` does (train / valid / test by seed), fine-tune the embedded
SmolLM2-135M as `tweetling train` does (`train.fine_tune`: the recipe sized to the account,
early stopping on the validation posts, test perplexity measured once training has ended),
then sample 100 posts as `tweetling eval` does (from the EOS prefix, cut at the first newline,
nothing dropped) for their memorization rate (8+ words in a row of a training post) and
distinct-2. Each finished (account, recipe) is one JSON line in --results, so an interrupted run
continues where it stopped; a row is reused while the dataset version and the resolved recipe
are the same (--fresh measures everything again, which the time ratios need: they compare
times taken in one run on one machine).

    python bench/accounts.py                      # every account, all three recipes (hours on 2 cores)
    python bench/accounts.py --account elonmusk   # one account

The table goes to stdout and to --table (Markdown).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recipe_search import account_dataset, account_sources, cached_rows, machine, same_settings

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RECIPES = ("huggingtweets", "default", "thorough")
# The developers' guide: test perplexity and wall time as ratios to huggingtweets' recipe, and
# the share of 100 sampled posts that copy 8+ words of a training post.
TARGETS = {"default": (0.7, 0.2), "thorough": (0.6, 0.35)}
MAX_MEMORIZED = 0.02
SAMPLED_POSTS = 100


def resolved_settings(name: str, dataset, threads: int | None) -> dict:
    """The recipe as it trains on DATASET (sized to its posts), in the form the cache compares."""
    from tweetling.recipes import recipe
    from tweetling.train import posts_to_train

    config = recipe(name, threads=threads, checkpoint_every=0)
    config = config.sized(len(posts_to_train(dataset, config)))
    return {"config": asdict(config), "levers": {}}


def measure(name: str, dataset, threads: int | None, home: Path) -> dict:
    """Train NAME on DATASET as `tweetling train` does, then sample and score 100 posts."""
    from tweetling.bots import Bot, read_metadata
    from tweetling.evaluate import EvalConfig, sample_posts, text_metrics
    from tweetling.recipes import recipe
    from tweetling.train import fine_tune

    load_before, cpu_started = os.getloadavg()[0], time.process_time()
    config = recipe(name, threads=threads, checkpoint_every=0)
    folder = fine_tune(dataset, config, out=bench_bot(home, dataset.name, name), track_backend="none")
    cpu_s = time.process_time() - cpu_started  # with other work on the machine, a steadier cost than wall time
    meta = read_metadata(folder)
    load_after = os.getloadavg()[0]
    started = time.perf_counter()
    posts = sample_posts(Bot.load(folder), EvalConfig(n=SAMPLED_POSTS))
    texts = text_metrics(posts, training_texts(dataset))
    return {
        "account": dataset.name,
        "dataset": dataset.manifest["hash"],
        "recipe": name,
        "config": meta.recipe,
        "levers": {},
        "train_posts": len(dataset.train),
        "test_posts": len(dataset.test),
        "steps": meta.steps,
        "epochs": meta.recipe.get("epochs"),
        "stopped_early": meta.stopped_early,
        "train_tokens": meta.train_tokens,
        "train_time_s": meta.train_time_s,
        "wall_time_s": meta.wall_time_s,
        "cpu_s": round(cpu_s, 1),
        "tokens_per_s": meta.tokens_per_s,
        "bf16": meta.bf16,
        "valid_perplexity": meta.valid_perplexity,
        "test_perplexity": meta.test_perplexity,
        "sampled": texts["generated"],
        "memorized_rate": texts["memorized_rate"],
        "distinct_2": texts["distinct_2"],
        "sampling_s": round(time.perf_counter() - started, 1),
        "threads": threads,
        "load_before": round(load_before, 2),
        "load_after": round(load_after, 2),
        "machine": machine(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def bench_bot(home: Path, account: str, recipe: str) -> Path:
    """Where the bench keeps the bot it trained for ACCOUNT with RECIPE."""
    return home / "bots" / f"{account}-{recipe}"


def training_texts(dataset) -> list[str]:
    """The distinct texts of DATASET's training posts, which memorization is measured against."""
    return list(dict.fromkeys(e.text for e in dataset.train))


def own_copy_rate(dataset) -> float:
    """The share of the account's own test posts that copy 8+ words of a training post: how much
    the account repeats itself, the scale for a bot's memorization rate."""
    from tweetling.evaluate import text_metrics

    return text_metrics([e.text for e in dataset.test], training_texts(dataset))["memorized_rate"]


def resampled_rate(account: str, recipe: str, dataset, home: Path, posts: int) -> float:
    """The memorization rate of the bot this bench trained, over POSTS new samples (seed 1)."""
    from tweetling.bots import Bot
    from tweetling.evaluate import EvalConfig, sample_posts, text_metrics

    sampled = sample_posts(Bot.load(bench_bot(home, account, recipe)), EvalConfig(n=posts, seed=1))
    return text_metrics(sampled, training_texts(dataset))["memorized_rate"]


def verdicts(row: dict, baseline: dict | None) -> tuple[float | None, float | None, str]:
    """Perplexity and time ratios to huggingtweets' row, and which targets ROW meets."""
    if baseline is None or row["recipe"] == "huggingtweets":
        memorized = "mem ✓" if (row["memorized_rate"] or 0) <= MAX_MEMORIZED else "mem ✗"
        return None, None, memorized if row["recipe"] != "huggingtweets" else ""
    ppl_ratio = row["test_perplexity"] / baseline["test_perplexity"]
    time_ratio = row["wall_time_s"] / baseline["wall_time_s"]
    ppl_target, time_target = TARGETS[row["recipe"]]
    marks = [
        f"ppl ≤{ppl_target}× {'✓' if ppl_ratio <= ppl_target else '✗'}",
        f"time ≤{time_target}× {'✓' if time_ratio <= time_target else '✗'}",
        f"mem ≤2% {'✓' if row['memorized_rate'] <= MAX_MEMORIZED else '✗'}",
    ]
    return ppl_ratio, time_ratio, ", ".join(marks)


def table(rows: list[dict]) -> str:
    lines = [
        "| account | recipe | train posts | epochs | steps | train tokens | wall s | tokens/s | test ppl "
        "| ppl ratio | time ratio | memorized | distinct-2 | targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for account in dict.fromkeys(row["account"] for row in rows):
        mine = {row["recipe"]: row for row in rows if row["account"] == account}
        for name in RECIPES:
            if name not in mine:
                continue
            row = mine[name]
            ppl_ratio, time_ratio, marks = verdicts(row, mine.get("huggingtweets"))
            lines.append(
                f"| {account} | {name} | {row['train_posts']:,} | {row['epochs']} | {row['steps']} "
                f"| {row['train_tokens']:,} | {row['wall_time_s']:,.0f} | {row['tokens_per_s']:,.0f} "
                f"| {row['test_perplexity']:.2f} | {'' if ppl_ratio is None else f'{ppl_ratio:.2f}×'} "
                f"| {'' if time_ratio is None else f'{time_ratio:.2f}×'} | {row['memorized_rate']:.0%} "
                f"| {row['distinct_2']:.2f} | {marks} |"
            )
    return "\n".join(lines)


def provenance(rows: list[dict]) -> str:
    """Where and when the rows were measured: ratios mean most from one session on one machine."""
    machines = {row["machine"]["cpu"] for row in rows}
    times = sorted(row["finished_at"] for row in rows)
    loads = [row["load_before"] for row in rows] + [row["load_after"] for row in rows]
    note = (
        f"Measured on {', '.join(sorted(machines))} (bf16: {rows[0]['machine']['bf16']}), "
        f"{times[0]} … {times[-1]}; load average {min(loads):.1f}–{max(loads):.1f} during the runs."
    )
    if len(machines) > 1:
        note += " Rows come from different machines: rerun with --fresh for time ratios that mean anything."
    return note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--account", action="append", help="account(s) of ../shared/data/tweets (default: all)")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--home", type=Path, default=Path("/tmp/tweetling-bench"), help="TWEETLING_HOME of the bench")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "accounts.jsonl")
    parser.add_argument("--table", type=Path, default=RESULTS_DIR / "accounts.md")
    parser.add_argument("--fresh", action="store_true", help="measure again what --results already has")
    parser.add_argument(
        "--resample", type=int, metavar="N", help="also sample N posts from each bot for a steadier memorization rate"
    )
    args = parser.parse_args()
    sources = account_sources()
    unknown = [a for a in args.account or [] if a not in sources]
    if unknown:
        sys.exit(f"unknown accounts: {', '.join(unknown)}; the shared data has {', '.join(sources)}")
    os.environ["TWEETLING_HOME"] = str(args.home)
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    args.results.parent.mkdir(parents=True, exist_ok=True)
    cached = [] if args.fresh else cached_rows(args.results)
    started = time.perf_counter()
    rows, notes = [], []
    for account in args.account or list(sources):
        dataset = account_dataset(account, sources[account])
        notes.append(f"{account}: its own test posts copy 8+ words of a training post at {own_copy_rate(dataset):.1%}")
        for name in args.recipes:
            settings = resolved_settings(name, dataset, args.threads)
            row = next(
                (
                    r
                    for r in reversed(cached)
                    if r.get("account") == account
                    and r.get("dataset") == dataset.manifest["hash"]
                    and same_settings(r, settings)
                ),
                None,
            )
            if row is None:
                print(f"{account}: training with the {name} recipe…", file=sys.stderr, flush=True)
                row = measure(name, dataset, args.threads, args.home)
                with args.results.open("a", encoding="utf-8") as results:
                    results.write(json.dumps(row) + "\n")
            rows.append(row)
            if args.resample:
                rate = resampled_rate(account, name, dataset, args.home, args.resample)
                notes.append(f"{account}, {name}: {rate:.1%} of {args.resample} sampled posts memorized")
    text = f"{table(rows)}\n\n{provenance(rows)}\n\n" + "".join(f"- {note}\n" for note in notes)
    args.table.write_text(text, encoding="utf-8")
    print(text)
    print(f"({time.perf_counter() - started:,.0f} s this run; table in {args.table})", file=sys.stderr)


if __name__ == "__main__":
    main()
