"""HTML fragments of the web app. Every user-controlled string passes through `esc`.

Remote images (avatars) are never linked: the page loads nothing from outside the local server.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .. import clean
from ..bots import BotMeta
from ..clean import Table
from ..share import ShareLinks


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def data_table(tables: Mapping[str, Table]) -> str:
    """huggingtweets' data table, one column per account, as an HTML table."""
    head = "".join(f"<th>{esc(account)}</th>" for account in tables)
    body = "".join(
        f"<tr><th scope='row'>{esc(label)}</th>" + "".join(f"<td>{count:,}</td>" for count in counts) + "</tr>"
        for label, counts in clean.data_table(tables)
    )
    return f"<table class='tl-table' id='tl-data-table'><tr><th></th>{head}</tr>{body}</table>"


def post_list(texts: Iterable[str], css_id: str) -> str:
    items = "".join(f"<li>{esc(text)}</li>" for text in texts)
    return f"<ol class='tl-posts' id='{css_id}'>{items}</ol>"


def notes(lines: Iterable[str], kind: str = "info") -> str:
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return f"<ul class='tl-notes tl-{kind}'>{items}</ul>" if items else ""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def training_status(status: Any | None) -> str:
    """The live panel of a job: a bar, steps, loss, speed, ETA; or how it ended."""
    if status is None:
        return "<div class='tl-muted' id='tl-train-status'>No training yet.</div>"
    progress = status.progress
    step, total = progress.get("step", 0), progress.get("total") or 0
    fields = [f"step {step:,} / {total:,}" if total else f"step {step:,}"]
    if progress.get("loss") is not None:
        fields.append(f"loss {progress['loss']:.3f}")
    if progress.get("valid_loss") is not None:
        fields.append(f"validation loss {progress['valid_loss']:.3f}")
    if progress.get("tokens_per_s"):
        fields.append(f"{progress['tokens_per_s']:,.0f} tokens/s")
    end = status.finished_at or time.time()
    fields.append(f"elapsed {duration(end - status.started_at)}")
    if status.active:
        fields.append(f"ETA {duration(progress.get('eta_s'))}")
    headline = {
        "running": "Training",
        "cancelling": "Cancelling (saving what was learned so far)…",
        "done": "Done",
        "failed": "Failed",
        "cancelled": "Cancelled",
    }[status.state]
    bar = f"<progress max='{max(total, 1)}' value='{min(step, max(total, 1))}'></progress>"
    message = f"<p class='tl-error'>{esc(status.message)}</p>" if status.message else ""
    if status.state == "done":
        message = "<p>The bot is ready: write with it in step 3.</p>"
    return (
        f"<div id='tl-train-status' data-state='{status.state}'>"
        f"<strong>{esc(headline)}: {esc(status.name)}</strong>{bar}"
        f"<p>{' · '.join(esc(field) for field in fields)}</p>{message}</div>"
    )


def generated_posts(posts: list[tuple[str, ShareLinks]]) -> str:
    """Generated posts, each with links that open it (and its disclosure) as a new post on X or Mastodon."""
    items = "".join(
        f"<li><span class='tl-post'>{esc(text)}</span> <span class='tl-share'>"
        f"<a href='{esc(links.x)}' target='_blank' rel='noopener noreferrer'>share on X</a> · "
        f"<a href='{esc(links.mastodon)}' target='_blank' rel='noopener noreferrer'>on Mastodon</a></span></li>"
        for text, links in posts
    )
    return f"<ol class='tl-posts' id='tl-generated'>{items}</ol>"


def bot_cards(bots: list[BotMeta]) -> str:
    """The gallery of trained bots: who they imitate and how well they fit (validation loss)."""
    if not bots:
        return "<p class='tl-muted' id='tl-gallery'>No bots yet: train one in step 2.</p>"
    cards = []
    for meta in bots:
        people = ", ".join(f"{meta.display_name(a)} (@{a})" for a in meta.accounts)
        facts = [meta.base_model, meta.method, (meta.created_at or "")[:10]]
        if meta.valid_loss is not None:
            facts.append(f"valid loss {meta.valid_loss:.3f}")
        stale = ""
        if meta.stale:  # posts it learned from were forgotten: `tweetling forget`
            advice = f"{meta.stale.reason}. {meta.stale.retrain or ''}".strip()
            stale = f" <span class='tl-stale' title='{esc(advice)}'>stale: retrain</span>"
        cards.append(
            f"<div class='tl-card'><strong>{esc(meta.name)}</strong>{stale}"
            f"<div>{esc(people)}</div>"
            f"<div class='tl-muted'>{esc(' · '.join(str(f) for f in facts if f))}</div></div>"
        )
    return f"<div class='tl-gallery' id='tl-gallery'>{''.join(cards)}</div>"


CSS = """
.tl-table { border-collapse: collapse; margin: 0.5em 0; }
.tl-table th, .tl-table td { padding: 0.25em 0.9em; border-bottom: 1px solid var(--border-color-primary); }
.tl-table td { text-align: right; font-variant-numeric: tabular-nums; }
.tl-posts li { margin: 0.3em 0; }
.tl-share { font-size: 0.85em; opacity: 0.8; }
.tl-notes.tl-warning li { color: var(--color-accent); }
.tl-muted { opacity: 0.7; }
.tl-error { color: #c0392b; }
#tl-train-status progress { width: 100%; height: 1em; margin: 0.4em 0; }
.tl-gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 0.6em; }
.tl-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em; }
.tl-stale { font-size: 0.8em; color: #c0392b; border: 1px solid #c0392b; border-radius: 4px; padding: 0 0.3em; }
"""
