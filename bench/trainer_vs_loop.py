"""tweetling's training loop (`train.train_model`) against transformers' `Trainer`, on the same data
and settings: the measurement behind keeping the custom loop (issue 17).

One account of ../shared/data/tweets/ is prepared as `tweetling prepare` does and the "default"
recipe is sized to its training posts. Each runner loads the embedded base model fresh (seeded
as `fine_tune` seeds it), freezes it with `train.prepare_model`, trains, then scores the test
posts with `train.heldout_perplexity` (float32, as every bench does). Both train in float32 (bf16
forced off in both: this CPU has no native bf16) on exactly the same steps:

- the batches are the list `train.training_batches` plans (all epochs, in order, length-grouped),
  which `Trainer` reads one pre-planned batch per item with a sequential sampler, one epoch over
  the list, no gradient accumulation;
- the loss of a step is the mean over the batch's target tokens (`train.token_loss`'s sum over
  its count), AdamW with the same rate and weight-decay groups (`train.optimizer_groups`), the
  same warm-up and schedule (`train._lr_lambda` in a LambdaLR, stepped after each optimizer step
  in both), the same gradient clipping and seed.

The default recipe validates after each epoch and stops early; here the loop runs with
early_stopping off and no validation posts, so both runners take exactly the same steps and
neither spends time on validation (`Trainer` runs with no evaluation and no saving). Each runner
runs in a fresh process (`--runner`), so its peak RSS is its own; the parent prints a Markdown
table and appends each row, with the machine's facts and versions, to --results. The step losses
are in the rows (`first_losses`, `losses`): with identical steps they should agree to rounding.

    python bench/trainer_vs_loop.py --account andreruffert --threads 2 --repeat 2
    python bench/trainer_vs_loop.py --limit 48     # the first 48 training posts: a quick check

"train s" is the wall time of the whole training call: for the loop `train_model` (it encodes
and plans the posts itself), for `Trainer` the same encoding and planning, building the
optimizer, schedule and `Trainer`, and `trainer.train()`; "steps s" counts the steps only.
Times depend on the machine and its load; run it on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recipe_search import account_dataset, account_sources, machine

RESULTS = Path(__file__).resolve().parent / "results" / "trainer_vs_loop.jsonl"
RUNNERS = ("loop", "trainer")


def bench_config(train_posts: int, seed: int, threads: int | None):
    """The default recipe sized to TRAIN_POSTS, float32, no early stopping and no checkpoints."""
    from tweetling.recipes import RECIPES

    config = replace(
        RECIPES["default"], bf16=False, early_stopping=False, checkpoint_every=0, seed=seed, threads=threads
    )
    return config.sized(train_posts)


def bench_dataset(account: str, limit: int | None):
    """ACCOUNT's dataset with its first LIMIT training posts and no validation posts (nothing validates)."""
    dataset = account_dataset(account, account_sources()[account])
    return replace(dataset, train=dataset.train[:limit] if limit else dataset.train, valid=[])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def train_loop(model, tokenizer, dataset, config) -> dict:
    from tweetling.train import train_model

    started = time.perf_counter()
    result = train_model(model, tokenizer, dataset, config)
    wall = time.perf_counter() - started
    return {
        "steps": result.steps,
        "tokens": result.tokens,
        "train_s": wall,
        "steps_s": result.train_time_s,
        "losses": [loss for _, loss, _ in result.history["train_loss"]],
        "bf16": result.bf16,
    }


def train_trainer(model, tokenizer, dataset, config, threads: int | None) -> dict:
    """Train MODEL with transformers' `Trainer` on the loop's batches, loss and schedule."""
    import tempfile

    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from tweetling.models import context_length
    from tweetling.train import (
        _lr_lambda,
        collate,
        encode,
        optimizer_groups,
        posts_to_train,
        token_loss,
        training_batches,
    )

    class Batches(torch.utils.data.Dataset):
        """Item i is the i-th pre-planned batch (a list of token id lists)."""

        def __init__(self, batches):
            self.batches = batches

        def __len__(self):
            return len(self.batches)

        def __getitem__(self, index):
            return self.batches[index]

    def unwrap(items):  # a DataLoader batch of one item: the planned batch, collated as the loop does
        (batch,) = items
        input_ids, mask, targets = collate(batch, tokenizer.eos_token_id)
        return {"input_ids": input_ids, "attention_mask": mask, "targets": targets}

    losses: list[float] = []

    class TokenLossTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss_sum, count = token_loss(model, inputs["input_ids"], inputs["attention_mask"], inputs["targets"])
            loss = loss_sum / count
            losses.append(loss.item())
            return loss

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.elapsed, self.started = 0.0, 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.elapsed += time.perf_counter() - self.started

    started = time.perf_counter()
    max_length = min(config.max_length, context_length(model))
    posts = [ids for ids in encode(tokenizer, posts_to_train(dataset, config)) if ids]
    batches, _ = training_batches(posts, config, tokenizer.eos_token_id, max_length)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(optimizer_groups(params, config), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, len(batches)))
    timer = StepTimer()
    with tempfile.TemporaryDirectory(prefix="trainer-vs-loop-") as output_dir:
        args = TrainingArguments(
            output_dir=output_dir,
            per_device_train_batch_size=1,  # one item = one whole pre-planned batch
            gradient_accumulation_steps=1,
            num_train_epochs=1,  # the list holds every epoch already
            train_sampling_strategy="sequential",  # the planned order, not reshuffled
            remove_unused_columns=False,  # keep "targets" (not an argument of the model's forward)
            learning_rate=config.learning_rate,
            weight_decay=config.weight_decay,
            max_grad_norm=config.max_grad_norm,
            bf16=False,
            fp16=False,
            use_cpu=True,
            seed=config.seed,
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="no",
            logging_steps=1_000_000,
            report_to=[],
            disable_tqdm=True,
            dataloader_num_workers=0,
            dataloader_pin_memory=False,
        )
        trainer = TokenLossTrainer(
            model=model,
            args=args,
            train_dataset=Batches(batches),
            data_collator=unwrap,
            optimizers=(optimizer, scheduler),
            callbacks=[timer],
        )
        trainer.remove_callback(PrinterCallback)
        if threads:  # Trainer does not set threads; the loop sets them from the config
            torch.set_num_threads(threads)
        trainer.train()
    wall = time.perf_counter() - started
    return {
        "steps": trainer.state.global_step,
        "tokens": sum(len(ids) - 1 for batch in batches for ids in batch),
        "train_s": wall,
        "steps_s": timer.elapsed,
        "losses": losses,
        "bf16": bool(args.bf16),
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
    }


def run_runner(runner: str, account: str, limit: int | None, seed: int, threads: int | None) -> dict:
    """Train with RUNNER in this process and measure it: one results row."""
    import torch
    import transformers

    from tweetling.models import DEFAULT_BASE, load_base
    from tweetling.train import heldout_perplexity, prepare_model

    if threads:
        torch.set_num_threads(threads)
    dataset = bench_dataset(account, limit)
    config = bench_config(len(dataset.train), seed, threads)
    load_before, cpu_started = os.getloadavg()[0], time.process_time()
    torch.manual_seed(config.seed)  # as fine_tune and recipe_search seed before loading the base
    model, tokenizer = load_base(DEFAULT_BASE)
    model = prepare_model(model, config)
    if runner == "loop":
        trained = train_loop(model, tokenizer, dataset, config)
    else:
        trained = train_trainer(model, tokenizer, dataset, config, threads)
    rss = peak_rss_mb()  # training's peak: the test pass below runs forward only
    load_after = os.getloadavg()[0]
    test = heldout_perplexity(model, tokenizer, [e.text for e in dataset.test])
    losses = trained.pop("losses")
    return {
        "account": dataset.name,
        "dataset": dataset.manifest["hash"],
        "runner": runner,
        "config": asdict(config),
        "limit": limit,
        "train_posts": len(dataset.train),
        "test_posts": len(dataset.test),
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in trained.items()},
        "tokens_per_s": round(trained["tokens"] / trained["train_s"], 1),
        "steps_tokens_per_s": round(trained["tokens"] / trained["steps_s"], 1),
        "peak_rss_mb": round(rss, 1),
        "cpu_s": round(time.process_time() - cpu_started, 1),
        "test_loss": round(test.loss, 5),
        "test_perplexity": round(test.perplexity, 3),
        "first_losses": losses[:3],
        "losses": [round(loss, 6) for loss in losses],
        "threads": torch.get_num_threads(),
        "load_before": round(load_before, 2),
        "load_after": round(load_after, 2),
        "machine": machine(),
        "transformers": transformers.__version__,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--account", default="andreruffert", help="an account of ../shared/data/tweets")
    parser.add_argument("--limit", type=int, help="train on the first N training posts only (a quick check)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--home", type=Path, default=Path("/tmp/tb-final"), help="TWEETLING_HOME of the bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--repeat", type=int, default=1, help="measure each runner this many times")
    parser.add_argument("--runner", choices=RUNNERS, help="run one runner in this process and print its row (JSON)")
    args = parser.parse_args()
    if args.account not in account_sources():
        sys.exit(f"unknown account {args.account!r}; use one of {', '.join(account_sources())}")
    os.environ["TWEETLING_HOME"] = str(args.home)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()

    if args.runner:
        row = run_runner(args.runner, args.account, args.limit, args.seed, args.threads)
        print(json.dumps(row), flush=True)
        return

    args.results.parent.mkdir(parents=True, exist_ok=True)
    options = ["--account", args.account, "--seed", str(args.seed), "--home", str(args.home)]
    options += ["--limit", str(args.limit)] if args.limit else []
    options += ["--threads", str(args.threads)] if args.threads else []
    rows = []
    # Each in a fresh process (its own peak RSS, no state shared); repeats alternate the order,
    # so a machine that slows down or speeds up over the run favours neither runner.
    order = [runner for i in range(args.repeat) for runner in (RUNNERS if i % 2 == 0 else RUNNERS[::-1])]
    for runner in order:
        child = subprocess.run(
            [sys.executable, __file__, "--runner", runner, *options], stdout=subprocess.PIPE, text=True, check=True
        )
        row = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append(row)
        with args.results.open("a", encoding="utf-8") as results:
            results.write(json.dumps(row) + "\n")

    first = rows[0]
    print(
        f"\n{first['account']}: {first['train_posts']} train posts, {first['test_posts']} test posts; "
        f"recipe default, {first['config']['epochs']} epoch(s), float32, seed {args.seed}, "
        f"{first['threads']} threads"
    )
    print("| runner | steps | train tokens | train s | steps s | tokens/s | peak RSS MB | test ppl |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['runner']} | {row['steps']} | {row['tokens']:,} | {row['train_s']:.1f} | {row['steps_s']:.1f} "
            f"| {row['tokens_per_s']:.0f} | {row['peak_rss_mb']:.0f} | {row['test_perplexity']:.3f} |"
        )
    loop = next(row for row in rows if row["runner"] == "loop")
    trainer = next(row for row in rows if row["runner"] == "trainer")
    pairs = list(zip(loop["losses"], trainer["losses"], strict=False))  # steps may differ
    if pairs:
        print(
            f"\nfirst step losses: loop {loop['first_losses']}, Trainer {trainer['first_losses']}; "
            f"largest step-loss difference over {len(pairs)} steps: {max(abs(a - b) for a, b in pairs):.2e}"
        )


if __name__ == "__main__":
    main()
