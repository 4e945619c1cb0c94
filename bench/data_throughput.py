"""Import and cleaning throughput (posts/s) and peak memory on a large X archive.

The archive is made by replicating the real tweets of ../shared/data/tweets/andreruffert-archive
(each copy with new ids) up to --posts posts, in the real export layout. Each stage runs in a fresh
process so its peak resident memory is its own:

    python bench/data_throughput.py --posts 200000

import: `tweetling import` of the zip into an empty store (parse, classify, one transaction).
prepare: `tweetling prepare` of the stored account (read, clean, split, write the dataset).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tweets" / "andreruffert-archive"


def build_archive(target: Path, posts: int) -> None:
    """A zip X archive of POSTS tweets: the real ones repeated with fresh ids."""
    source = (ARCHIVE / "data" / "tweets.js").read_text(encoding="utf-8")
    prefix, body = source.split("=", 1)
    tweets = json.loads(body)
    replicated = []
    for i in range(posts):
        entry = copy.deepcopy(tweets[i % len(tweets)])
        new_id = str(10**18 + i)
        entry["tweet"]["id"] = entry["tweet"]["id_str"] = new_id
        replicated.append(entry)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data/tweets.js", f"{prefix}= {json.dumps(replicated)}")
        for name in ("account.js", "profile.js"):
            archive.write(ARCHIVE / "data" / name, f"data/{name}")


def timed(command: list[str], home: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of COMMAND (GNU time)."""
    started = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command],
        capture_output=True,
        text=True,
        env={**os.environ, "TWEETLING_HOME": str(home)},
    )
    elapsed = time.perf_counter() - started
    if result.returncode:
        sys.exit(result.stderr)
    peak_kib = int(re.findall(r"^(\d+)$", result.stderr, re.MULTILINE)[-1])
    return elapsed, peak_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200_000)
    args = parser.parse_args()
    if not ARCHIVE.exists():
        sys.exit(f"{ARCHIVE} is absent")
    tweetling = str(Path(sys.executable).with_name("tweetling"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archive = tmp / "large-archive.zip"
        build_archive(archive, args.posts)
        home = tmp / "home"
        print("| stage | posts | wall s | posts/s | peak RSS MiB |\n|---|---|---|---|---|")
        for stage, command in (
            ("import", [tweetling, "import", str(archive)]),
            ("prepare", [tweetling, "prepare", "andreruffert", "--track", "none"]),
        ):
            seconds, peak = timed(command, home)
            print(
                f"| {stage} | {args.posts:,} | {seconds:.1f} | {args.posts / seconds:,.0f} | {peak:,.0f} |", flush=True
            )


if __name__ == "__main__":
    main()
