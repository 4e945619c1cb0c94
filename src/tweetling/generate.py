"""Sampling posts from a bot: huggingtweets' recipe (EOS prefix, top-p 0.95, cut at the first
newline), a batch sampled together, with empty, duplicate and memorized outputs dropped."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import bots
from .errors import TweetlingError
from .models import computes_bf16


@dataclass(frozen=True)
class GenerateConfig:
    """How posts are sampled; the defaults are huggingtweets'."""

    top_p: float = 0.95
    temperature: float = 1.0
    max_length: int = 160  # tokens, prompt included, as in huggingtweets' pipeline call
    allow_memorized: bool = False  # keep outputs that copy a training post (flagged) instead of dropping them
    memorization_ngram: int = 8  # words in a row shared with a training post that count as a copy


@dataclass(frozen=True)
class Generation:
    text: str
    memorized: bool = False
    overlap: int = 0  # longest run of words shared with a training post


@dataclass
class Generations:
    """The kept outputs of one call and how many samples were dropped, and why."""

    prompt: str
    outputs: list[Generation] = field(default_factory=list)
    sampled: int = 0
    dropped_empty: int = 0
    dropped_duplicate: int = 0
    dropped_memorized: int = 0
    flagged_memorized: int = 0
    seed: int | None = None

    @property
    def texts(self) -> list[str]:
        return [output.text for output in self.outputs]

    def to_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "seed": self.seed,
            "outputs": [vars(output) for output in self.outputs],
            "sampled": self.sampled,
            "dropped": {
                "empty": self.dropped_empty,
                "duplicate": self.dropped_duplicate,
                "memorized": self.dropped_memorized,
            },
            "flagged_memorized": self.flagged_memorized,
        }


_WORD = re.compile(r"\w+(?:['’]\w+)*")


def words(text: str) -> list[str]:
    """Case-folded word tokens: punctuation, spacing and case don't hide a copy."""
    return _WORD.findall(text.casefold())


class NgramIndex:
    """Word n-grams of a set of posts, to tell whether a text copies one of them."""

    def __init__(self, texts: Iterable[str], n: int = 8):
        self.n = n
        self.ngrams: set[tuple[str, ...]] = set()
        self.posts: set[tuple[str, ...]] = set()
        for text in texts:
            tokens = tuple(words(text))
            if tokens:
                self.posts.add(tokens)
            self.ngrams.update(tokens[i : i + n] for i in range(len(tokens) - n + 1))

    def overlap(self, text: str) -> int:
        """Length in words of the longest run of TEXT found in the posts (a whole copy counts fully)."""
        tokens = tuple(words(text))
        if tokens in self.posts:
            return len(tokens)
        longest = run = 0
        for i in range(len(tokens) - self.n + 1):
            run = run + 1 if tokens[i : i + self.n] in self.ngrams else 0
            longest = max(longest, run)
        return longest + self.n - 1 if longest else 0

    def is_memorized(self, text: str) -> bool:
        tokens = tuple(words(text))
        return bool(tokens) and (tokens in self.posts or self.overlap(text) >= self.n)


def cut_at_newline(text: str) -> str:
    return text.split("\n", 1)[0]


def select(
    prompt: str,
    continuations: list[str],
    *,
    keep_newlines: bool,
    index: NgramIndex | None,
    allow_memorized: bool = False,
) -> Generations:
    """Turn raw continuations into posts: cut, strip, drop empties, duplicates and copies."""
    result = Generations(prompt=prompt, sampled=len(continuations))
    seen: set[str] = set()
    for continuation in continuations:
        if not keep_newlines:
            continuation = cut_at_newline(continuation)
        if not continuation.strip():
            result.dropped_empty += 1
            continue
        text = (prompt + continuation).strip()
        if text in seen:
            result.dropped_duplicate += 1
            continue
        seen.add(text)
        memorized = index is not None and index.is_memorized(text)
        if memorized and not allow_memorized:
            result.dropped_memorized += 1
            continue
        result.flagged_memorized += memorized
        result.outputs.append(Generation(text, memorized, index.overlap(text) if index else 0))
    return result


def training_texts(meta: dict) -> list[str]:
    """The bot's training posts, when its dataset folder is still on disk."""
    from .dataset import Dataset

    folder = bots.dataset_folder(meta)
    return [example.text for example in Dataset.load(folder).train] if folder else []


def sample_top_p(logits, top_p: float, temperature: float, candidates: tuple[int, ...] = (256, 4096)):
    """One token per row from the smallest set of most likely tokens whose probability reaches
    TOP_P (nucleus sampling, as transformers' top-p), after dividing the logits by TEMPERATURE.

    On a CPU, sorting a 50k vocabulary and `torch.multinomial` over it would each cost about as
    much as the model's step for one row: the nucleus is looked for among the few hundred, then
    few thousand likeliest tokens first, and the token drawn by inverting its cumulative sum.
    """
    import torch

    probs = torch.softmax(logits.float() / temperature, dim=-1)
    vocab = probs.shape[-1]
    for size in (*candidates, vocab):
        top, order = probs.topk(min(size, vocab), dim=-1)  # sorted, likeliest first
        if size >= vocab or bool((top.sum(dim=-1) >= top_p).all()):
            break
    nucleus = top.masked_fill(top.cumsum(dim=-1) - top >= top_p, 0.0)  # the nucleus was full before them
    cumulative = nucleus.cumsum(dim=-1)
    draw = torch.rand(len(cumulative), 1, device=cumulative.device) * cumulative[:, -1:]
    choice = torch.searchsorted(cumulative, draw, right=True).clamp_(max=cumulative.shape[-1] - 1)
    return order.gather(-1, choice).squeeze(-1)


def sample_rows(
    model,
    prompt_ids: list[int],
    n: int,
    *,
    end_ids: list[int],
    eos_id: int,
    max_length: int,
    min_length: int,
    top_p: float,
    temperature: float,
) -> list[list[int]]:
    """N continuations of PROMPT_IDS (each ending with its end token, if it sampled one).

    One KV cache for the batch; a row that samples one of END_IDS leaves the batch, so the last,
    longest samples run alone instead of carrying the finished ones (a decoding step costs about
    2/3 as much for one row as for ten on a CPU). EOS is barred until MIN_LENGTH tokens, prompt
    included, as transformers' min_length; MAX_LENGTH counts the prompt too.
    """
    import torch
    from transformers import DynamicCache

    device = model.device
    cache = DynamicCache()
    prompt = torch.tensor([prompt_ids], device=device)
    # The prompt starts with EOS, often also the pad token: the mask says it is not padding.
    logits = model(
        input_ids=prompt, attention_mask=torch.ones_like(prompt), cache=cache, use_cache=True, logits_to_keep=1
    ).logits[:, -1]
    cache.batch_repeat_interleave(n)
    logits = logits.expand(n, -1)
    ends = torch.tensor(end_ids, device=device)
    rows = [[] for _ in range(n)]
    alive = torch.arange(n, device=device)
    for length in range(len(prompt_ids) + 1, max_length + 1):
        if length <= min_length:
            logits = logits.clone()
            logits[:, eos_id] = -math.inf
        tokens = sample_top_p(logits, top_p, temperature)
        for row, token in zip(alive.tolist(), tokens.tolist(), strict=True):
            rows[row].append(token)
        finished = torch.isin(tokens, ends)
        if finished.all() or length == max_length:
            break
        if finished.any():
            keep = (~finished).nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            alive, tokens = alive[keep], tokens[keep]
        logits = model(input_ids=tokens[:, None], cache=cache, use_cache=True).logits[:, -1]
    return rows


def newline_token_ids(tokenizer) -> list[int]:
    pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    return [i for i, piece in enumerate(pieces) if "\n" in piece]


class Bot:
    """A trained bot loaded once, ready to sample many times: `Bot.load(dir).generate(prompt)`."""

    def __init__(self, path: Path, model, tokenizer, meta: dict):
        self.path = path
        self.model = model
        self.tokenizer = tokenizer
        self.meta = meta
        self._newline_ids: list[int] | None = None
        self._index: NgramIndex | None = None
        self._index_n: int | None = None

    @classmethod
    def load(cls, name_or_path: str | Path, exact: bool = False) -> Bot:
        """Load a bot by name or folder, onto the GPU when there is one. Sampling runs in bfloat16
        where the device computes it natively (on this CPU about 1.7x faster, bench/README.md);
        EXACT keeps float32, as perplexity needs."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = bots.resolve(name_or_path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        bf16 = computes_bf16(device) and not exact
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if bf16 else torch.float32)
        model.to(device).eval()
        return cls(path, model, tokenizer, bots.read_metadata(path))

    @property
    def accounts(self) -> list[str]:
        return list(self.meta.get("accounts") or [self.path.name])

    @property
    def keep_newlines(self) -> bool:
        return bool(self.meta.get("keep_newlines", False))

    @property
    def prefix(self) -> str:
        """What goes before the prompt: the EOS token that separated posts in training."""
        params = (getattr(self.model.config, "task_specific_params", None) or {}).get("text-generation", {})
        return params.get("prefix", self.tokenizer.eos_token or "")

    def memorization_index(self, n: int = 8) -> NgramIndex | None:
        """N-grams of the training posts, built on first use; None when the dataset is gone."""
        if self._index_n != n:
            texts = training_texts(self.meta)
            self._index = NgramIndex(texts, n) if texts else None
            self._index_n = n
        return self._index

    def sample(
        self, prompt: str, n: int, seed: int | None = None, config: GenerateConfig = GenerateConfig()
    ) -> list[str]:
        """N raw continuations of PROMPT, each up to its EOS or (unless the bot keeps newlines)
        through the token holding its first newline."""
        import torch

        prompt_ids = self.tokenizer(self.prefix + prompt, add_special_tokens=False)["input_ids"]
        max_positions = getattr(self.model.config, "max_position_embeddings", None) or config.max_length
        max_length = min(config.max_length, max_positions)
        if len(prompt_ids) >= max_length:
            raise TweetlingError(f"the prompt is too long: {len(prompt_ids)} tokens, the limit is {max_length - 1}")
        eos_id = self.tokenizer.eos_token_id
        end_ids = [eos_id]
        if not self.keep_newlines:
            if self._newline_ids is None:
                self._newline_ids = newline_token_ids(self.tokenizer)
            end_ids += self._newline_ids
        devices = [self.model.device] if self.model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            rows = sample_rows(
                self.model,
                prompt_ids,
                n,
                end_ids=end_ids,
                eos_id=eos_id,
                max_length=max_length,
                min_length=self.model.generation_config.min_length or 0,
                top_p=config.top_p,
                temperature=config.temperature,
            )
        return self.tokenizer.batch_decode(rows, skip_special_tokens=True)

    def generate(
        self, prompt: str, n: int = 10, seed: int | None = None, config: GenerateConfig = GenerateConfig()
    ) -> Generations:
        """N sampled posts that start with PROMPT, minus empty, duplicate and memorized ones."""
        if n < 1:
            raise TweetlingError(f"the number of posts must be at least 1, not {n}")
        continuations = self.sample(prompt, n, seed, config)
        result = select(
            prompt,
            continuations,
            keep_newlines=self.keep_newlines,
            index=self.memorization_index(config.memorization_ngram),
            allow_memorized=config.allow_memorized,
        )
        result.seed = seed
        return result
