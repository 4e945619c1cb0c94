"""The model card (`README.md` of a bot folder), after huggingtweets' cards: YAML front matter,
the account(s), the data table, where the data came from, the training recipe, how to use,
limitations, a disclosure."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from .bots import BotMeta, Continuation, read_metadata, resolve, saved_dtype
from .clean import data_table
from .errors import TweetlingError
from .generate import DEFAULT_PROMPT, GenerateConfig
from .paths import write_text_atomic
from .provenance import ARCHIVE, FETCHED, FILE, Origin
from .terminal import terminal_safe
from .track import flatten

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+", re.ASCII)


def _one_line(text: object) -> str:
    """TEXT on one line (a newline would end a table row or start a block), without escape
    sequences, control characters and bidi overrides (`cat README.md` would obey them)."""
    return " ".join(terminal_safe(str(text), " ").split())


def escape_markdown(text: object) -> str:
    """TEXT as literal Markdown inline text: one line, no links, markup or HTML."""
    flat = _one_line(text)
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", flat), quote=True)


def code_span(text: object, in_table: bool = False) -> str:
    """TEXT as a Markdown code span: shown as written (nothing inside is escaped, so no
    backslashes show), on one line, fenced by more backticks than it holds in a row. IN_TABLE
    escapes pipes, which would end a table cell even inside a code span."""
    flat = _one_line(text)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", flat)), default=0) + 1)
    padded = f" {flat} " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else flat
    body = padded.replace("|", "\\|") if in_table else padded
    return f"{fence}{body}{fence}"


# In one pass: escaping HTML first and Markdown after would escape the '#' of "&#x27;".
_HTML_ENTITIES = str.maketrans(
    {c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+-.!|~\"'"} | {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
)


def escape_html(text: object) -> str:
    """TEXT as literal HTML text, one line; Markdown characters become entities too, in case a
    renderer parses Markdown inside HTML blocks."""
    return _one_line(text).translate(_HTML_ENTITIES)


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
    return name if isinstance(name, str) and _HUB_ID.fullmatch(name) and not Path(name).exists() else None


def write_card(bot_dir: Path | str, repo_id: str | None = None) -> Path:
    """Write README.md into the bot folder; REPO_ID (owner/name) fills the usage snippet and thumbnail."""
    folder = resolve(bot_dir)
    if repo_id is not None and not _HUB_ID.fullmatch(repo_id):
        raise TweetlingError(f"invalid Hub repository id {repo_id!r}: expected owner/name")
    meta = read_metadata(folder)
    card = render_card(meta, folder, repo_id)
    target = folder / "README.md"
    write_text_atomic(target, card)
    return target


def render_card(meta: BotMeta, folder: Path, repo_id: str | None = None) -> str:
    has_image = (folder / "predictions.png").exists()
    is_adapter = (folder / "adapter_config.json").exists()
    sections = [
        _header(meta, has_image),
        _training_data(meta),
        _provenance(meta),
        _training_procedure(meta, is_adapter),
        _evaluation(meta),
        _how_to_use(meta, folder, repo_id),
        _files(meta, folder),
        _limitations(meta),
        _disclosure(meta),
    ]
    body = "\n\n".join(section for section in sections if section)
    return f"---\n{front_matter(meta, repo_id, has_image, is_adapter)}---\n\n{body}\n"


def front_matter(meta: BotMeta, repo_id: str | None, has_image: bool, is_adapter: bool) -> str:
    # The bundled base models are English; a language filter says more when the user set one.
    data: dict = {"language": list(meta.dataset.options.languages) or ["en"]}
    if repo_id and has_image:
        data["thumbnail"] = f"https://huggingface.co/{repo_id}/resolve/main/predictions.png"
    data["tags"] = ["tweetling", "text-generation"]
    data["library_name"] = "peft" if is_adapter else "transformers"
    data["pipeline_tag"] = "text-generation"
    if base := hub_model_id(meta.base_model):
        data["base_model"] = base
    data["widget"] = [{"text": DEFAULT_PROMPT}]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _handles(meta: BotMeta) -> str:
    handles = [f"@{escape_markdown(a)}" for a in meta.accounts]
    return handles[0] if len(handles) == 1 else ", ".join(handles[:-1]) + " and " + handles[-1]


def _header(meta: BotMeta, has_image: bool) -> str:
    accounts = meta.accounts
    avatars = []
    for account in accounts:
        profile = meta.profiles.get(account)
        url = safe_url(profile.avatar_url if profile else None)
        if url:
            avatars.append(f'<img src="{url}" alt="" width="92" height="92" style="border-radius: 50%">')
    names = " &amp; ".join(escape_html(meta.display_name(a)) for a in accounts)
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
        f"This bot imitates the public posts of {_handles(meta)}. It is not {_handles(meta)} and does not"
        " speak for them.",
        "",
        "I was made with tweetling, the successor of [huggingtweets](https://github.com/borisdayma/huggingtweets).",
    ]
    if has_image:
        lines += ["", "![Posts generated by this bot](predictions.png)"]
    return "\n".join(lines)


def _training_data(meta: BotMeta) -> str:
    dataset = meta.dataset
    if not dataset.table:
        return ""
    header = "| Data | " + " | ".join(f"@{escape_markdown(a)}" for a in dataset.table) + " |"
    rule = "| --- |" + " ---: |" * len(dataset.table)
    rows = [
        f"| {label} | " + " | ".join(f"{count:,}" for count in counts) + " |"
        for label, counts in data_table(dataset.table)
    ]
    summary = f"The model was trained on posts from {_handles(meta)}."
    if dataset.name and dataset.hash:
        summary += (
            f" Dataset {escape_markdown(dataset.name)}, version {escape_markdown(str(dataset.hash)[:12])}:"
            f" {dataset.train_count:,} training posts{_left_out(meta.near_duplicates)},"
            f" {dataset.valid_count:,} validation posts (early stopping)"
            + (f" and {dataset.test_count:,} test posts (the reported perplexity)." if dataset.test_count else ".")
        )
    cleaning = "Retweets and short posts were dropped and links removed, as in huggingtweets." + (
        " Line breaks inside posts were kept." if meta.keep_newlines else ""
    )
    if meta.continued:
        summary += _continuations(meta.continued)
    return "\n".join(["## Training data", "", summary, "", header, rule, *rows, "", cleaning])


def _left_out(near_duplicates: int) -> str:
    if not near_duplicates:
        return ""
    return f" ({near_duplicates:,} of them left out of training as near-duplicates of others)"


_SOURCE_NAMES = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky", "file": "a file"}


def _provenance(meta: BotMeta) -> str:
    """Where each account's posts came from, how far they reach, and what the opt-out check found."""
    dataset = meta.dataset
    lines = ["## Where the data came from", ""]
    if not dataset.provenance:
        return "\n".join([*lines, "Where the posts came from was not recorded: this bot predates tweetling's records."])
    cw = "included (`--include-cw`)" if dataset.options.include_cw else "left out"
    lines += [
        "Only public posts were used: followers-only and direct posts are never stored, and posts deleted at"
        f" their source are left out. Posts behind a content warning were {cw}.",
        "",
        "| Account | Source | How | Posts from | Posts to | Opt-out check |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for account, record in dataset.provenance.items():
        first, last = (escape_markdown((date or "-")[:10]) for date in (record.first_post, record.last_post))
        for origin in record.origins or (Origin("unknown", "not recorded"),):
            source = escape_markdown(_SOURCE_NAMES.get(origin.source, origin.source))
            if origin.host:
                source += f", {escape_markdown(origin.host)}"
            lines.append(
                f"| @{escape_markdown(account)} | {source} | {_how(origin)} | {first} | {last} | {_opt_out_check(origin)} |"
            )
    return "\n".join(lines)


def _how(origin: Origin) -> str:
    return {FETCHED: "fetched", ARCHIVE: "the account owner's archive", FILE: "an imported file"}.get(
        origin.how, "not recorded"
    )


def _opt_out_check(origin: Origin) -> str:
    if origin.how == ARCHIVE:
        return "not needed: the account owner's own export"
    if origin.how == FILE:
        return "not checked: posts imported from a file"
    if not origin.opt_out_checked_at:
        return "not recorded"
    when = escape_markdown(f"{origin.opt_out_checked_at[:10]} {origin.opt_out_checked_at[11:16]} UTC")
    found = "; ".join(escape_markdown(signal) for signal in origin.opt_outs) or "no opt-out found"
    if origin.owner:
        found += f"; fetched by the account's owner ({escape_markdown(origin.owner)})"
    return f"checked {when}: {found}"


def _continuations(updates: list[Continuation]) -> str:
    """The bot's `train --continue` updates, as a sentence after its dataset's."""
    first = updates[0].previous_dataset
    steps = " and then ".join(
        f"on {update.new_posts:,} posts new since (with {update.replayed_posts:,} older ones replayed)"
        for update in updates
    )
    return (
        f" It was first trained on dataset {escape_markdown(first.name)}, version"
        f" {escape_markdown(str(first.hash)[:12])} ({first.train_count:,} training posts), then continued {steps}."
    )


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


def _training_procedure(meta: BotMeta, is_adapter: bool) -> str:
    base = meta.base_model
    base_text = (
        f"[{escape_markdown(base)}](https://huggingface.co/{base})"
        if hub_model_id(base)
        else code_span(base or "unknown")
    )
    method = {"lora": "with LoRA adapters", "full": "in full"}.get(meta.method or "", "")
    lines = [
        "## Training procedure",
        "",
        f"The model is based on the pre-trained {base_text}, fine-tuned {method} on {_handles(meta)}'s posts"
        " (each post followed by the end-of-text token, so a prompt starting with it begins a new post).",
    ]
    if is_adapter:
        lines[-1] += " This folder holds the LoRA adapter; `peft` loads it on top of the base model."
    if meta.recipe:
        lines += ["", *_key_values("Hyperparameter", {"seed": meta.seed, **meta.recipe})]
    results = {
        "train_loss": meta.train_loss,
        "valid_loss": meta.valid_loss,
        "valid_perplexity": meta.valid_perplexity,
        "test_loss": meta.test_loss,
        "test_perplexity": meta.test_perplexity,
        "valid_perplexity_before_continuing": meta.continued[-1].previous_valid_perplexity if meta.continued else None,
        "train_tokens": meta.train_tokens,
        "tokens_per_s": meta.tokens_per_s,
        "wall_time_s": meta.wall_time_s,
    }
    if any(value is not None for value in results.values()):
        lines += ["", *_key_values("Result", results)]
    versions = meta.versions
    if versions:
        lines += [
            "",
            "Library versions: "
            + ", ".join(f"{escape_markdown(lib)} {escape_markdown(version)}" for lib, version in versions.items())
            + ".",
        ]
    return "\n".join(lines)


def _evaluation(meta: BotMeta) -> str:
    figures = {
        name: value for name, value in flatten(meta.eval or {}).items() if isinstance(value, (int, float, str, bool))
    }
    return "\n".join(["## Evaluation", "", *_key_values("Metric", figures)]) if figures else ""


def _how_to_use(meta: BotMeta, folder: Path, repo_id: str | None) -> str:
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
            f"generator({DEFAULT_PROMPT!r}, num_return_sequences=5, do_sample=True, top_p={GenerateConfig.top_p})",
            "```",
            "",
            "`tweetling generate` samples the same way and also cuts each sample at its first line break"
            " and drops samples that copy a training post.",
        ]
    )


_FILE_ROLES = {
    "config.json": "architecture, and tweetling's sampling settings under `task_specific_params`",
    "generation_config.json": "sampling defaults for transformers' `generate`",
    "tokenizer.json": "the tokenizer",
    "tokenizer_config.json": "tokenizer settings",
    "chat_template.jinja": "the base model's chat template (posts need none)",
    "tweetling.json": "how the bot was made: dataset version and counts, recipe, losses, library versions",
    "predictions.png": "sample posts",
    "README.md": "this card",
    "Modelfile": "Ollama's recipe for the GGUF file, with tweetling's sampling settings",
}


def _files(meta: BotMeta, folder: Path) -> str:
    """The files the folder ships, and how to run its GGUF file (if any) outside Python."""
    files = {p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    entries = sorted(files | {folder / "README.md"})  # the card itself, being written
    rows = ["| File | Size | What |", "| --- | ---: | --- |"]
    for path in entries:
        size = "" if path.name == "README.md" else _file_size(path.stat().st_size)
        rows.append(f"| {escape_markdown(path.name)} | {size} | {_file_role(path, folder)} |")
    lines = ["## Files", "", *rows]
    ggufs = [path.name for path in entries if path.suffix == ".gguf"]
    if ggufs and (folder / "Modelfile").exists():
        lines += ["", *_run_locally(meta, ggufs[0])]
    return "\n".join(lines)


def _file_size(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 100_000 else f"{size / 1e3:,.1f} kB"


def _file_role(path: Path, folder: Path) -> str:
    if path.suffix == ".safetensors":
        dtype = saved_dtype(folder)
        return "the weights" + (f" ({escape_markdown(dtype)})" if dtype else "")
    if path.suffix == ".gguf":
        return "the model as one GGUF file (weights, tokenizer, sampling defaults) for llama.cpp, Ollama, LM Studio"
    return _FILE_ROLES.get(path.name, "")


def _run_locally(meta: BotMeta, gguf_file: str) -> list[str]:
    from .export import local_commands

    eos = meta.eos_token or "<|endoftext|>"
    try:
        commands = local_commands(gguf_file, meta.name, eos, meta.keep_newlines)
    except TweetlingError:  # a file name or token that would not be safe inside a shell command
        return []
    return [
        "### Run it locally",
        "",
        f"Download {escape_markdown(gguf_file)} and Modelfile into one folder, then, there:",
        "",
        "```bash",
        f"# Ollama\n{commands['Ollama']}",
        f"# llama.cpp\n{commands['llama.cpp']}",
        "```",
        "",
        "The GGUF file carries tweetling's sampling settings (top-p 0.95, temperature 1, no top-k or min-p),"
        " which llama.cpp uses by default, and a prompt template that puts the end-of-text token before"
        " your text, which LM Studio's chat uses: type the start of a post and the model continues it."
        + ("" if meta.keep_newlines else " Add a line break as a stop string there: a post ends at its first one."),
    ]


def _limitations(meta: BotMeta) -> str:
    base = meta.base_model
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


def _disclosure(meta: BotMeta) -> str:
    return "\n".join(
        [
            "## Disclosure",
            "",
            f"Text generated by this model is machine-generated. It was not written by {_handles(meta)} and"
            " does not represent their views. Label it as machine-generated wherever you share it.",
        ]
    )
