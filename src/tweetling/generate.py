"""Sampling posts: huggingtweets' recipe (EOS prefix, top-p 0.95, cut at the first newline), a
batch sampled together, with empty, duplicate and memorized outputs dropped and sampled again
until the posts asked for are there. `bots.Bot` puts these together for a trained bot."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import limits
from .errors import TweetlingError
from .terminal import terminal_safe

DEFAULT_PROMPT = "My dream is"  # huggingtweets' example prompt
DEFAULT_POSTS = 10  # posts written per call
MIN_LENGTH = 10  # tokens, prompt included, before a sample may end (huggingtweets' min_length)


@dataclass(frozen=True)
class GenerateConfig:
    """How posts are sampled; the defaults are huggingtweets'."""

    top_p: float = 0.95
    temperature: float = 1.0
    max_length: int = 160  # tokens, prompt included, as in huggingtweets' pipeline call
    allow_memorized: bool = False  # keep outputs that copy a training post (flagged) instead of dropping them
    memorization_ngram: int = 8  # words in a row shared with a training post that count as a copy
    max_rounds: int = 4  # sampling rounds for the posts asked for: the first samples N, the others what is missing

    def __post_init__(self) -> None:
        if self.max_rounds < 1:
            raise TweetlingError(f"max_rounds must be at least 1, not {self.max_rounds}")
        # nan and infinity pass comparisons with the bounds, and make every token equally likely
        if not (math.isfinite(self.top_p) and 0 < self.top_p <= 1):
            raise TweetlingError(f"top_p must be a number above 0 and at most 1, not {self.top_p}")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise TweetlingError(f"the temperature must be a positive number, not {self.temperature}")


def check_count(n: int) -> None:
    """Refuse a number of posts to sample in one call that is below 1 or over the cap."""
    if not 1 <= n <= limits.MAX_POSTS_PER_CALL:
        raise TweetlingError(f"the number of posts must be 1 to {limits.MAX_POSTS_PER_CALL:,}, not {n:,}")


@dataclass(frozen=True)
class Generation:
    text: str
    memorized: bool = False
    overlap: int = 0  # longest run of words shared with a training post


@dataclass
class Generations:
    """The posts of one call, how many samples it took and why the others were dropped."""

    prompt: str
    outputs: list[Generation] = field(default_factory=list)
    requested: int = 0  # posts asked for
    rounds: int = 0  # sampling rounds it took
    sampled: int = 0
    dropped_empty: int = 0
    dropped_duplicate: int = 0
    dropped_memorized: int = 0
    surplus: int = 0  # usable samples beyond the posts asked for (a round's margin)
    flagged_memorized: int = 0
    seed: int | None = None

    @property
    def texts(self) -> list[str]:
        return [output.text for output in self.outputs]

    @property
    def complete(self) -> bool:
        """Whether every post asked for is there."""
        return len(self.outputs) >= self.requested

    @property
    def dropped(self) -> dict[str, int]:
        """How many samples were dropped, by reason."""
        return {"empty": self.dropped_empty, "duplicate": self.dropped_duplicate, "memorized": self.dropped_memorized}

    def summary(self) -> str:
        """One line: the posts made, the samples and rounds it took, and why samples were dropped."""
        reasons = ", ".join(f"{count} {why}" for why, count in self.dropped.items() if count)
        rounds = f" in {self.rounds} rounds" if self.rounds > 1 else ""
        made = f"{len(self.outputs)} posts" if self.complete else f"only {len(self.outputs)} of {self.requested} posts"
        line = f"{made} from {self.sampled} samples{rounds}" + (f"; dropped {reasons}" if reasons else "")
        return line if self.complete else f"{line}; try another prompt or seed"

    def to_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "seed": self.seed,
            "outputs": [vars(output) for output in self.outputs],
            "requested": self.requested,
            "rounds": self.rounds,
            "sampled": self.sampled,
            "dropped": self.dropped,
            "surplus": self.surplus,
            "flagged_memorized": self.flagged_memorized,
        }


_WORD = re.compile(r"\w+(?:['’]\w+)*")


def words(text: str) -> list[str]:
    """Case-folded word tokens: punctuation, spacing and case don't hide a copy."""
    return _WORD.findall(text.casefold())


def word_ngrams(tokens: tuple[str, ...] | list[str], n: int) -> set[tuple[str, ...]]:
    """Every run of N words in TOKENS (none when there are fewer)."""
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


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
            self.ngrams |= word_ngrams(tokens, n)

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


def sampled_text(text: str) -> str:
    """TEXT a model sampled, as a post can hold it: control characters and escape sequences (never
    a post's meaning; a bot trained on cleaned posts rarely samples one) become spaces, and the
    replacement character of a character cut in half between byte-level tokens goes."""
    return terminal_safe(text, " ").replace("\ufffd", "")


def select(
    prompt: str,
    continuations: list[str],
    *,
    keep_newlines: bool,
    index: NgramIndex | None,
    allow_memorized: bool = False,
    into: Generations | None = None,
) -> Generations:
    """Turn raw continuations into posts: cut, strip, drop empties, duplicates and copies. INTO
    (the posts of earlier rounds) gets the new ones, up to its `requested` posts when it has one."""
    result = into or Generations(prompt=prompt)
    seen = set(result.texts)
    result.sampled += len(continuations)
    for continuation in continuations:
        continuation = sampled_text(continuation)  # a line break ends it, unless kept
        if not keep_newlines:
            continuation = cut_at_newline(continuation)
        if not continuation.strip():
            result.dropped_empty += 1
            continue
        text = sampled_text(prompt + continuation).strip()
        if text in seen:
            result.dropped_duplicate += 1
            continue
        seen.add(text)
        memorized = index is not None and index.is_memorized(text)
        if memorized and not allow_memorized:
            result.dropped_memorized += 1
            continue
        if result.requested and result.complete:
            result.surplus += 1
            continue
        result.flagged_memorized += memorized
        result.outputs.append(Generation(text, memorized, index.overlap(text) if index else 0))
    return result


def next_round_size(result: Generations) -> int:
    """Samples for the next round: the missing posts at the share kept so far (taken as at least a
    quarter, so a bad round does not ask for a huge batch), plus a margin of two."""
    missing = result.requested - len(result.outputs)
    kept = max(len(result.outputs) + result.surplus, 1) / max(result.sampled, 1)
    return math.ceil(missing / max(kept, 0.25)) + 2


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
    rows: list[list[int]] = [[] for _ in range(n)]
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
