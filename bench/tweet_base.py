"""Would a base that has seen tweets reach the issue-12 targets? Leave one account out.

The embedded base (SmolLM2-135M Instruct, dequantized from Q4_1) has never been trained on
posts. This bench first trains it for --adapt-steps steps on the training posts of every *other*
account of ../shared/data/tweets/ (the default recipe), then trains the default and thorough
recipes on TARGET from that "tweet base", as `tweetling train` would, and scores TARGET's test
posts. Compare with the recipes from the plain base in section (a) of bench/README.md (the same
split, seed and code):

    python bench/tweet_base.py --account andreruffert --adapt-steps 300

Each stage is one JSON line in --results.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recipe_search import account_dataset, account_sources, machine

RESULTS = Path(__file__).resolve().parent / "results" / "tweet_base.jsonl"


def others_dataset(datasets: dict, target: str):
    """The training and validation posts of every account but TARGET, as one dataset."""
    from tweetling.dataset import Dataset

    others = [dataset for name, dataset in datasets.items() if name != target]
    manifest = {"name": f"all-but-{target}", "accounts": [d.name for d in others], "hash": f"all-but-{target}"}
    train = [example for dataset in others for example in dataset.train]
    valid = [example for dataset in others for example in dataset.valid]
    return Dataset(Path(os.devnull), manifest, train, valid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--account", required=True, help="the account left out, then trained on")
    parser.add_argument("--adapt-steps", type=int, default=300, help="steps of 16 posts on the other accounts")
    parser.add_argument("--home", type=Path, default=Path("/tmp/tweetling-bench"), help="TWEETLING_HOME of the bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ["TWEETLING_HOME"] = str(args.home)

    import torch

    from tweetling.models import DEFAULT_BASE, load_base
    from tweetling.recipes import recipe
    from tweetling.train import heldout_perplexity, posts_to_train, prepare_model, train_model

    datasets = {name: account_dataset(name, source) for name, source in account_sources().items()}
    target = datasets[args.account]
    test_texts = [example.text for example in target.test]

    def record(stage: str, model, tokenizer, **facts) -> None:
        row = {
            "account": args.account,
            "dataset": target.manifest["hash"],
            "stage": stage,
            **facts,
            "test_perplexity": round(heldout_perplexity(model, tokenizer, test_texts).perplexity, 3),
            "machine": machine(),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        print(json.dumps(row), flush=True)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        with args.results.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")

    torch.manual_seed(42)
    base, tokenizer = load_base(DEFAULT_BASE)
    record("plain base", base, tokenizer)

    others = others_dataset(datasets, args.account)
    config = recipe("default", checkpoint_every=0, seed=42, epochs=1, max_steps=args.adapt_steps)
    started = time.perf_counter()
    adapted = prepare_model(copy.deepcopy(base), config)
    result = train_model(adapted, tokenizer, others, config)
    tweet_base = {name: tensor.detach().clone() for name, tensor in adapted.state_dict().items()}
    facts = {"posts": len(others.train), "steps": result.steps, "tokens": result.tokens}
    record("tweet base", adapted, tokenizer, **facts, wall_time_s=round(time.perf_counter() - started, 1))

    for name in ("default", "thorough"):
        torch.manual_seed(42)
        model = copy.deepcopy(base)
        model.load_state_dict(tweet_base)
        config = recipe(name, checkpoint_every=0, seed=42)
        config = config.sized(len(posts_to_train(target, config)))
        model = prepare_model(model, config)
        started = time.perf_counter()
        result = train_model(model, tokenizer, target, config)
        facts = {"steps": result.steps, "wall_time_s": round(time.perf_counter() - started, 1)}
        record(f"{name} from the tweet base", model, tokenizer, **facts)


if __name__ == "__main__":
    main()
