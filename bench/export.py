"""Export: a bot exported to GGUF at each type (and to a bfloat16 safetensors folder), with file
size, export time and the held-out perplexity of the re-loaded model against the original's; with
a llama.cpp build, llama.cpp's greedy text and token ids against tweetling's.

python bench/export.py BOT [--llama-cpp DIR_WITH_llama-simple_AND_llama-tokenize]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

PROMPTS = ["My dream is", "The future of", "Tesla", "I think", "Starship"]


def perplexity(model, tokenizer, texts: list[str]) -> float:
    from tweetling.train import heldout_perplexity

    return heldout_perplexity(model, tokenizer, texts).perplexity


def framed_prompt(tokenizer, prompt: str) -> list[int]:
    """PROMPT's token ids in tweetling's framing: EOS, then the prompt."""
    return [tokenizer.eos_token_id, *tokenizer(prompt, add_special_tokens=False)["input_ids"]]


def greedy_ids(model, tokenizer, prompt: str, tokens: int) -> list[int]:
    """tweetling's framing (EOS + prompt), the likeliest token each step, up to EOS or TOKENS."""
    import torch

    ids = framed_prompt(tokenizer, prompt)
    new: list[int] = []
    with torch.inference_mode():
        while len(new) < tokens:
            token = int(model(torch.tensor([ids + new])).logits[0, -1].argmax())
            if token == tokenizer.eos_token_id:
                break
            new.append(token)
    return new


def top2_margins(model, tokenizer, prompt: str, ids: list[int]) -> list[float]:
    """At each greedy step of IDS after PROMPT: the likeliest token's logit minus the runner-up's
    (how near a tie the choice was; a tiny one flips under other kernels or quantized weights)."""
    import torch

    prompt_ids = framed_prompt(tokenizer, prompt)
    with torch.inference_mode():
        logits = model(torch.tensor([prompt_ids + ids])).logits[0, len(prompt_ids) - 1 :]
    top = logits.topk(2, dim=-1).values
    return (top[:, 0] - top[:, 1]).tolist()


def parting_token(text: str, tokenizer, ids: list[int]) -> int:
    """The first of IDS whose text TEXT does not go on with."""
    return next((i for i in range(len(ids)) if not text.startswith(tokenizer.decode(ids[: i + 1]))), len(ids))


def llama_cpp_greedy(binary: Path, gguf: Path, eos: str, prompt: str, tokens: int) -> str:
    """llama.cpp's greedy continuation (llama-simple: the likeliest token each step, up to EOS),
    its text as printed, without the prompt it prints first."""
    run = subprocess.run(
        [str(binary), "-m", str(gguf), "-n", str(tokens), eos + prompt],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return run.stdout.removeprefix(eos + prompt).removesuffix("\n")  # it ends the output with a newline


def llama_cpp_ids(binary: Path, gguf: Path, text: str) -> list[int]:
    run = subprocess.run(
        [str(binary), "-m", str(gguf), "--ids", "--no-bos", "--log-disable", "-p", text],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return [int(i) for i in run.stdout.strip().strip("[]").split(",") if i.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bot", help="bot name or folder")
    parser.add_argument("--types", nargs="+", default=["f16", "q8_0"])
    parser.add_argument("--llama-cpp", type=Path, help="folder with llama.cpp's llama-simple and llama-tokenize")
    parser.add_argument("--tokens", type=int, default=32, help="greedy tokens per prompt")
    parser.add_argument("--posts", type=int, default=40, help="held-out posts whose llama.cpp token ids are checked")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tweetling import bots
    from tweetling.dataset import Dataset
    from tweetling.export import export_gguf, export_safetensors

    folder = bots.resolve(args.bot)
    meta = bots.read_metadata(folder)
    valid = [example.text for example in Dataset.load(meta.dataset.folder()).valid]
    original = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    base_ppl = perplexity(original, tokenizer, valid)
    expected = {prompt: greedy_ids(original, tokenizer, prompt, args.tokens) for prompt in PROMPTS}
    weights_mb = sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 1e6
    print(f"{folder.name}: {len(valid)} held-out posts, perplexity {base_ppl:.3f} (float32, {weights_mb:.1f} MB)\n")
    print("| export | file MB | export s | held-out ppl | vs float32 | greedy = tweetling's (transformers) |")
    print("|---|---|---|---|---|---|")
    work = Path(tempfile.mkdtemp(prefix="tweetling-export-bench-"))
    ggufs, read_back = {}, {}
    try:
        for gguf_type in args.types:
            started = time.perf_counter()
            result = export_gguf(folder, work / gguf_type / f"{folder.name}-{gguf_type}.gguf", gguf_type)
            seconds = time.perf_counter() - started
            ggufs[gguf_type] = result.path
            reloaded = AutoModelForCausalLM.from_pretrained(
                result.path.parent, gguf_file=result.path.name, dtype=torch.float32
            ).eval()
            ppl = perplexity(reloaded, tokenizer, valid)
            read_back[gguf_type] = {prompt: greedy_ids(reloaded, tokenizer, prompt, args.tokens) for prompt in PROMPTS}
            same = sum(read_back[gguf_type][prompt] == ids for prompt, ids in expected.items())
            print(
                f"| GGUF {gguf_type} | {result.size / 1e6:.1f} | {seconds:.1f} | {ppl:.3f} "
                f"| {100 * (ppl / base_ppl - 1):+.2f} % | {same}/{len(PROMPTS)} |"
            )
        started = time.perf_counter()
        bf16 = export_safetensors(folder, work / "bf16", "bfloat16")
        seconds = time.perf_counter() - started
        reloaded = AutoModelForCausalLM.from_pretrained(bf16, dtype=torch.float32).eval()
        ppl = perplexity(reloaded, tokenizer, valid)
        same = sum(greedy_ids(reloaded, tokenizer, p, args.tokens) == ids for p, ids in expected.items())
        size = (bf16 / "model.safetensors").stat().st_size / 1e6
        print(
            f"| safetensors bfloat16 | {size:.1f} | {seconds:.1f} | {ppl:.3f} "
            f"| {100 * (ppl / base_ppl - 1):+.2f} % | {same}/{len(PROMPTS)} |"
        )
        if args.llama_cpp:
            compare_with_llama_cpp(args, ggufs, original, tokenizer, expected, read_back, valid)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compare_with_llama_cpp(
    args, ggufs: dict, original, tokenizer, expected: dict, read_back: dict, valid: list[str]
) -> None:
    """llama.cpp's greedy text against the original bot's and against the same file read by
    transformers (the same weights: any difference is llama.cpp computing something else); where
    llama.cpp's text parts from the bot's, the bot's top-2 logit margin at that token."""
    simple, tokenize = args.llama_cpp / "llama-simple", args.llama_cpp / "llama-tokenize"
    print(f"\nllama.cpp ({simple}), greedy, {args.tokens} tokens or up to EOS:\n")
    print("| GGUF | prompt | = the bot's (float32) | = the file's in transformers | llama.cpp's continuation |")
    print("|---|---|---|---|---|")
    for gguf_type, path in ggufs.items():
        for prompt, ids in expected.items():
            theirs = llama_cpp_greedy(simple, path, tokenizer.eos_token, prompt, args.tokens)
            bot = tokenizer.decode(ids)
            same_file = tokenizer.decode(read_back[gguf_type][prompt])
            shown = theirs.replace("\n", "⏎").replace("|", "\\|")
            print(f"| {gguf_type} | {prompt} | {_yes(theirs == bot)} | {_yes(theirs == same_file)} | {shown} |")
            if theirs != bot:
                margins = top2_margins(original, tokenizer, prompt, ids)
                token = parting_token(theirs, tokenizer, ids)
                where = f"token {token + 1} of {len(ids)}"
                if token < len(margins):
                    where += f", top-2 margin there {margins[token]:.3f} (smallest: {min(margins):.3f})"
                print(f"| | | | the bot's ({where}): | {bot.replace(chr(10), '⏎')} |")
    path = next(iter(ggufs.values()))
    posts = valid[: args.posts]
    same = sum(
        llama_cpp_ids(tokenize, path, text) == tokenizer(text, add_special_tokens=False)["input_ids"] for text in posts
    )
    print(f"\nllama-tokenize: the same token ids as tweetling's tokenizer for {same} of {len(posts)} held-out posts")


def _yes(same: bool) -> str:
    return "yes" if same else "no"


if __name__ == "__main__":
    main()
