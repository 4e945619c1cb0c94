"""Sampling posts from a bot: huggingtweets' recipe (EOS prefix, top-p 0.95, cut at the first
newline), batched in one `generate` call, with empty, duplicate and memorized outputs dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import bots
from .errors import TweetlingError


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
            "dropped": {"empty": self.dropped_empty, "duplicate": self.dropped_duplicate,
                        "memorized": self.dropped_memorized},
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
            self.ngrams.update(tokens[i:i + n] for i in range(len(tokens) - n + 1))

    def overlap(self, text: str) -> int:
        """Length in words of the longest run of TEXT found in the posts (a whole copy counts fully)."""
        tokens = tuple(words(text))
        if tokens in self.posts:
            return len(tokens)
        longest = run = 0
        for i in range(len(tokens) - self.n + 1):
            run = run + 1 if tokens[i:i + self.n] in self.ngrams else 0
            longest = max(longest, run)
        return longest + self.n - 1 if longest else 0

    def is_memorized(self, text: str) -> bool:
        tokens = tuple(words(text))
        return bool(tokens) and (tokens in self.posts or self.overlap(text) >= self.n)


def cut_at_newline(text: str) -> str:
    return text.split("\n", 1)[0]


def select(prompt: str, continuations: list[str], *, keep_newlines: bool, index: NgramIndex | None,
           allow_memorized: bool = False) -> Generations:
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


class _StopAtNewline:
    """Ends each sequence of a batch as soon as it samples a token that contains a newline."""

    def __init__(self, newline_ids: list[int], prompt_length: int):
        import torch

        self.newline_ids = torch.tensor(newline_ids)
        self.prompt_length = prompt_length

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        if input_ids.shape[1] <= self.prompt_length:
            return torch.zeros(input_ids.shape[0], dtype=torch.bool)
        return torch.isin(input_ids[:, -1], self.newline_ids)


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
    def load(cls, name_or_path: str | Path, exact: bool = False) -> "Bot":
        """Load a bot by name or folder. Sampling runs in bfloat16 where the CPU computes it natively
        (about 1.7x faster, bench/README.md); EXACT keeps float32, as perplexity needs."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = bots.resolve(name_or_path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        fast = not exact and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if fast else torch.float32)
        model.eval()
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

    def sample(self, prompt: str, n: int, seed: int | None = None,
               config: GenerateConfig = GenerateConfig()) -> list[str]:
        """N raw continuations of PROMPT (newlines and all), from one batched `generate` call."""
        import torch
        from transformers import StoppingCriteriaList

        inputs = self.tokenizer(self.prefix + prompt, return_tensors="pt")
        prompt_length = inputs["input_ids"].shape[1]
        max_positions = getattr(self.model.config, "max_position_embeddings", None) or config.max_length
        max_length = min(config.max_length, max_positions)
        if prompt_length >= max_length:
            raise TweetlingError(f"the prompt is too long: {prompt_length} tokens, the limit is {max_length - 1}")
        stopping = StoppingCriteriaList()
        if not self.keep_newlines:
            if self._newline_ids is None:
                self._newline_ids = newline_token_ids(self.tokenizer)
            stopping.append(_StopAtNewline(self._newline_ids, prompt_length))
        pad_id = self.tokenizer.pad_token_id
        if pad_id is None:
            pad_id = self.tokenizer.eos_token_id
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            output = self.model.generate(
                **inputs, do_sample=True, top_p=config.top_p, temperature=config.temperature,
                max_length=max_length, num_return_sequences=n,
                stopping_criteria=stopping, pad_token_id=pad_id, use_cache=True,
            )
        return self.tokenizer.batch_decode(output[:, prompt_length:], skip_special_tokens=True)

    def generate(self, prompt: str, n: int = 10, seed: int | None = None,
                 config: GenerateConfig = GenerateConfig()) -> Generations:
        """N sampled posts that start with PROMPT, minus empty, duplicate and memorized ones."""
        if n < 1:
            raise TweetlingError(f"the number of posts must be at least 1, not {n}")
        continuations = self.sample(prompt, n, seed, config)
        result = select(prompt, continuations, keep_newlines=self.keep_newlines,
                        index=self.memorization_index(config.memorization_ngram),
                        allow_memorized=config.allow_memorized)
        result.seed = seed
        return result
