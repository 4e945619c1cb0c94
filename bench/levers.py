"""An experimental training loop for recipe research: tweetling's loop (the same batch plan,
loss, optimizer, schedule and held-out perplexity, from `tweetling.train`) plus levers the
product does not have yet, each off by default so that `Levers()` reproduces `train_model`.

Levers: layer-wise learning-rate decay, an exponential moving average (EMA) or a tail average
of the weights, NEFTune noise on the input embeddings, residual dropout in the trained blocks,
and a cross-entropy over the training posts' tokens only (a speed lever: a smaller LM head)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from tweetling.dataset import Dataset
from tweetling.models import context_length, decoder_blocks
from tweetling.recipes import TrainConfig
from tweetling.train import (
    _lr_lambda,
    collate,
    encode,
    heldout_perplexity,
    optimizer_groups,
    posts_to_train,
    training_batches,
)


@dataclass(frozen=True)
class Levers:
    layer_decay: float = 1.0  # learning rate of the block k places below the top: lr * layer_decay**k
    ema_decay: float = 0.0  # > 0: keep an EMA of the trained weights; it is what is validated and kept
    tail_average: float = 0.0  # > 0: average the weights uniformly over this last share of the steps
    neftune_alpha: float = 0.0  # uniform noise of scale alpha / sqrt(length * width) on the input embeddings
    dropout: float = 0.0  # dropout on the attention and MLP outputs of the trained blocks
    train_vocab: bool = False  # softmax over the training posts' tokens only (needs frozen embeddings)
    eval_every: int = 0  # extra validations every this many steps (early stopping sees them too)


def param_groups(model, config: TrainConfig, levers: Levers) -> list[dict]:
    """AdamW groups: tweetling's (`optimizer_groups`) for each block, at its decayed rate;
    the embeddings below the lowest block."""
    import torch

    blocks = decoder_blocks(model)
    owner: dict[int, float] = {}
    for depth, block in enumerate(reversed(blocks)):
        for p in block.parameters():
            owner[id(p)] = levers.layer_decay**depth
    bottom = levers.layer_decay ** len(blocks)
    by_scale: dict[float, list] = {}
    seen: set[int] = set()  # a tied LM head shares the embedding's weight: one group, the embedding's
    for module in model.modules():
        for p in module.parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            scale = bottom if isinstance(module, torch.nn.Embedding) else owner.get(id(p), 1.0)
            by_scale.setdefault(scale, []).append(p)
    return [
        {**group, "lr": config.learning_rate * scale}
        for scale, params in by_scale.items()
        for group in optimizer_groups(params, config)
        if group["params"]
    ]


def _hooks(model, levers: Levers) -> list:
    import torch
    import torch.nn.functional as F

    handles = []
    if levers.neftune_alpha:
        embedding = model.get_input_embeddings()

        def noise(module, inputs, output):
            if not model.training:
                return output
            scale = levers.neftune_alpha / math.sqrt(output.size(1) * output.size(2))
            return output + torch.zeros_like(output).uniform_(-scale, scale)

        handles.append(embedding.register_forward_hook(noise))
    if levers.dropout:

        def drop(module, inputs, output):
            if isinstance(output, tuple):
                return (F.dropout(output[0], levers.dropout, model.training), *output[1:])
            return F.dropout(output, levers.dropout, model.training)

        for block in decoder_blocks(model):
            if any(p.requires_grad for p in block.parameters()):
                for name in ("self_attn", "mlp", "attn"):
                    if hasattr(block, name):
                        handles.append(getattr(block, name).register_forward_hook(drop))
    return handles


class _Average:
    """EMA (decay d, with the usual warm-up min(d, (1+n)/(10+n))) or a uniform running average."""

    def __init__(self, params: list, ema_decay: float):
        self.params, self.ema_decay, self.count = params, ema_decay, 0
        self.shadow = [p.detach().clone() for p in params]

    def update(self) -> None:
        import torch

        self.count += 1
        if self.ema_decay:
            keep = min(self.ema_decay, (1 + self.count) / (10 + self.count))
        else:
            keep = 1 - 1 / self.count
        with torch.no_grad():
            torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1 - keep)

    def swap(self) -> None:
        """Exchange the live weights and the average (call twice to go back)."""
        import torch

        with torch.no_grad():
            for p, s in zip(self.params, self.shadow, strict=True):
                tmp = p.detach().clone()
                p.copy_(s)
                s.copy_(tmp)


def _train_vocab_loss(model, vocab, input_ids, mask, targets):
    """Summed next-token loss with the softmax over VOCAB (sorted token ids) only."""
    import torch
    import torch.nn.functional as F

    hidden = model.model(input_ids=input_ids, attention_mask=mask).last_hidden_state[:, :-1]
    labels = targets[:, 1:]
    keep = labels != -100
    weight = model.get_output_embeddings().weight[vocab]
    logits = hidden[keep] @ weight.T
    local = torch.searchsorted(vocab, labels[keep])
    return F.cross_entropy(logits.float(), local, reduction="sum"), int(keep.sum())


def train_with_levers(
    model, tokenizer, dataset: Dataset, config: TrainConfig, levers: Levers = Levers(), watch_test: bool = False
) -> dict:
    """Train like `tweetling.train.train_model` (one process, float32 unless bf16 is native) with
    LEVERS; returns steps, tokens, wall and CPU seconds of the steps, the validation history and
    the validation perplexity of the weights kept. WATCH_TEST records the test perplexity at
    each validation too, for the research log only: nothing in the loop reads it."""
    import torch

    from tweetling.models import computes_bf16
    from tweetling.train import token_loss

    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    eos_id = tokenizer.eos_token_id
    max_length = min(config.max_length, context_length(model))
    texts = posts_to_train(dataset, config)
    posts = [ids for ids in encode(tokenizer, texts) if ids]
    config = config.sized(len(texts))
    batches, steps_per_epoch = training_batches(posts, config, eos_id, max_length)
    total_steps = len(batches)
    valid_texts = [e.text for e in dataset.valid]

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(param_groups(model, config, levers), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, total_steps))
    bf16 = config.bf16 and computes_bf16("cpu")
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    handles = _hooks(model, levers)
    average = _Average(params, levers.ema_decay) if levers.ema_decay or levers.tail_average else None
    average_from = total_steps - round(total_steps * levers.tail_average) if levers.tail_average else 0
    vocab = None
    if levers.train_vocab:
        vocab = torch.tensor(sorted({t for ids in posts for t in ids} | {eos_id}))

    step, tokens, elapsed, cpu = 0, 0, 0.0, 0.0
    history: dict[str, list] = {"train_loss": [], "valid": [], "test": []}
    best: dict = {"loss": math.inf, "perplexity": math.inf, "state": None, "step": 0}
    stopped_early = False

    def trainable_state() -> list:
        return [p.detach().clone() for p in params]

    def validate() -> bool:
        if average is not None and step > average_from:
            average.swap()
        valid = heldout_perplexity(model, tokenizer, valid_texts, max_length=max_length)
        if watch_test:
            test = heldout_perplexity(model, tokenizer, [e.text for e in dataset.test], max_length=max_length)
            history["test"].append((step, test.loss, test.perplexity))
        state = trainable_state() if config.early_stopping and valid.loss < best["loss"] else None
        if average is not None and step > average_from:
            average.swap()
        history["valid"].append((step, valid.loss, valid.perplexity))
        if valid.loss < best["loss"]:
            best.update(loss=valid.loss, perplexity=valid.perplexity, step=step, state=state)
            return True
        return not config.early_stopping

    model.train()
    while step < total_steps and not stopped_early:
        if config.max_time_s is not None and elapsed >= config.max_time_s:
            break
        batch = batches[step]
        count = sum(len(ids) - 1 for ids in batch)
        started, cpu_started = time.perf_counter(), time.process_time()
        input_ids, mask, targets = collate(batch, eos_id)
        with autocast:
            if vocab is not None:
                loss_sum, _ = _train_vocab_loss(model, vocab, input_ids, mask, targets)
            else:
                loss_sum, _ = token_loss(model, input_ids, mask, targets)
        (loss_sum / count).backward()
        if config.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if average is not None and step > average_from:
            average.update()
        tokens += count
        elapsed += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        history["train_loss"].append((step, loss_sum.item() / count, count))
        end_of_epoch = step % steps_per_epoch == 0 or step == total_steps
        if end_of_epoch or (levers.eval_every and step % levers.eval_every == 0):
            stopped_early = not validate()

    for handle in handles:
        handle.remove()
    if best["state"] is not None and best["step"] != step:
        with torch.no_grad():
            for p, saved in zip(params, best["state"], strict=True):
                p.copy_(saved)
    elif average is not None and step > average_from:
        average.swap()  # keep the average, which is what was validated last
    model.eval()
    return {
        "steps": step,
        "tokens": tokens,
        "train_time_s": elapsed,
        "train_cpu_s": cpu,
        "stopped_early": stopped_early,
        "best_step": best["step"],
        "valid_perplexity": best["perplexity"],
        "valid_history": history["valid"],
        "test_history": history["test"],
        "train_loss": history["train_loss"],
        "bf16": bf16,
    }


def token_logits(model, tokenizer, texts: list[str], max_length: int = 1024) -> tuple[Any, Any]:
    """The logits and targets of every scored token of TEXTS, framed as `heldout_perplexity` frames them."""
    import torch

    from tweetling.train import frame_post

    eos_id = tokenizer.eos_token_id
    posts = sorted((frame_post(ids, eos_id, max_length) for ids in encode(tokenizer, texts)), key=len)
    model.eval()
    logits, labels = [], []
    with torch.no_grad():
        for start in range(0, len(posts), 16):
            input_ids, mask, targets = collate(posts[start : start + 16], eos_id)
            out = model(input_ids=input_ids, attention_mask=mask).logits[:, :-1].float()
            keep = targets[:, 1:] != -100
            logits.append(out[keep])
            labels.append(targets[:, 1:][keep])
    return torch.cat(logits), torch.cat(labels)


def temperature_loss(logits, labels, temperature: float) -> float:
    import torch.nn.functional as F

    return float(F.cross_entropy(logits / temperature, labels))


def fit_temperature(model, tokenizer, texts: list[str], low: float = 0.5, high: float = 2.0) -> float:
    """The softmax temperature that minimizes the loss on TEXTS (golden-section search): a
    calibration fitted on validation posts, foldable into the final norm's weights."""
    logits, labels = token_logits(model, tokenizer, texts)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    for _ in range(30):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if temperature_loss(logits, labels, c) < temperature_loss(logits, labels, d):
            b = d
        else:
            a = c
    return (a + b) / 2
