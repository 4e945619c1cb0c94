"""The model card (`README.md` of a bot folder), after huggingtweets' cards: YAML front matter,
the account(s), the data table, the training recipe, how to use, limitations, a disclosure."""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from .bots import read_metadata, resolve
from .clean import Table
from .errors import TweetlingError
from .paths import write_text_atomic

WIDGET_PROMPT = "My dream is"  # huggingtweets' example prompt
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_TABLE_FIELDS = {f.name for f in dataclasses.fields(Table)}


def escape_markdown(text: object) -> str:
    """TEXT as literal Markdown inline text: one line, no links, markup or HTML."""
    flat = " ".join(str(text).split())  # a newline would end a table row or start a block
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", flat), quote=True)


_MARKDOWN_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+-.!|~"})


def escape_html(text: object) -> str:
    """TEXT as literal HTML text, one line; Markdown characters become entities in case a renderer
    parses Markdown inside HTML blocks."""
    return html.escape(" ".join(str(text).split()), quote=True).translate(_MARKDOWN_ENTITIES)


def safe_url(url: object) -> str | None:
    """URL escaped for an HTML attribute if it is a plain http(s) address, else None."""
    if not isinstance(url, str) or any(c.isspace() or not c.isprintable() for c in url):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return html.escape(url, quote=True)


def hub_model_id(name: object) -> str | None:
    """NAME if it is a Hub model id (owner/name), not a local path."""
    return name if isinstance(name, str) and _HUB_ID.match(name) and not Path(name).exists() else None


def write_card(bot_dir: Path | str, repo_id: str | None = None) -> Path:
    """Write README.md into the bot folder; REPO_ID (owner/name) fills the usage snippet and thumbnail."""
    folder = resolve(bot_dir)
    if repo_id is not None and not _HUB_ID.match(repo_id):
        raise TweetlingError(f"invalid Hub repository id {repo_id!r}: expected owner/name")
    meta = read_metadata(folder)
    card = render_card(meta, folder, repo_id)
    target = folder / "README.md"
    write_text_atomic(target, card)
    return target


def render_card(meta: dict, folder: Path, repo_id: str | None = None) -> str:
    has_image = (folder / "predictions.png").exists()
    is_adapter = (folder / "adapter_config.json").exists()
    sections = [
        _header(meta, has_image),
        _training_data(meta),
        _training_procedure(meta, is_adapter),
        _evaluation(meta),
        _how_to_use(meta, folder, repo_id),
        _limitations(meta),
        _disclosure(meta),
    ]
    body = "\n\n".join(section for section in sections if section)
    return f"---\n{front_matter(meta, repo_id, has_image, is_adapter)}---\n\n{body}\n"


def front_matter(meta: dict, repo_id: str | None, has_image: bool, is_adapter: bool) -> str:
    options = meta.get("dataset", {}).get("options", {})
    # The bundled base models are English; a language filter says more when the user set one.
    data: dict = {"language": list(options.get("languages") or []) or ["en"]}
    if repo_id and has_image:
        data["thumbnail"] = f"https://huggingface.co/{repo_id}/resolve/main/predictions.png"
    data["tags"] = ["tweetling", "text-generation"]
    data["library_name"] = "peft" if is_adapter else "transformers"
    data["pipeline_tag"] = "text-generation"
    if base := hub_model_id(meta.get("base_model")):
        data["base_model"] = base
    data["widget"] = [{"text": WIDGET_PROMPT}]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _accounts(meta: dict) -> list[str]:
    return list(meta.get("accounts") or [meta.get("name", "bot")])


def _display_name(meta: dict, account: str) -> str:
    profile = meta.get("profiles", {}).get(account) or {}
    return profile.get("display_name") or account


def _handles(meta: dict) -> str:
    handles = [f"@{escape_markdown(a)}" for a in _accounts(meta)]
    return handles[0] if len(handles) == 1 else ", ".join(handles[:-1]) + " and " + handles[-1]


def _header(meta: dict, has_image: bool) -> str:
    accounts = _accounts(meta)
    avatars = []
    for account in accounts:
        url = safe_url((meta.get("profiles", {}).get(account) or {}).get("avatar_url"))
        if url:
            avatars.append(f'<img src="{url}" alt="" width="92" height="92" style="border-radius: 50%">')
    names = " &amp; ".join(escape_html(_display_name(meta, a)) for a in accounts)
    handles = " · ".join(f"@{escape_html(a)}" for a in accounts)
    lines = ['<div align="center">']
    if avatars:
        lines.append(" ".join(avatars))
    lines += [
        "<div><b>🤖 AI BOT 🤖</b></div>",
        f"<div><b>{names}</b></div>",
        f"<div>{handles}</div>",
        "</div>",
        "",
        "I was made with tweetling, the successor of [huggingtweets](https://github.com/borisdayma/huggingtweets).",
    ]
    if has_image:
        lines += ["", "![Posts generated by this bot](predictions.png)"]
    return "\n".join(lines)


def _training_data(meta: dict) -> str:
    dataset = meta.get("dataset", {})
    tables = dataset.get("table") or {}
    if not tables:
        return ""
    counts = {account: Table(**{k: v for k, v in row.items() if k in _TABLE_FIELDS}) for account, row in tables.items()}
    labels = list(dict.fromkeys(label for table in counts.values() for label, _ in table.rows()))
    header = "| Data | " + " | ".join(f"@{escape_markdown(a)}" for a in counts) + " |"
    rule = "| --- |" + " ---: |" * len(counts)
    rows = [
        f"| {label} | " + " | ".join(f"{dict(t.rows()).get(label, 0):,}" for t in counts.values()) + " |"
        for label in labels
    ]
    summary = f"The model was trained on posts from {_handles(meta)}."
    if dataset.get("name") and dataset.get("hash"):
        summary += (
            f" Dataset {escape_markdown(dataset['name'])}, version {escape_markdown(str(dataset['hash'])[:12])}:"
            f" {dataset.get('train_count', 0):,} training and {dataset.get('valid_count', 0):,}"
            " held-out posts."
        )
    cleaning = "Retweets and short posts were dropped and links removed, as in huggingtweets." + (
        " Line breaks inside posts were kept." if meta.get("keep_newlines") else ""
    )
    return "\n".join(["## Training data", "", summary, "", header, rule, *rows, "", cleaning])


def _key_values(title: str, items: dict) -> list[str]:
    rows = [f"| {escape_markdown(key)} | {_format(value)} |" for key, value in items.items() if value is not None]
    return [f"| {title} | Value |", "| --- | --- |", *rows] if rows else []


def _format(value: object) -> str:
    """Numbers as they are (nothing to escape in them), anything else escaped."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return escape_markdown(value)


def _training_procedure(meta: dict, is_adapter: bool) -> str:
    base = meta.get("base_model")
    base_text = (
        f"[{escape_markdown(base)}](https://huggingface.co/{base})"
        if hub_model_id(base)
        else f"`{escape_markdown(base or 'unknown')}`"
    )
    method = {"lora": "with LoRA adapters", "full": "in full"}.get(meta.get("method"), "")
    lines = [
        "## Training procedure",
        "",
        f"The model is based on the pre-trained {base_text}, fine-tuned {method} on {_handles(meta)}'s posts"
        " (each post followed by the end-of-text token, so a prompt starting with it begins a new post).",
    ]
    if is_adapter:
        lines[-1] += " This folder holds the LoRA adapter; `peft` loads it on top of the base model."
    recipe = meta.get("recipe") or {}
    if recipe:
        lines += ["", *_key_values("Hyperparameter", {"seed": meta.get("seed"), **recipe})]
    results = {
        key: meta.get(key)
        for key in ("train_loss", "valid_loss", "valid_perplexity", "train_tokens", "tokens_per_s", "wall_time_s")
    }
    if any(value is not None for value in results.values()):
        lines += ["", *_key_values("Result", results)]
    versions = meta.get("versions") or {}
    if versions:
        lines += [
            "",
            "Library versions: "
            + ", ".join(f"{escape_markdown(lib)} {escape_markdown(version)}" for lib, version in versions.items())
            + ".",
        ]
    return "\n".join(lines)


def _flatten(data: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float, str, bool)):
            flat[f"{prefix}{key}"] = value
    return flat


def _evaluation(meta: dict) -> str:
    figures = _flatten(meta.get("eval") or {})
    return "\n".join(["## Evaluation", "", *_key_values("Metric", figures)]) if figures else ""


def _how_to_use(meta: dict, folder: Path, repo_id: str | None) -> str:
    model = repr(repo_id or folder.name).replace("`", "\\x60")  # a backtick would end the code block
    return "\n".join(
        [
            "## How to use",
            "",
            "You can use this model directly with a pipeline for text generation:",
            "",
            "```python",
            "from transformers import pipeline",
            "",
            f"generator = pipeline('text-generation', model={model})",
            f"generator({WIDGET_PROMPT!r}, num_return_sequences=5, do_sample=True, top_p=0.95)",
            "```",
            "",
            "`tweetling generate` samples the same way and also cuts each sample at its first line break"
            " and drops samples that copy a training post.",
        ]
    )


def _limitations(meta: dict) -> str:
    base = meta.get("base_model")
    base_text = f"[its base model](https://huggingface.co/{base})" if hub_model_id(base) else "its base model"
    return "\n".join(
        [
            "## Limitations and bias",
            "",
            f"The model suffers from the same limitations and bias as {base_text}.",
            "",
            f"In addition, the data present in {_handles(meta)}'s posts further affects the text generated by"
            " the model. It can repeat phrases, opinions and personal details from its training posts;"
            " tweetling drops samples that copy a training post, the raw model does not.",
        ]
    )


def _disclosure(meta: dict) -> str:
    return "\n".join(
        [
            "## Disclosure",
            "",
            f"Text generated by this model is machine-generated. It was not written by {_handles(meta)} and"
            " does not represent their views. Label it as machine-generated wherever you share it.",
        ]
    )
