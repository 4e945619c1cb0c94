"""A bot folder as training leaves it, built from the tiny GPT-2 fixture, with its dataset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TRAIN_POSTS = [
    "My dream is to build a small robot that waters the plants every single morning.",
    "Coffee first, then the world. Maybe.",
    "Reading a book about tides and the moon tonight.",
]

TABLE = {"downloaded": 120, "retweets": 30, "short": 10, "kept": 80, "kept_chars": 5000}


def build_tiny_bot(
    tiny_model: Path,
    folder: Path,
    *,
    accounts: tuple[str, ...] = ("jack",),
    profiles: dict | None = None,
    keep_newlines: bool = False,
    extra_meta: dict | None = None,
) -> Path:
    """Copy TINY_MODEL to FOLDER as a bot of ACCOUNTS, with a prepared dataset beside it."""
    shutil.copytree(tiny_model, folder)
    config = json.loads((folder / "config.json").read_text())
    config["task_specific_params"] = {
        "text-generation": {"do_sample": True, "max_length": 160, "prefix": "<|endoftext|>"}
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    eos = config["eos_token_id"]
    (folder / "generation_config.json").write_text(
        json.dumps({"do_sample": True, "top_p": 0.95, "max_length": 160, "bos_token_id": eos, "eos_token_id": eos})
    )

    name = "-".join(accounts)
    dataset = folder.parent / f"{folder.name}-dataset"
    dataset.mkdir()
    lines = [json.dumps({"account": accounts[0], "text": text}) for text in TRAIN_POSTS]
    (dataset / "train.jsonl").write_text("\n".join(lines) + "\n")
    (dataset / "valid.jsonl").write_text("")
    profiles = profiles or {
        a: {"display_name": a.title(), "avatar_url": None, "bio": None, "source": "x"} for a in accounts
    }
    manifest = {
        "name": name,
        "hash": "0" * 64,
        "accounts": list(accounts),
        "seed": 42,
        "valid_fraction": 0.1,
        "options": {"keep_newlines": keep_newlines, "languages": []},
        "keep_newlines": keep_newlines,
        "table": {a: TABLE for a in accounts},
        "profiles": profiles,
        "train_count": len(TRAIN_POSTS),
        "valid_count": 0,
        "created_at": "2025-01-01T00:00:00+00:00",
    }
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    meta = {
        "name": name,
        "accounts": list(accounts),
        "profiles": profiles,
        "dataset": {**manifest, "path": str(dataset)},
        "base_model": "tiny-gpt2",
        "method": "full",
        "recipe": {"name": "full-default", "learning_rate": 5e-5, "epochs": 4, "batch_size": 8},
        "seed": 42,
        "versions": {"transformers": "5.x", "torch": "2.13.0"},
        "wall_time_s": 12.5,
        "train_tokens": 4000,
        "tokens_per_s": 320.0,
        "train_loss": 3.2,
        "valid_loss": 3.5,
        "valid_perplexity": 33.1,
        "keep_newlines": keep_newlines,
        "created_at": "2025-01-01T00:00:00+00:00",
        **(extra_meta or {}),
    }
    (folder / "tweetling.json").write_text(json.dumps(meta, indent=2))
    return folder


def read_meta_file(folder: Path) -> dict:
    """A bot's tweetling.json as written: what other programs reading the folder see."""
    return json.loads((folder / "tweetling.json").read_text(encoding="utf-8"))
