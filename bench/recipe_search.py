"""Measure candidate training recipes on real accounts with the embedded SmolLM2-135M base.

Each account in ../shared/data/tweets/ (a CSV file or an X archive folder) is imported into a
bench store and prepared exactly as `tweetling prepare` does: huggingtweets' cleaning and a
deterministic train / valid / test split. Training sees the training posts; early stopping and
the choice of the weights kept see the validation posts; the test posts are scored once, at the
end, with `train.heldout_perplexity` (float32, the same function for every candidate).

A candidate is a recipe with overrides and, for levers the product does not have, the
experimental loop of bench/levers.py. Every run is cached (one JSON line per account, dataset
version, candidate settings and seed in --results), so an interrupted search continues and a
baseline is measured once:

    python bench/recipe_search.py --account elonmusk huggingtweets default thorough
    python bench/recipe_search.py --account andreruffert default --train-seeds 42 1 2 --threads 1

Times depend on the machine and its load; the rows carry tokens, steps and CPU seconds too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from levers import Levers

SHARED_TWEETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tweets"
RESULTS = Path(__file__).resolve().parent / "results" / "recipe_search.jsonl"


@dataclass(frozen=True)
class Candidate:
    recipe: str
    overrides: dict = field(default_factory=dict)
    levers: Levers = field(default_factory=Levers)
    loop: bool = False  # train with bench/levers.py's loop even without levers


# Names for what was measured; see bench/README.md for the results and what was kept.
CANDIDATES: dict[str, Candidate] = {
    "huggingtweets": Candidate("huggingtweets"),
    "default": Candidate("default"),
    "thorough": Candidate("thorough"),
    # The experimental loop without levers gives the product's numbers bit for bit (checked on
    # a 48-post subset of andreruffert, 2 epochs: the same losses to the last digit).
    "default-loop": Candidate("default", loop=True),
    # Passes, with early stopping on the validation posts after each epoch.
    "default-2ep": Candidate("default", {"epochs": 2}, loop=True),
    "default-3ep": Candidate("default", {"epochs": 3}, loop=True),
    "thorough-2ep": Candidate("thorough", {"epochs": 2}, loop=True),
    "thorough-3ep": Candidate("thorough", {"epochs": 3}, loop=True),
    # Learning rate and batch.
    "default-lr8e-4": Candidate("default", {"learning_rate": 8e-4}, loop=True),
    "default-lr1.2e-3": Candidate("default", {"learning_rate": 1.2e-3}, loop=True),
    "default-bs32-lr8e-4": Candidate("default", {"batch_size": 32, "learning_rate": 8e-4}, loop=True),
    # Schedule: default-2ep was best at its first epoch, where its cosine was still at half the rate.
    "default-const": Candidate("default", {"lr_scheduler": "constant"}),
    "default-lr6e-4-const": Candidate("default", {"learning_rate": 6e-4, "lr_scheduler": "constant"}),
    "thorough-const": Candidate("thorough", {"lr_scheduler": "constant"}),
    "thorough-lr3e-4-const": Candidate("thorough", {"learning_rate": 3e-4, "lr_scheduler": "constant"}),
    # The constant rate a quarter lower.
    "default-lr3e-4": Candidate("default", {"learning_rate": 3e-4}),
    "thorough-lr1.5e-4": Candidate("thorough", {"learning_rate": 1.5e-4}),
    # Layer-wise decay: the top block at the rate, each lower one 0.9x, the embeddings lowest.
    "thorough-ld0.9-lr4e-4": Candidate("thorough", {"learning_rate": 4e-4}, Levers(layer_decay=0.9)),
    # Weight averaging, embedding noise, dropout.
    "default-tail0.3": Candidate("default", {}, Levers(tail_average=0.3)),
    "default-tail0.5": Candidate("default", {}, Levers(tail_average=0.5)),
    "thorough-tail0.3": Candidate("thorough", {}, Levers(tail_average=0.3)),
    "default-neft5": Candidate("default", {}, Levers(neftune_alpha=5.0)),
    "default-2ep-drop0.1": Candidate("default", {"epochs": 2}, Levers(dropout=0.1)),
    "default-drop0.1": Candidate("default", {}, Levers(dropout=0.1)),
    # Batch size: the same posts in more, smaller steps (huggingtweets takes ~25 posts a step).
    "default-bs8": Candidate("default", {"batch_size": 8}),
    "default-bs4": Candidate("default", {"batch_size": 4}),
    "thorough-bs8": Candidate("thorough", {"batch_size": 8}),
    # Precision: float32 steps where the CPU computes bfloat16 natively (AMX), against bf16 autocast.
    "default-fp32": Candidate("default", {"bf16": False}),
    "thorough-fp32": Candidate("thorough", {"bf16": False}),
    # Speed: the softmax over the training posts' tokens only (about 7,000 of 49,152).
    "default-tv": Candidate("default", {}, Levers(train_vocab=True)),
    # Ceilings: three passes at the recipe's constant rate, no early stopping, validation and
    # test every 20 steps, to see the lowest perplexity more training could reach at any time.
    "default-3ep-watch": Candidate("default", {"epochs": 3, "early_stopping": False}, Levers(eval_every=20)),
    "thorough-3ep-watch": Candidate("thorough", {"epochs": 3, "early_stopping": False}, Levers(eval_every=20)),
}


def account_sources(root: Path = SHARED_TWEETS) -> dict[str, Path]:
    """Account name → its CSV file or X archive folder."""
    sources = {}
    for path in sorted(root.iterdir()):
        if path.suffix == ".csv":
            sources[path.stem] = path
        elif path.is_dir():
            sources[path.name.removesuffix("-archive")] = path
    return sources


def account_dataset(account: str, source: Path):
    """ACCOUNT's dataset as `tweetling prepare` makes it (imported into the bench store once)."""
    from tweetling.dataset import PrepareConfig, prepare
    from tweetling.importer import import_path
    from tweetling.store import Store

    with Store() as store:
        if not store.count_posts(account):
            import_path(store, source, account=account if source.suffix == ".csv" else None)
        return prepare(store, [account], PrepareConfig())


def machine() -> dict:
    import torch

    from tweetling.models import computes_bf16

    cpuinfo = Path("/proc/cpuinfo")
    names = [line for line in cpuinfo.read_text().splitlines() if "model name" in line] if cpuinfo.exists() else []
    cpu = names[0].split(":", 1)[1].strip() if names else platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "bf16": computes_bf16("cpu"), "torch": torch.__version__}


def candidate_config(name: str, seed: int, threads: int | None, dataset):
    """NAME's TrainConfig as it trains on DATASET (sized to the posts it trains on, as `fine_tune`
    sizes it)."""
    from tweetling.recipes import recipe
    from tweetling.train import posts_to_train

    candidate = CANDIDATES[name]
    config = recipe(candidate.recipe, checkpoint_every=0, seed=seed, threads=threads, **candidate.overrides)
    return config.sized(len(posts_to_train(dataset, config)))


def settings(name: str, seed: int, threads: int | None, dataset) -> dict:
    """Everything that decides a run's result: the resolved recipe, the levers and the seed."""
    candidate = CANDIDATES[name]
    config = candidate_config(name, seed, threads, dataset)
    return {"config": asdict(config), "levers": asdict(candidate.levers), **({"loop": True} if candidate.loop else {})}


# Settings newer than some cached runs, with the value that does what the code did before them.
BEFORE_THEM = {"max_steps": None, "near_duplicate_words": None}
SIZING = ("min_steps", "max_epochs")  # they only decide epochs, which the rows hold resolved


def same_settings(stored: dict, current: dict) -> bool:
    """Whether a cached run's settings are CURRENT's. A setting the cached run predates counts
    as the same when CURRENT sets it to what the code did before it (BEFORE_THEM; otherwise its
    default); threads never change a result."""
    from tweetling.recipes import TrainConfig

    defaults = {"config": asdict(TrainConfig()), "levers": asdict(Levers())}
    for part in ("config", "levers"):
        for name, value in current[part].items():
            if name == "threads" or name in SIZING:
                continue
            if name not in stored[part]:
                if value != BEFORE_THEM.get(name, defaults[part][name]):
                    return False
            elif json.dumps(stored[part][name]) != json.dumps(value):
                return False
    return stored.get("loop", False) == current.get("loop", False)


def find_cached(rows: list[dict], account: str, dataset_hash: str, candidate_settings: dict) -> dict | None:
    for row in reversed(rows):
        same_data = row.get("account") == account and row.get("dataset") == dataset_hash
        if same_data and "config" in row and same_settings(row, candidate_settings):
            return row
    return None


def cached_rows(results: Path) -> list[dict]:
    if not results.exists():
        return []
    return [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_candidate(name: str, dataset, seed: int, threads: int | None) -> dict:
    """Train NAME on DATASET and measure it; the row of the results file, without its key."""
    import torch

    from levers import fit_temperature, temperature_loss, token_logits, train_with_levers
    from tweetling.models import DEFAULT_BASE, load_base
    from tweetling.train import heldout_perplexity, prepare_model, train_model

    candidate = CANDIDATES[name]
    config = candidate_config(name, seed, threads, dataset)
    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    torch.manual_seed(config.seed)
    model, tokenizer = load_base(DEFAULT_BASE)
    model = prepare_model(model, config)
    if candidate.levers == Levers() and not candidate.loop:
        result = train_model(model, tokenizer, dataset, config)
        trained = {
            "steps": result.steps,
            "tokens": result.tokens,
            "train_time_s": result.train_time_s,
            "train_cpu_s": None,
            "stopped_early": result.stopped_early,
            "valid_perplexity": result.valid.perplexity if result.valid else None,
            "valid_history": result.history["valid"],
            "bf16": result.bf16,
        }
        trained["train_loss"] = result.history["train_loss"]
    else:
        trained = train_with_levers(model, tokenizer, dataset, config, candidate.levers, watch_test=True)
    test_texts = [e.text for e in dataset.test]
    test = heldout_perplexity(model, tokenizer, test_texts)
    wall = time.perf_counter() - started
    # Research: the temperature that fits the validation posts best, and the test perplexity with it.
    temperature = fit_temperature(model, tokenizer, [e.text for e in dataset.valid])
    calibrated = math.exp(temperature_loss(*token_logits(model, tokenizer, test_texts), temperature))
    train_loss = trained.pop("train_loss")
    last = train_loss[-min(len(train_loss), 20) :]
    return {
        "account": dataset.name,
        "dataset": dataset.manifest["hash"],
        "candidate": name,
        "seed": seed,
        **settings(name, seed, threads, dataset),
        "train_posts": len(dataset.train),
        "valid_posts": len(dataset.valid),
        "test_posts": len(dataset.test),
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in trained.items()},
        "tokens_per_s": round(trained["tokens"] / trained["train_time_s"], 1),
        "wall_time_s": round(wall, 1),
        "cpu_s": round(time.process_time() - cpu_started, 1),
        "last_train_loss": round(sum(loss * n for _, loss, n in last) / sum(n for _, _, n in last), 4),
        "test_loss": round(test.loss, 5),
        "test_perplexity": round(test.perplexity, 3),
        "temperature": round(temperature, 3),
        "test_perplexity_calibrated": round(calibrated, 3),
        "threads": torch.get_num_threads(),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "machine": machine(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def base_perplexity(dataset) -> dict:
    from tweetling.models import DEFAULT_BASE, load_base
    from tweetling.train import heldout_perplexity

    model, tokenizer = load_base(DEFAULT_BASE)
    return {
        part: round(heldout_perplexity(model, tokenizer, [e.text for e in getattr(dataset, part)]).perplexity, 3)
        for part in ("valid", "test")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("candidates", nargs="+", help=f"any of: {', '.join(CANDIDATES)}")
    parser.add_argument("--account", action="append", help="account(s) of ../shared/data/tweets (default: all)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (not part of the cache key)")
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[42], help="each candidate runs once per seed")
    parser.add_argument("--home", type=Path, default=Path("/tmp/tweetling-bench"), help="TWEETLING_HOME of the bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--rerun", action="store_true", help="measure again what the results file already has")
    args = parser.parse_args()
    unknown = [c for c in args.candidates if c not in CANDIDATES]
    sources = account_sources()
    unknown += [a for a in args.account or [] if a not in sources]
    if unknown:
        sys.exit(f"unknown candidates or accounts: {', '.join(unknown)}")
    os.environ["TWEETLING_HOME"] = str(args.home)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    args.results.parent.mkdir(parents=True, exist_ok=True)
    rows = cached_rows(args.results)

    def record(row: dict) -> dict:
        rows.append(row)
        with args.results.open("a", encoding="utf-8") as results:
            results.write(json.dumps(row) + "\n")
        return row

    for account in args.account or list(sources):
        dataset = account_dataset(account, sources[account])
        digest = dataset.manifest["hash"]
        base = next((r for r in rows if r.get("dataset") == digest and "base" in r), None)
        base = base or record({"account": account, "dataset": digest, "base": base_perplexity(dataset)})
        print(
            f"\n{account}: {len(dataset.train)} train / {len(dataset.valid)} valid / {len(dataset.test)} test posts; "
            f"base model test perplexity {base['base']['test']}"
        )
        print("| candidate | seed | steps | tokens | train s | cpu s | tok/s | valid ppl | test ppl | cached |")
        print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
        for name in args.candidates:
            for seed in args.train_seeds:
                current = settings(name, seed, args.threads, dataset)
                row = None if args.rerun else find_cached(rows, account, digest, current)
                cached = row is not None
                row = row or record(run_candidate(name, dataset, seed, args.threads))
                print(
                    f"| {name} | {seed} | {row['steps']} | {row['tokens']:,} | {row['train_time_s']:.0f} "
                    f"| {row['cpu_s']:.0f} | {row['tokens_per_s']} | {row['valid_perplexity']:.2f} "
                    f"| {row['test_perplexity']:.2f} | {'yes' if cached else ''} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
