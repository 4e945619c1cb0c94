"""Generation latency: load a bot once, then time `Bot.generate(PROMPT, n=10)` several times.

python bench/generation_latency.py ~/.tweetling/bots/elonmusk --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bot", help="bot name or folder")
    parser.add_argument("--prompt", default="My dream is")
    parser.add_argument("-n", type=int, default=10, help="posts per call")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from tweetling import Bot

    started = time.perf_counter()
    bot = Bot.load(args.bot)
    load_s = time.perf_counter() - started
    bot.generate(args.prompt, n=args.n, seed=0)  # warm-up: first-call allocations, n-gram index
    latencies, kept = [], []
    for seed in range(1, args.repeats + 1):
        started = time.perf_counter()
        result = bot.generate(args.prompt, n=args.n, seed=seed)
        latencies.append(time.perf_counter() - started)
        kept.append(len(result.outputs))
    print("| bot | load s | posts per call | median s | max s | posts kept (mean) |\n|---|---|---|---|---|---|")
    print(
        f"| {bot.path.name} | {load_s:.2f} | {args.n} | {statistics.median(latencies):.2f} | {max(latencies):.2f} "
        f"| {statistics.mean(kept):.1f} |"
    )


if __name__ == "__main__":
    main()
