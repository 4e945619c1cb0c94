"""Fine-tuning a base model on a prepared dataset: a plain PyTorch loop (nanoGPT-style,
data-parallel under a launcher) with atomic checkpoints and exact resume. What a training is
(config, recipes, progress) lives in `recipes`; the bot folder it writes, in `bots`."""

from __future__ import annotations

import hashlib
import json
import math
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import bots, paths, track
from .dataset import Dataset
from .distributed import SINGLE, World
from .distributed import world as current_world
from .errors import TweetlingError
from .generate import word_ngrams, words
from .models import DEFAULT_BASE, computes_bf16, context_length, decoder_blocks, load_base, lora_targets
from .recipes import SCHEDULES, ProgressCallback, TrainConfig, TrainingInterrupted, TrainProgress


@dataclass
class Perplexity:
    loss: float  # mean negative log-likelihood per token
    perplexity: float
    tokens: int


@dataclass
class TrainResult:
    model: Any
    steps: int
    tokens: int
    train_time_s: float
    train_loss: float | None
    valid: Perplexity | None
    history: dict = field(default_factory=dict)
    stopped_early: bool = False
    bf16: bool = False  # whether the steps ran under bf16 autocast
    near_duplicates: int = 0  # training posts left out as near-duplicates of others (`posts_to_train`)


# --- examples ----------------------------------------------------------------------------------


def frame_post(ids: list[int], eos_id: int, max_length: int) -> list[int]:
    """A post as generation sees it: EOS prefix, the post's tokens, EOS; cut to MAX_LENGTH."""
    return [eos_id, *ids[: max_length - 2], eos_id]


def posts_to_train(dataset: Dataset, config: TrainConfig) -> list[str]:
    """The texts of DATASET's training posts that training steps on: without each post that shares
    config.near_duplicate_words words in a row with another text kept before it. Repeats of a
    kept text stay: a blend repeats a smaller account's posts to balance it."""
    texts = [e.text for e in dataset.train]
    n = config.near_duplicate_words
    if n is None:
        return texts
    seen: set[tuple[str, ...]] = set()
    kept: set[str] = set()
    for text in dict.fromkeys(texts):
        ngrams = word_ngrams(words(text), n)
        if seen.isdisjoint(ngrams):
            seen |= ngrams
            kept.add(text)
    return [text for text in texts if text in kept]


def encode(tokenizer, texts: list[str]) -> list[list[int]]:
    return tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []


def plan_batches(posts: list[list[int]], config: TrainConfig, eos_id: int, max_length: int) -> list[list[list[int]]]:
    """Every training batch in order, all epochs, as token id lists; deterministic given the seed.

    Per-post batches group posts of similar length (less padding) and come in random order;
    packed batches cut each epoch's shuffled EOS-joined stream into blocks of MAX_LENGTH.
    """
    rng = random.Random(config.seed)
    batches: list[list[list[int]]] = []
    for _ in range(config.sized_epochs):
        order = list(range(len(posts)))
        rng.shuffle(order)
        if config.packing:
            stream = [token for i in order for token in [eos_id] + posts[i]] + [eos_id]
            blocks = [stream[start : start + max_length] for start in range(0, len(stream) - 1, max_length)]
            blocks = [block for block in blocks if len(block) > 1]
            batches += [blocks[start : start + config.batch_size] for start in range(0, len(blocks), config.batch_size)]
        else:
            examples = [frame_post(posts[i], eos_id, max_length) for i in order]
            examples.sort(key=len)  # stable: equal lengths keep their shuffled order
            epoch = [
                examples[start : start + config.batch_size] for start in range(0, len(examples), config.batch_size)
            ]
            rng.shuffle(epoch)
            batches += epoch
    return batches


def training_batches(
    posts: list[list[int]], config: TrainConfig, eos_id: int, max_length: int
) -> tuple[list[list[list[int]]], int]:
    """The batches a (sized) CONFIG trains on, cut at its max_steps, and the steps of a whole epoch."""
    batches = plan_batches(posts, config, eos_id, max_length)
    return batches[: config.max_steps], math.ceil(len(batches) / config.sized_epochs)


def collate(batch: list[list[int]], pad_id: int):
    """Right-padded input ids, attention mask and targets (-100 on padding)."""
    import torch

    width = max(map(len, batch))
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = 1
    targets = input_ids.masked_fill(mask == 0, -100)
    return input_ids, mask, targets


def token_loss(model, input_ids, mask, targets):
    """Summed next-token loss over the non-padding targets, and how many there were."""
    import torch.nn.functional as F

    logits = model(input_ids=input_ids, attention_mask=mask).logits[:, :-1]
    labels = targets[:, 1:]
    loss = F.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100, reduction="sum"
    )
    return loss, int((labels != -100).sum())


def heldout_perplexity(
    model, tokenizer, texts: list[str], batch_size: int = 16, max_length: int = 1024, world: World = SINGLE
) -> Perplexity:
    """Token-level perplexity of TEXTS framed as generation sees them (EOS + post + EOS), over
    each post's tokens and its final EOS; float32, the same for every recipe. Under a launcher
    each process measures its share of the posts."""
    import torch

    eos_id = tokenizer.eos_token_id
    max_length = min(max_length, context_length(model))
    posts = world.shard(sorted((frame_post(ids, eos_id, max_length) for ids in encode(tokenizer, texts)), key=len))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    local_total, local_count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(posts), batch_size):
            input_ids, mask, targets = (t.to(device) for t in collate(posts[start : start + batch_size], eos_id))
            loss, tokens = token_loss(model, input_ids, mask, targets)
            local_total, local_count = local_total + float(loss), local_count + tokens
    model.train(was_training)
    total, count = world.sum(local_total, local_count)
    if count == 0:
        raise TweetlingError("no held-out posts to measure perplexity on")
    return Perplexity(loss=total / count, perplexity=math.exp(total / count), tokens=int(count))


# --- the loop ----------------------------------------------------------------------------------


def _lr_lambda(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    warmup = round(total_steps * config.warmup_ratio)
    schedule = SCHEDULES[config.lr_scheduler]

    def factor(step: int) -> float:
        # 1) linear warm-up to the full rate; 2) then the schedule, from 1 at the end of warm-up
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return schedule((step - warmup) / max(1, total_steps - warmup))

    return factor


class StopOnSignal:
    """The first Ctrl-C, or SIGTERM (`kill`, systemd, docker stop), asks the work to stop where it
    is consistent (the loop: after the current step, so the checkpoint is); a second one
    interrupts at once.

    Nested (a sweep around each trial's training), a request made outside reaches the inner one
    as it starts, and one made inside, deferred there, reaches the outer one as it ends."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self.forced = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}
            self.requested = any(outer.requested for outer in self._outer())
        return self

    def _outer(self) -> list[StopOnSignal]:
        handlers = (getattr(previous, "__self__", None) for previous in self._previous.values())
        return [handler for handler in handlers if isinstance(handler, StopOnSignal)]

    def _handle(self, signum, frame) -> None:
        if self.requested:
            self.forced = True
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for outer in self._outer():
            outer.requested |= self.requested
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def trainable_weights(model) -> dict:
    """A copy of MODEL's trainable parameters by name."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def load_weights(model, weights: dict) -> None:
    """Copy WEIGHTS (by parameter name) into MODEL."""
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in weights:
                p.copy_(weights[name])


@dataclass
class Best:
    """The lowest validation loss so far, and the trainable weights it was measured with (kept
    only under early stopping, which restores them)."""

    loss: float = math.inf
    perplexity: float = math.inf
    step: int = 0
    weights: dict | None = None


@dataclass
class TrainState:
    """Where a training stands, all of it that a checkpoint saves and a resume restores: the
    counters, the loss history, the best validation, the trainable weights, the optimizer, the
    learning-rate schedule and the random number generators."""

    model: Any
    optimizer: Any
    scheduler: Any
    step: int = 0
    tokens: int = 0  # target tokens trained on
    elapsed: float = 0.0  # seconds spent in steps (validation and checkpoints excluded)
    train_losses: list[tuple[int, float, int]] = field(default_factory=list)  # (step, loss, tokens)
    validations: list[tuple[int, float, float]] = field(default_factory=list)  # (step, loss, perplexity)
    best: Best = field(default_factory=Best)
    stopped_early: bool = False

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.elapsed if self.elapsed else 0.0

    def record_validation(self, valid: Perplexity, keep_weights: bool) -> bool:
        """Add VALID to the history; whether it is the best so far (then it becomes the best)."""
        self.validations.append((self.step, valid.loss, valid.perplexity))
        if valid.loss >= self.best.loss:
            return False
        self.best = Best(
            valid.loss, valid.perplexity, self.step, trainable_weights(self.model) if keep_weights else None
        )
        return True

    def state_dict(self) -> dict:
        import torch

        return {
            "step": self.step,
            "tokens": self.tokens,
            "elapsed": self.elapsed,
            "train_losses": self.train_losses,
            "validations": self.validations,
            "best": vars(self.best),
            "stopped_early": self.stopped_early,
            "trainable": trainable_weights(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
        }

    def load_state_dict(self, state: dict) -> None:
        import torch

        self.step, self.tokens, self.elapsed = state["step"], state["tokens"], state["elapsed"]
        self.train_losses, self.validations = state["train_losses"], state["validations"]
        self.best, self.stopped_early = Best(**state["best"]), state["stopped_early"]
        load_weights(self.model, state["trainable"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])


def _save_checkpoint(path: Path, checkpoint: dict) -> None:
    import torch

    with paths.atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


# Settings that do not change what a step computes: a training may resume with other values.
_RESUMABLE_CHANGES = ("max_time_s", "checkpoint_every", "threads")


def _saved_state(checkpoint: Path | None, identity: dict, plan: str, device) -> dict:
    """The training state saved in CHECKPOINT, when it was made with IDENTITY and the batch PLAN."""
    if checkpoint is None or not checkpoint.exists():
        raise TweetlingError(f"no checkpoint to resume from at {checkpoint}")
    saved = _load_checkpoint(checkpoint, map_location=device)
    changed = _identity_changes(saved["identity"], identity)
    if changed or saved["plan"] != plan:
        what = "; ".join(changed) or "the posts trained on or their order"
        raise TweetlingError(
            f"{checkpoint} was made with other settings or data ({what}): resume with the same ones,"
            " or start again without --resume"
        )
    return saved["state"]


def _identity_changes(saved: dict, now: dict) -> list[str]:
    """What differs between the identity a checkpoint was SAVED with and the one training has NOW."""
    changes = [
        f"{key}: {saved.get(key)!r} then, {now.get(key)!r} now"
        for key in ("base", "dataset")
        if saved.get(key) != now.get(key)
    ]
    before, after = (
        {k: v for k, v in (identity.get("config") or {}).items() if k not in _RESUMABLE_CHANGES}
        for identity in (saved, now)
    )
    changes += [
        f"{key}: {before.get(key)!r} then, {after.get(key)!r} now"
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]
    return changes


def optimizer_groups(params: list, config: TrainConfig) -> list[dict]:
    """AdamW's parameter groups for PARAMS: weight decay on matrices only, not on norms and biases."""
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def train_model(
    model,
    tokenizer,
    dataset: Dataset,
    config: TrainConfig,
    *,
    checkpoint: Path | None = None,
    resume: bool = False,
    identity: dict | None = None,
    extra: dict | None = None,
    on_progress: ProgressCallback | None = None,
    run: track.Run | None = None,
    world: World = SINGLE,
    validate_first: bool = False,
    texts: list[str] | None = None,
) -> TrainResult:
    """Train MODEL on DATASET's train posts, validating on its valid posts.

    With CHECKPOINT, state is saved there every `checkpoint_every` steps and on Ctrl-C; RESUME
    continues from it (IDENTITY must match what the checkpoint was made with). EXTRA is stored
    in the checkpoint for the caller (`checkpoint_extra`). In a WORLD of several processes each
    takes its share of every batch; only the main one saves checkpoints. VALIDATE_FIRST measures
    the weights before the first step too (a bot being continued): under early stopping they
    are kept if no step improves on them. TEXTS is `posts_to_train(dataset, config)` where the
    caller has it already (on a large account it takes seconds).
    """
    import torch

    report = on_progress or (lambda progress: None)
    run = run or track.NoRun()
    texts = posts_to_train(dataset, config) if texts is None else texts
    config = config.sized(len(texts))
    identity = {"config": asdict(config), **(identity or {})}
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = next(model.parameters()).device
    eos_id = tokenizer.eos_token_id
    max_length = min(config.max_length, context_length(model))
    posts = [ids for ids in encode(tokenizer, texts) if ids]
    if not posts:
        raise TweetlingError(f"dataset {dataset.name!r} has no training posts")
    batches, steps_per_epoch = training_batches(posts, config, eos_id, max_length)
    plan_digest = hashlib.sha256(json.dumps(batches).encode()).hexdigest()
    total_steps = len(batches)
    valid_texts = [e.text for e in dataset.valid]

    stepped = world.data_parallel(model)  # what the steps run; validation and checkpoints use MODEL
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(optimizer_groups(params, config), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, total_steps))
    bf16 = config.bf16 and computes_bf16(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    state = TrainState(model, optimizer, scheduler)
    if resume:
        state.load_state_dict(_saved_state(checkpoint, identity, plan_digest, device))

    def progress(event: str, **fields) -> TrainProgress:
        epoch = math.ceil(state.step / steps_per_epoch)
        return TrainProgress(event, state.step, total_steps, epoch, state.tokens, state.tokens_per_s, **fields)

    def save(announce: bool = True) -> Path | None:
        if checkpoint is None or not world.is_main:
            return None
        _save_checkpoint(
            checkpoint, {"identity": identity, "plan": plan_digest, "extra": extra or {}, "state": state.state_dict()}
        )
        if announce:
            report(progress("checkpoint"))
        return checkpoint

    def validate() -> bool:
        """Record validation loss; False when it rose (time to stop, early stopping on)."""
        if not valid_texts:
            return True
        valid = heldout_perplexity(model, tokenizer, valid_texts, max_length=max_length, world=world)
        run.log_metrics({"valid_loss": valid.loss, "valid_perplexity": valid.perplexity}, state.step)
        report(progress("eval", valid_loss=valid.loss))
        return state.record_validation(valid, keep_weights=config.early_stopping) or not config.early_stopping

    if validate_first and state.step == 0 and not state.validations:
        validate()
    model.train()
    stop = StopOnSignal()
    try:
        with stop:
            report(progress("start"))  # the model is loaded: a caller may stop here, before the first step
            while state.step < total_steps and not state.stopped_early:
                share = world.shard(batches[state.step])
                out_of_time = config.max_time_s is not None and state.elapsed >= config.max_time_s
                # One vote per step, so every process stops at the same step.
                count, stop_votes, time_votes = world.sum(
                    sum(len(ids) - 1 for ids in share), stop.requested, out_of_time
                )
                if stop_votes:
                    raise KeyboardInterrupt
                if time_votes:
                    break
                count = int(count)
                started = time.perf_counter()
                # Backward is collective under DDP: a process with no examples in this step joins
                # in with a one-token stand-in whose loss weighs nothing.
                examples = share or [[eos_id, eos_id]]
                input_ids, mask, targets = (t.to(device) for t in collate(examples, eos_id))
                with autocast:
                    loss_sum, _ = token_loss(stepped, input_ids, mask, targets)
                # DDP averages gradients over the processes; scaled by their number, the average is
                # the sum over processes, i.e. the mean loss per token of the whole batch.
                (loss_sum * (world.size / count if share else 0.0)).backward()
                local_loss = loss_sum.item() if share else 0.0
                if config.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state.step += 1
                state.tokens += count
                state.elapsed += time.perf_counter() - started
                loss = world.sum(local_loss)[0] / count
                state.train_losses.append((state.step, loss, count))
                run.log_metrics({"train_loss": loss, "learning_rate": float(scheduler.get_last_lr()[0])}, state.step)
                eta = (total_steps - state.step) * state.elapsed / state.step
                report(progress("step", loss=loss, eta_s=eta))
                end_of_epoch = state.step % steps_per_epoch == 0 or state.step == total_steps
                if end_of_epoch or (config.eval_every and state.step % config.eval_every == 0):
                    state.stopped_early = not validate()
                if checkpoint is not None and config.checkpoint_every and state.step % config.checkpoint_every == 0:
                    save()
    except KeyboardInterrupt:
        # The callback may be what interrupted; before the first step there is nothing to save.
        saved_to = None if stop.forced or state.step == 0 else save(announce=False)
        raise TrainingInterrupted(state.step, total_steps, saved_to) from None

    return TrainResult(
        model=model,
        steps=state.step,
        tokens=state.tokens,
        train_time_s=state.elapsed,
        train_loss=_last_epoch_loss(state, steps_per_epoch),
        valid=_final_validation(state, config, valid_texts, tokenizer, max_length, world),
        history={"train_loss": state.train_losses, "valid": state.validations},
        stopped_early=state.stopped_early,
        bf16=bf16,
        near_duplicates=len(dataset.train) - len(texts),
    )


def _final_validation(
    state: TrainState, config: TrainConfig, valid_texts: list[str], tokenizer, max_length: int, world: World
) -> Perplexity | None:
    """The validation of the weights training leaves: the best ones under early stopping
    (restored into the model), else the last step's, measured now if it was not yet."""
    if state.best.weights is not None and state.best.step != state.step:
        load_weights(state.model, state.best.weights)
        return Perplexity(state.best.loss, state.best.perplexity, 0)
    if state.validations and state.validations[-1][0] == state.step:
        return Perplexity(state.validations[-1][1], state.validations[-1][2], 0)
    if valid_texts:
        return heldout_perplexity(state.model, tokenizer, valid_texts, max_length=max_length, world=world)
    return None


def _last_epoch_loss(state: TrainState, steps_per_epoch: int) -> float | None:
    """The mean training loss per token over the last epoch's steps."""
    last_epoch = [(loss, n) for s, loss, n in state.train_losses if s > state.step - steps_per_epoch]
    return sum(loss * n for loss, n in last_epoch) / sum(n for _, n in last_epoch) if last_epoch else None


# --- the plan shown before training ---------------------------------------------------------------


@dataclass(frozen=True)
class TrainPlan:
    """What a training will do, decided before it starts: the recipe sized to the posts, and how
    long it should take on this machine, from a few timed steps (an estimate)."""

    posts: int  # training posts
    epochs: int
    steps: int
    batch_size: int
    tokens: int  # target tokens over every step
    sampled: bool  # the step budget stops training before the last epoch ends (a sample of the posts)
    learning_rate: float
    bf16: bool
    device: str
    tokens_per_s: float | None = None  # measured on this machine; None when not timed
    estimated_s: float | None = None
    near_duplicates: int = 0  # training posts left out (`posts_to_train`)

    @property
    def posts_trained(self) -> str:
        """How many posts training steps on, and how many near-duplicates it leaves out."""
        left_out = f" ({self.near_duplicates:,} near-duplicates left out)" if self.near_duplicates else ""
        return f"{self.posts:,} posts{left_out}"

    def describe(self) -> str:
        """The plan in one line, as the CLI shows it."""
        epochs = f"{self.epochs} epoch{'s' if self.epochs > 1 else ''}" + (" (a sample)" if self.sampled else "")
        text = (
            f"{self.posts_trained}, {epochs}: {self.steps:,} steps of {self.batch_size} "
            f"({self.tokens:,} tokens), lr {self.learning_rate:g}, {'bf16' if self.bf16 else 'float32'} "
            f"on {self.device}"
        )
        if self.estimated_s is None:
            return text
        return (
            f"{text}; about {math.ceil(self.estimated_s / 60)} min on this machine "
            f"(an estimate from timed steps: {self.tokens_per_s:,.0f} tokens/s)"
        )


def plan_training(
    model, tokenizer, dataset: Dataset, config: TrainConfig, timed_steps: int = 2, texts: list[str] | None = None
) -> TrainPlan:
    """The plan of training the prepared MODEL on DATASET with CONFIG. With TIMED_STEPS, that many
    steps of median-length batches (after one untimed warm-up) measure this machine's speed: the
    model's weights stay as they were (the optimizer steps with a zero learning rate), and
    training reseeds its random numbers, so it is the same with or without a plan. TEXTS as in
    `train_model`."""
    texts = posts_to_train(dataset, config) if texts is None else texts
    config = config.sized(len(texts))
    device = next(model.parameters()).device
    max_length = min(config.max_length, context_length(model))
    posts = [ids for ids in encode(tokenizer, texts) if ids]
    batches, steps_per_epoch = training_batches(posts, config, tokenizer.eos_token_id, max_length)
    tokens = sum(len(ids) - 1 for batch in batches for ids in batch)
    bf16 = config.bf16 and computes_bf16(device)
    plan = TrainPlan(
        posts=len(texts),
        epochs=config.sized_epochs,
        steps=len(batches),
        batch_size=config.batch_size,
        tokens=tokens,
        sampled=len(batches) < steps_per_epoch * config.sized_epochs,
        learning_rate=config.learning_rate,
        bf16=bf16,
        device=device.type,
        near_duplicates=len(dataset.train) - len(texts),
    )
    if not timed_steps or not batches:
        return plan
    by_width = sorted(batches, key=lambda batch: max(map(len, batch)))
    middle = len(by_width) // 2
    timed = by_width[max(0, middle - timed_steps // 2) :][:timed_steps]
    rate = _timed_tokens_per_s(model, tokenizer.eos_token_id, [by_width[middle], *timed], bf16)
    # Validation and test passes run forward only: about a third of a training step's work per token.
    heldout = sum(len(ids) + 1 for ids in encode(tokenizer, [e.text for e in dataset.valid])) * config.sized_epochs
    heldout += sum(len(ids) + 1 for ids in encode(tokenizer, [e.text for e in dataset.test]))
    return replace(plan, tokens_per_s=rate, estimated_s=(tokens + heldout / 3) / rate)


def _timed_tokens_per_s(model, eos_id: int, batches: list[list[list[int]]], bf16: bool) -> float:
    """Target tokens per second of training steps on BATCHES, the first one an untimed warm-up."""
    import torch

    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=0.0)  # a zero rate: the weights stay bit for bit
    was_training = model.training
    model.train()
    elapsed, tokens = 0.0, 0
    for number, batch in enumerate(batches):
        started = time.perf_counter()
        input_ids, mask, targets = (t.to(device) for t in collate(batch, eos_id))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss_sum, count = token_loss(model, input_ids, mask, targets)
        (loss_sum / count).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if number:
            elapsed, tokens = elapsed + time.perf_counter() - started, tokens + count
    model.train(was_training)
    return tokens / elapsed if elapsed else math.inf


# --- a bot from a dataset ------------------------------------------------------------------------


def prepare_model(model, config: TrainConfig):
    """Freeze or wrap MODEL for CONFIG's method: LoRA adapters, or full weights (maybe without embeddings)."""
    if config.method == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=lora_targets(model),
            task_type="CAUSAL_LM",
            fan_in_fan_out=model.config.model_type == "gpt2",
        )
        return get_peft_model(model, lora)
    import torch

    blocks = decoder_blocks(model)
    frozen = int(len(blocks) * config.freeze_fraction)
    if config.freeze_embeddings or frozen:  # token and position embeddings
        for module in model.modules():
            if isinstance(module, torch.nn.Embedding):
                module.requires_grad_(False)
    for block in blocks[:frozen]:
        block.requires_grad_(False)
    return model


def checkpoint_path(out: Path) -> Path:
    """Where an interrupted training of the bot at OUT keeps its state."""
    return out.with_name(f"{out.name}.checkpoint.pt")


def checkpoint_extra(checkpoint: Path) -> dict:
    """The caller's EXTRA saved in CHECKPOINT, read without loading the tensors."""
    return checkpoint_summary(checkpoint)["extra"]


def checkpoint_summary(checkpoint: Path) -> dict:
    """What CHECKPOINT was made with and how far it got, read without loading the tensors:
    {"identity": {"config", "base", "dataset"}, "extra": {...}, "step": N}."""
    saved = _load_checkpoint(checkpoint, map_location="cpu", mmap=True)
    return {"identity": saved.get("identity", {}), "extra": saved.get("extra", {}), "step": saved["state"]["step"]}


def _load_checkpoint(checkpoint: Path, **options: Any) -> dict:
    """What `_save_checkpoint` wrote to CHECKPOINT; a damaged file is one line naming it."""
    import pickle

    import torch

    try:
        saved = torch.load(checkpoint, weights_only=False, **options)
        if isinstance(saved, dict) and {"identity", "plan", "state"} <= saved.keys() and "step" in saved["state"]:
            return saved
        problem = "not a tweetling checkpoint"
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as error:
        problem = " ".join(str(error).split())[:200]
    raise TweetlingError(f"{checkpoint}: a damaged checkpoint ({problem}): start again without --resume")


def fine_tune(
    dataset: Dataset,
    config: TrainConfig = TrainConfig(),
    base: str = DEFAULT_BASE,
    out: Path | None = None,
    *,
    resume: bool = False,
    track_backend: str | None = None,
    on_progress: ProgressCallback | None = None,
    on_plan: Callable[[TrainPlan], None] | None = None,
    continues: bots.BotMeta | None = None,
    notes: dict | None = None,
) -> Path:
    """Fine-tune BASE on DATASET with CONFIG and write the bot folder (default: bots/<dataset
    name>) without its model card and image (`pipeline.train_bot` adds them). ON_PLAN hears the
    plan (`plan_training`) before the first step.

    CONTINUES is the metadata of the bot being updated when BASE is that bot's folder: training
    starts with a validation, the new tweetling.json records what it continued, and the
    folder's avatar images are kept. NOTES are kept in the checkpoint for whoever resumes it
    (`checkpoint_extra`).

    On a CUDA GPU when there is one. Under `torchrun` or `accelerate launch` every process calls
    this: they share the work, the main one reports, tracks and writes, and all return once the
    bot is written.
    """
    import torch

    world = current_world()
    texts = posts_to_train(dataset, config)
    config = config.sized(len(texts))
    out = bots.out_folder(out, dataset.name)
    checkpoint = checkpoint_path(out)
    started = time.time()
    torch.manual_seed(config.seed)
    with world.main_first():  # the first load of the embedded base writes its cache
        model, tokenizer = load_base(base, world.device)
    model = prepare_model(model, config)
    identity = {"base": base, "dataset": dataset.manifest["hash"]}
    if on_plan and world.is_main:  # one process's speed says little about several sharing each batch
        on_plan(plan_training(model, tokenizer, dataset, config, timed_steps=2 if world.size == 1 else 0, texts=texts))

    run: track.Run = track.NoRun()
    if world.is_main:
        run_id = checkpoint_extra(checkpoint).get("run_id") if resume and checkpoint.exists() else None
        run = track.start_run(
            "train",
            dataset.name,
            {"base_model": base, "dataset": dataset.manifest["hash"], **asdict(config)},
            _train_tags(dataset, base, out, track_backend),
            track_backend,
            resume_id=run_id,
        )
    try:
        result = train_model(
            model,
            tokenizer,
            dataset,
            config,
            checkpoint=checkpoint,
            resume=resume,
            identity=identity,
            extra={"run_id": run.id, **(notes or {})},
            on_progress=on_progress if world.is_main else None,
            run=run,
            world=world,
            validate_first=continues is not None,
            texts=texts,
        )
        # The steps are done: a first Ctrl-C or SIGTERM now waits for the bot to be written (there
        # may be no checkpoint to resume from); a second one stops at once.
        with StopOnSignal():
            test = test_perplexity(result.model, tokenizer, dataset, config, world)
            if not world.is_main:
                world.barrier()  # until the main process has written the bot
                return out
            _check_dataset_kept(dataset)
            model = result.model.merge_and_unload() if config.method == "lora" else result.model
            meta = bots.training_metadata(
                dataset,
                config,
                base,
                result,
                tokenizer.eos_token,
                wall_time=time.time() - started,
                processes=world.size,
                test=test,
                continues=continues,
            )
            bots.write_bot(out, model, tokenizer, meta, keep=bots.avatar_files(Path(base)) if continues else ())
            checkpoint.unlink(missing_ok=True)
    except (TrainingInterrupted, KeyboardInterrupt):
        run.end("KILLED")
        raise
    except BaseException:
        run.end("FAILED")
        raise
    world.barrier()
    finals = {
        "final_train_loss": meta.train_loss,
        "final_valid_loss": meta.valid_loss,
        "final_valid_perplexity": meta.valid_perplexity,
        "final_test_loss": meta.test_loss,
        "final_test_perplexity": meta.test_perplexity,
        "tokens_per_s": meta.tokens_per_s,
        "wall_time_s": meta.wall_time_s,
    }
    run.log_metrics({k: v for k, v in finals.items() if v is not None}, result.steps)
    run.log_artifact(out / bots.METADATA_FILE)
    run.end()
    return out


def _check_dataset_kept(dataset: Dataset) -> None:
    """Refuse to write a bot whose dataset was deleted while it trained: `tweetling forget` of
    one of its accounts deletes it, and a forgotten account's posts must not make a new bot."""
    if dataset.path is not None and not Path(dataset.path).exists():
        raise TweetlingError(
            f"the dataset {dataset.name} was deleted while training (`tweetling forget`?): the bot is not written"
        )


def test_perplexity(
    model, tokenizer, dataset: Dataset, config: TrainConfig, world: World = SINGLE
) -> Perplexity | None:
    """MODEL's perplexity on DATASET's test posts (None without a test split), measured once
    training has ended: no training decision sees these posts."""
    texts = [e.text for e in dataset.test]
    if not texts:
        return None
    return heldout_perplexity(model, tokenizer, texts, max_length=config.max_length, world=world)


def _train_tags(dataset: Dataset, base: str, out: Path, backend: str | None) -> dict[str, str]:
    tags = {**track.dataset_tags(dataset.manifest), "base_model": base, "bot.path": str(out)}
    if track.backend_name(backend) == "mlflow":
        prepare_run = track.prepare_run_id(dataset.manifest)
        if prepare_run:
            tags["prepare_run_id"] = prepare_run
    return tags
