"""HTML fragments of the web app. Every user-controlled string passes through `esc`.

Remote images (avatars) are never linked: the page loads nothing from outside the local server.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .. import clean
from ..bots import BotMeta, DatasetRecord
from ..card import safe_url
from ..clean import Table
from ..share import ShareLinks
from ..terminal import terminal_safe


def esc(value: Any) -> str:
    """VALUE as HTML text, without the control characters and bidi overrides of outside text."""
    return html.escape(terminal_safe(str(value)), quote=True)


def message(text: str, kind: str = "error") -> str:
    """One line beside a control: an error (kept until the next action), a warning or a note."""
    role = "alert" if kind == "error" else "status"
    return f"<div class='tl-message tl-{kind}' role='{role}'>{esc(text)}</div>"


def link_message(text: str, url: str, kind: str = "ok") -> str:
    """A message ending with a link (shown as text unless it is an http(s) address)."""
    address = safe_url(url)
    link = f"<a href='{address}' target='_blank' rel='noopener noreferrer'>{esc(url)}</a>" if address else esc(url)
    return f"<div class='tl-message tl-{kind}' role='status'>{esc(text)} {link}</div>"


def data_table(tables: Mapping[str, Table], css_id: str = "tl-data-table") -> str:
    """huggingtweets' data table, one column per account, as an HTML table."""
    head = "".join(f"<th>{esc(account)}</th>" for account in tables)
    body = "".join(
        f"<tr><th scope='row'>{esc(label)}</th>" + "".join(f"<td>{count:,}</td>" for count in counts) + "</tr>"
        for label, counts in clean.data_table(tables)
    )
    return f"<table class='tl-table' id='{css_id}'><tr><th></th>{head}</tr>{body}</table>"


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


def span(seconds: float) -> str:
    """A schedule's interval in words: 3 h, 45 min, 1 h 30 min, 20 s."""
    seconds = round(seconds)
    hours, minutes, rest = seconds // 3600, seconds % 3600 // 60, seconds % 60
    words = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "", f"{rest} s" if rest else ""]
    return " ".join(word for word in words if word) or "0 min"


def size(n_bytes: int) -> str:
    value = float(n_bytes)
    for unit in ("bytes", "KB", "MB"):
        if value < 1000:
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.2f} GB"


def bar(done: int, total: int | None) -> str:
    """A progress bar: filled to DONE/TOTAL, or a moving stripe while the total is unknown."""
    if not total:
        return "<div class='tl-bar tl-bar-waiting' role='progressbar' aria-busy='true'><span></span></div>"
    share = min(max(done / total, 0.0), 1.0)
    return (
        f"<div class='tl-bar' role='progressbar' aria-valuemin='0' aria-valuemax='{total}' aria-valuenow='{done}'>"
        f"<span style='width: {share * 100:.1f}%'></span></div>"
    )


# --- step 2: datasets, checkpoints, the training panel ------------------------------------------


def dataset_label(record: DatasetRecord) -> str:
    """How a prepared dataset is named in the picker: short enough for a phone's width."""
    try:
        made = datetime.fromisoformat(record.created_at or "").astimezone().strftime("%b %d, %H:%M")
    except ValueError:
        return record.name
    return f"{record.name} ({made})"


def dataset_summary(record: DatasetRecord | None) -> str:
    if record is None:
        return "<p class='tl-muted' id='tl-dataset'>No dataset yet: get data in step 1.</p>"
    counts = f"{record.train_count:,} training and {record.valid_count:,} validation posts"
    return (
        f"<div id='tl-dataset'><p>Ready: <strong>{esc(record.name)}</strong>, {esc(counts)}.</p>"
        f"{data_table(record.table, 'tl-dataset-table')}</div>"
    )


PHASES = {
    "loading": "loading the base model",
    "updating": "loading the bot and planning its update",
    "resuming": "loading the base model and the checkpoint",
    "training": "training",
    "finishing": "writing the bot folder, its preview image and model card",
}
HEADLINES = {
    "running": "Training",
    "cancelling": "Cancelling",
    "done": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


def training_status(status: Any | None) -> str:
    """The live panel of a job: what it is doing, a bar, steps, loss, speed, ETA; or how it ended."""
    if status is None:
        return "<div class='tl-muted' id='tl-train-status'>No training yet.</div>"
    progress = status.progress
    step, total = progress.get("step", 0), progress.get("total") or 0
    phase = PHASES.get(progress.get("phase", "loading"), "")
    if status.state == "cancelling":
        phase = "stopping after the current step, keeping what was learned"
        if progress.get("phase", "loading") in ("loading", "resuming", "updating"):
            phase = "stopping as soon as the base model has loaded"
    fields = [f"step {step:,} / {total:,}" if total else f"step {step:,}"]
    if progress.get("trials_planned"):  # a sweep: its steps are the current trial's
        fields.insert(
            0, f"trial {min(progress.get('trial', 1), progress['trials_planned'])} of {progress['trials_planned']}"
        )
    if progress.get("loss") is not None:
        fields.append(f"loss {progress['loss']:.3f}")
    if progress.get("valid_loss") is not None:
        fields.append(f"validation loss {progress['valid_loss']:.3f}")
    if progress.get("tokens_per_s"):
        fields.append(f"{progress['tokens_per_s']:,.0f} tokens/s")
    end = status.finished_at or time.time()
    fields.append(f"elapsed {duration(end - status.started_at)}")
    if status.active and progress.get("eta_s") is not None:
        fields.append(f"ETA {duration(progress.get('eta_s'))}")
    doing = f" <span class='tl-phase'>— {esc(phase)}…</span>" if status.active and phase else ""
    ending = ""
    if status.message:
        ending = (
            f"<p class='tl-message tl-{'error' if status.state == 'failed' else 'warning'}'>{esc(status.message)}</p>"
        )
    if status.state == "done":
        best = f" ({progress['best']})" if progress.get("best") else ""
        ending = f"<p class='tl-message tl-ok'>The bot is ready{esc(best)}: write with it in step 3.</p>"
    return (
        f"<div id='tl-train-status' data-state='{status.state}'>"
        f"<strong>{esc(HEADLINES[status.state])}: {esc(status.name)}</strong>{doing}"
        f"{bar(step, total) if status.active or total else ''}"
        f"<p>{' · '.join(esc(field) for field in fields)}</p>{training_plan(progress.get('plan'))}"
        f"{sweep_trials(progress.get('trials', ()))}{ending}</div>"
    )


def sweep_trials(trials: Sequence[Any]) -> str:
    """The finished trials of a sweep (`sweep.TrialSummary`), the best one marked; "" before the first."""
    if not trials:
        return ""
    best = min((t.value for t in trials if t.value is not None), default=None)
    rows = []
    for trial in trials:
        params = trial.params
        method = params.get("method", "")
        if params.get("lora_r"):
            method += f" r={params['lora_r']}"
        cells = [
            f"{trial.number}" + (" ★" if best is not None and trial.value == best else ""),
            trial.state.lower(),
            method,
            f"{params['learning_rate']:.2g}" if "learning_rate" in params else "",
            params.get("epochs", ""),
            params.get("lr_scheduler", ""),
            f"{params['warmup_ratio']:.2f}" if "warmup_ratio" in params else "",
            params.get("gradient_accumulation", ""),
            "" if trial.value is None else f"{trial.value:.4f}",
        ]
        rows.append("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in cells) + "</tr>")
    head = "".join(
        f"<th>{label}</th>"
        for label in ("trial", "state", "method", "rate", "epochs", "schedule", "warm-up", "batch ×", "valid loss")
    )
    return f"<table class='tl-table' id='tl-sweep-trials'><tr>{head}</tr>{''.join(rows)}</table>"


def training_plan(plan: Any | None) -> str:
    """What the training will do (a `train.TrainPlan`), as soon as it is known: posts, epochs,
    steps and how long it should take on this machine."""
    if plan is None:
        return ""
    epochs = f"{plan.epochs} epoch{'s' if plan.epochs != 1 else ''}" + (
        " (a sample of the posts)" if plan.sampled else ""
    )
    text = f"Plan: {plan.posts_trained}, {epochs}, {plan.steps:,} steps of {plan.batch_size} on {plan.device}"
    if plan.estimated_s is not None:
        text += f"; about {math.ceil(plan.estimated_s / 60)} min on this machine (timed on a few steps)"
    return f"<p class='tl-plan'>{esc(text)}</p>"


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def loss_chart(points: Sequence[tuple[int, float, str]], total_steps: int | None = None) -> str:
    """The training loss of each step (a line) and each validation (a line through dots), as
    an SVG that scales to the page's width; "" before the first point."""
    points = [(step, loss, series) for step, loss, series in points if math.isfinite(loss)]
    if not points:
        return ""
    width, height, left, right, top, bottom = 640, 250, 64, 16, 14, 40
    x_max = max(total_steps or 0, max(step for step, _, _ in points), 1)
    losses = [loss for _, loss, _ in points]
    pad = (max(losses) - min(losses)) * 0.08 or 0.1
    y_low, y_high = min(losses) - pad, max(losses) + pad

    def x(step: float) -> float:
        return left + (width - left - right) * step / x_max

    def y(loss: float) -> float:
        return top + (height - top - bottom) * (y_high - loss) / (y_high - y_low)

    parts = []
    for value in _ticks(y_low, y_high):
        parts.append(
            f"<line class='tl-grid' x1='{left}' x2='{width - right}' y1='{y(value):.1f}' y2='{y(value):.1f}'/>"
            f"<text x='{left - 8}' y='{y(value) + 5:.1f}' text-anchor='end'>{value:.2f}</text>"
        )
    for value in _ticks(0, x_max, 3):
        parts.append(f"<text x='{x(value):.1f}' y='{height - bottom + 22}' text-anchor='middle'>{value:,.0f}</text>")
    parts.append(f"<text x='{width - right}' y='{height - 4}' text-anchor='end'>step</text>")
    for series in ("training", "validation"):
        xy = [(x(step), y(loss)) for step, loss, kind in points if kind == series]
        line = " ".join(f"{a:.1f},{b:.1f}" for a, b in xy)
        parts.append(f"<polyline class='tl-{series}' points='{line}'/>")
        if series == "validation":
            parts += [f"<circle class='tl-{series}' cx='{a:.1f}' cy='{b:.1f}' r='5'/>" for a, b in xy]
    counts = {series: sum(kind == series for _, _, kind in points) for series in ("training", "validation")}
    return (
        f"<figure class='tl-chart' id='tl-loss-chart' data-training='{counts['training']}' "
        f"data-validation='{counts['validation']}'><figcaption>Loss (lower fits the posts better): "
        "<span class='tl-key tl-training'></span> training · <span class='tl-key tl-validation'></span> validation"
        f"</figcaption><svg viewBox='0 0 {width} {height}' role='img' aria-label='loss by training step'>"
        f"{''.join(parts)}</svg></figure>"
    )


def run_address(mlflow_ui: str, experiment_id: str, run_id: str) -> str:
    """A run's page in the MLflow UI at MLFLOW_UI."""
    return f"{mlflow_ui.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def tracked_runs(runs: Sequence[Any], mlflow_ui: str, store_uri: str) -> str:
    """The newest tracked runs (`track.RunSummary`), as `tweetling runs` lists them, each name a
    link to the run in the MLflow UI."""
    if not runs:
        return "<p class='tl-muted' id='tl-runs'>No tracked runs yet: getting data and training record them.</p>"
    rows = []
    for run in runs:
        address = safe_url(run_address(mlflow_ui, run.experiment_id, run.id)) if run.experiment_id else None
        name = esc(run.name or run.id)
        link = f"<a href='{address}' target='_blank' rel='noopener noreferrer'>{name}</a>" if address else name
        cells = [
            esc(run.started),
            esc(run.kind),
            link,
            esc(run.status.lower()),
            "" if run.duration_s is None else esc(duration(run.duration_s)),
            *("" if ppl is None else f"{ppl:.2f}" for ppl in run.final_perplexities),
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    head = "".join(
        f"<th>{label}</th>" for label in ("started", "kind", "name", "status", "time", "valid ppl", "test ppl")
    )
    return (
        f"<table class='tl-table' id='tl-runs'><tr>{head}</tr>{''.join(rows)}</table>"
        f"<p class='tl-muted'>The links open the MLflow UI; start it with "
        f"<code>mlflow ui --backend-store-uri {esc(store_uri)}</code></p>"
    )


def stored_accounts(rows: Iterable[tuple[str, str, str, int]]) -> str:
    """The accounts in the store, as `tweetling accounts` lists them: name, source, display name, posts."""
    body = "".join(
        f"<tr><td>{esc(name)}</td><td>{esc(source)}</td><td>{esc(display)}</td><td>{count:,}</td></tr>"
        for name, source, display, count in rows
    )
    if not body:
        return "<p class='tl-muted' id='tl-stored'>The store holds no posts yet.</p>"
    head = "<tr><th>account</th><th>source</th><th>name</th><th>posts</th></tr>"
    return f"<table class='tl-table' id='tl-stored'>{head}{body}</table>"


def run_link(url: str | None, store_uri: str) -> str:
    """Where to see a training run in the local MLflow UI, and how to start that UI."""
    address = safe_url(url)
    if not address:
        return ""
    return (
        f"<p class='tl-muted' id='tl-run-link'>This run in MLflow: <a href='{address}' target='_blank' "
        f"rel='noopener noreferrer'>{esc(url)}</a> (start the MLflow UI with "
        f"<code>mlflow ui --backend-store-uri {esc(store_uri)}</code>)</p>"
    )


# --- step 3: generated posts --------------------------------------------------------------------


def generated_posts(posts: list[tuple[str, ShareLinks]]) -> str:
    """Generated posts, each with links that open it (and its disclosure) as a new post on X or Mastodon."""
    items = "".join(
        f"<li><span class='tl-post'>{esc(text)}</span> <span class='tl-share'>"
        f"<a href='{esc(links.x)}' target='_blank' rel='noopener noreferrer'>share on X</a> · "
        f"<a href='{esc(links.mastodon)}' target='_blank' rel='noopener noreferrer'>on Mastodon</a></span></li>"
        for text, links in posts
    )
    return f"<ol class='tl-posts' id='tl-generated'>{items}</ol>"


# --- the bots: gallery and a bot's page ----------------------------------------------------------


def people(meta: BotMeta) -> str:
    return ", ".join(f"{meta.display_name(a)} (@{a})" for a in meta.accounts)


def bot_cards(bots: list[BotMeta], stale: Mapping[str, str] | None = None) -> str:
    """The gallery of trained bots: who they imitate and how well they fit; a card opens its bot."""
    if not bots:
        return "<p class='tl-muted' id='tl-gallery'>No bots yet: train one in step 2.</p>"
    stale = stale or {}
    cards = []
    for meta in bots:
        facts = [meta.base_model, meta.method, (meta.created_at or "")[:10]]
        if meta.valid_loss is not None:
            facts.append(f"valid loss {meta.valid_loss:.3f}")
        mark = ""
        if meta.name in stale:
            mark = f"<div class='tl-message tl-warning tl-stale'>{esc(stale[meta.name])}</div>"
        cards.append(
            f"<button type='button' class='tl-card' data-bot='{esc(meta.name)}' aria-label='Open bot {esc(meta.name)}'>"
            f"<strong class='tl-name'>{esc(meta.name)}</strong>"
            f"<span>{esc(people(meta))}</span>"
            f"<span class='tl-muted'>{esc(' · '.join(str(f) for f in facts if f))}</span>{mark}</button>"
        )
    return f"<div class='tl-gallery' id='tl-gallery'>{''.join(cards)}</div>"


# Opens the bot of a clicked card: the server checks the name it is sent.
GALLERY_JS = """
element.addEventListener('click', (event) => {
  const card = event.target.closest('[data-bot]');
  if (card) trigger('click', {bot: card.dataset.bot});
});
"""


def key_values(rows: Iterable[tuple[str, Any]], css_id: str) -> str:
    body = "".join(
        f"<tr><th scope='row'>{esc(label)}</th><td>{esc(value)}</td></tr>" for label, value in rows if value is not None
    )
    return f"<table class='tl-table tl-facts' id='{css_id}'>{body}</table>"


def number(value: Any, digits: int = 3) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def percent(value: Any) -> str | None:
    return f"{value * 100:.1f} %" if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def bot_facts(meta: BotMeta) -> str:
    """Who a bot imitates and how it was trained."""
    recipe_name = meta.recipe.get("name") if meta.recipe else None
    rows = [
        ("Imitates", people(meta)),
        ("Base model", meta.base_model),
        ("Recipe", " · ".join(str(x) for x in (recipe_name, meta.method) if x) or None),
        ("Trained", (meta.created_at or "")[:16].replace("T", " ") or None),
        ("Training time", duration(meta.train_time_s) if meta.train_time_s is not None else None),
        ("Steps", number(meta.steps)),
        ("Training posts", number(meta.dataset.train_count) if meta.dataset.train_count else None),
        ("Validation loss", number(meta.valid_loss)),
        ("Validation perplexity", number(meta.valid_perplexity, 2)),
    ]
    return f"<h4 class='tl-name'>{esc(meta.name)}</h4>" + key_values(rows, "tl-bot-facts")


EVAL_ROWS: list[tuple[str, str, Any]] = [
    ("perplexity", "Perplexity on held-out posts", lambda v: number(v, 2)),
    ("base_perplexity", "…the base model's, on the same posts", lambda v: number(v, 2)),
    ("distinct_1", "Distinct words (distinct-1)", number),
    ("distinct_2", "Distinct word pairs (distinct-2)", number),
    ("mean_words", "Words per generated post", lambda v: number(v, 1)),
    ("account_mean_words", "Words per post of the account", lambda v: number(v, 1)),
    ("memorized_rate", "Generated posts copying a training post", percent),
    ("generated", "Posts sampled", number),
]
STYLE_ROWS: list[tuple[str, str]] = [
    ("attribution_accuracy", "Generated posts told apart as the account's"),
    ("reference_accuracy", "…the account's real posts, for comparison"),
]


def evaluation(result: dict | None) -> str:
    """A bot's `tweetling eval` results, or how to get them."""
    if not result:
        return "<p class='tl-muted' id='tl-eval'>Not evaluated yet: “Evaluate” measures it (about a minute).</p>"
    rows = [(label, show(result.get(key))) for key, label, show in EVAL_ROWS]
    style: dict = result["style"] if isinstance(result.get("style"), dict) else {}
    rows += [(label, percent(style.get(key))) for key, label in STYLE_ROWS]
    missing = [str(v) for k, v in result.items() if k.endswith("_unavailable")]
    if style.get("unavailable"):
        missing.append(f"style attribution: {style['unavailable']}")
    when = str(result.get("evaluated_at") or "")[:16].replace("T", " ")
    return (
        f"<div id='tl-eval'><p class='tl-muted'>Evaluated {esc(when)}</p>"
        f"{key_values(rows, 'tl-eval-table')}{notes(missing, 'warning')}</div>"
    )


# --- step 4: accounts and drafts ------------------------------------------------------------------


def connections(accounts: list[Any]) -> str:
    """The accounts bots post from, with their disclosure state."""
    if not accounts:
        return (
            "<p class='tl-muted' id='tl-connections'>No account connected yet: connect the bot's own account"
            " under “Connect an account” below, or with <code>tweetling connect</code>.</p>"
        )
    rows = "".join(
        f"<li><strong>{esc(a.target)}</strong> <span class='tl-muted'>"
        f"{'marked as a bot' if a.bot_flag else 'not marked as a bot'} · up to {a.max_chars:,} characters</span></li>"
        for a in accounts
    )
    return f"<ul class='tl-accounts' id='tl-connections'>{rows}</ul>"


STATUS_WORDS = {"pending": "waiting for you", "approved": "approved", "rejected": "rejected", "posted": "posted"}


def drafts(items: list[Any]) -> str:
    """The queue: each draft's text (editable until it is posted) and what can be done with it."""
    if not items:
        return "<p class='tl-muted' id='tl-drafts'>No drafts: “Draft more” writes some for you to approve.</p>"
    cards = []
    for draft in items:
        editable = draft.status in ("pending", "approved") and draft.intent is None
        actions = []
        if draft.status in ("pending", "rejected"):
            actions.append(("approve", "Approve"))
        if editable:
            actions.append(("edit", "Save text"))
        if draft.status in ("pending", "approved") and draft.intent is None:
            actions.append(("reject", "Reject"))
        if draft.status == "approved":
            actions.append(("post", "Post now"))
        buttons = "".join(
            f"<button type='button' class='tl-action tl-{name}' data-action='{name}'>{label}</button>"
            for name, label in actions
        )
        text = (
            f"<textarea class='tl-draft-text' rows='3' aria-label='Text of draft {draft.id}'>{esc(draft.text)}</textarea>"
            if editable
            else f"<p class='tl-post'>{esc(draft.text)}</p>"
        )
        where = ""
        if draft.status == "posted":
            address = safe_url(draft.remote_url)
            link = (
                f"<a href='{address}' target='_blank' rel='noopener noreferrer'>{esc(draft.remote_url)}</a>"
                if address
                else esc(draft.remote_url or draft.remote_id or "")
            )
            where = f" to {esc(draft.posted_to or '')} {link}"
        note = f"<p class='tl-muted'>{esc(draft.note)}</p>" if draft.note else ""
        mention = draft.reply_to
        answers = (
            f"<div class='tl-muted tl-reply-to'>in reply to @{esc(mention.author)}: {esc(mention.text)}</div>"
            if mention
            else ""
        )
        cards.append(
            f"<li class='tl-draft' data-draft='{draft.id}' data-status='{draft.status}' id='tl-draft-{draft.id}'>"
            f"<div class='tl-muted'>#{draft.id} · {esc(STATUS_WORDS.get(draft.status, draft.status))}{where}</div>"
            f"{answers}{text}{note}<div class='tl-actions'>{buttons}</div></li>"
        )
    return f"<ol class='tl-drafts' id='tl-drafts'>{''.join(cards)}</ol>"


# Sends a draft's action (and its edited text) to the server, which checks both.
DRAFTS_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('[data-action]');
  const card = button && button.closest('[data-draft]');
  if (!card) return;
  const text = card.querySelector('textarea');
  trigger('click', {action: button.dataset.action, draft: Number(card.dataset.draft), text: text ? text.value : null});
});
"""


CSS = """
.tl-table { border-collapse: collapse; margin: 0.5em 0; border: 0 !important; }
#tl-eval-table td { white-space: nowrap; }
.tl-table th, .tl-table td { padding: 0.25em 0.9em; border: 0 !important;
  border-bottom: 1px solid var(--border-color-primary) !important; background: none !important; }
.tl-table td { text-align: right; font-variant-numeric: tabular-nums; }
.tl-table th[scope='row'] { text-align: left; font-weight: normal; }
.tl-facts td { text-align: left; overflow-wrap: anywhere; }
.tl-posts li { margin: 0.3em 0; }
.tl-share { font-size: 0.85em; opacity: 0.8; }
.tl-muted { opacity: 0.75; }
.tl-name { overflow-wrap: anywhere; }
.tl-message { padding: 0.45em 0.7em; border-radius: 6px; margin: 0.3em 0; border-left: 4px solid; }
.tl-message.tl-error { background: #fdecea; color: #8a1c12; border-color: #c0392b; }
.tl-message.tl-warning { background: #fff4d6; color: #6b4a00; border-color: #e0a800; }
.tl-message.tl-ok { background: #e8f6ec; color: #1e5b30; border-color: #2e8b57; }
.tl-message.tl-info { background: var(--background-fill-secondary); border-color: var(--border-color-primary); }
.tl-message.tl-busy { background: var(--background-fill-secondary); border-color: var(--color-accent);
  animation: tl-pulse 1.4s ease-in-out infinite; }
@keyframes tl-pulse { 50% { border-color: transparent; } }
.tl-notes { padding-left: 1.2em; }
.tl-notes.tl-warning li { color: #6b4a00; background: #fff4d6; padding: 0.2em 0.5em; border-radius: 4px; margin: 0.2em 0; }
.tl-phase { opacity: 0.8; }
.tl-bar { width: 100%; height: 0.8em; margin: 0.4em 0; border-radius: 999px; overflow: hidden;
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary); }
.tl-bar span { display: block; height: 100%; background: var(--color-accent); }
.tl-bar-waiting span { width: 30%; animation: tl-slide 1.6s ease-in-out infinite; }
@keyframes tl-slide { from { margin-left: -30%; } to { margin-left: 100%; } }
.tl-gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 0.6em; }
.tl-card { display: flex; flex-direction: column; gap: 0.2em; text-align: left; cursor: pointer; font: inherit;
  color: inherit; background: var(--background-fill-primary); overflow-wrap: anywhere;
  border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em; }
.tl-card:hover, .tl-card:focus { border-color: var(--color-accent); }
.tl-drafts { list-style: none; padding: 0; }
.tl-draft { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em; margin: 0.5em 0; }
.tl-draft[data-status='posted'], .tl-draft[data-status='rejected'] { opacity: 0.8; }
.tl-draft-text { width: 100%; box-sizing: border-box; font: inherit; padding: 0.4em; border-radius: 6px;
  border: 1px solid var(--border-color-primary); background: var(--input-background-fill); color: inherit; }
.tl-actions { display: flex; flex-wrap: wrap; gap: 0.4em; margin-top: 0.4em; }
.tl-action { font: inherit; padding: 0.3em 0.8em; border-radius: 6px; cursor: pointer; color: inherit;
  border: 1px solid var(--border-color-primary); background: var(--button-secondary-background-fill); }
.tl-action.tl-approve, .tl-action.tl-post { background: var(--color-accent); color: white; border-color: transparent; }
#tl-train-status { min-height: 3em; }
.tl-chart { margin: 0.5em 0; }
.tl-chart { max-width: 760px; }
.tl-chart svg { width: 100%; height: auto; }
.tl-chart text { font-size: 15px; fill: currentColor; opacity: 0.8; }
.tl-chart .tl-grid { stroke: var(--border-color-primary); }
.tl-chart polyline { fill: none; stroke-width: 2.5; }
.tl-chart polyline.tl-training { stroke: #6366f1; }
.tl-chart polyline.tl-validation, .tl-chart circle.tl-validation { stroke: #d97706; }
.tl-chart circle.tl-validation { fill: #d97706; }
.tl-key { display: inline-block; width: 1.4em; height: 0.3em; vertical-align: middle; border-radius: 2px; }
.tl-key.tl-training { background: #6366f1; }
.tl-key.tl-validation { background: #d97706; }
/* Long names and labels wrap instead of being cut (a phone is 390 px wide). */
#tl-bot input, #tl-post-bot input, #tl-page-bot input, #tl-bot-name input, #tl-dataset-pick input { text-overflow: clip; }
@media (max-width: 640px) {
  .tl-table th, .tl-table td { padding: 0.2em 0.5em; }
  /* Every step's tab stays in sight on a phone instead of behind a "more" menu. */
  .tab-container button { padding: 0 6px !important; font-size: 13.5px !important; }
}
"""


def autopilot(statuses: Sequence[Any]) -> str:
    """Each account's posting loop (`autopilot.AutopilotStatus`): its schedule, when it posts
    next and what it did last, newest first."""
    if not statuses:
        return "<p class='tl-muted' id='tl-autopilot'>No bot is posting on a schedule.</p>"
    parts = []
    for status in statuses:
        facts = [
            f"every {span(status.every_s)} ± {span(status.jitter_s)}",
            "drafts written and approved by itself" if status.auto_approve else "approved drafts only",
            "answering mentions" if status.reply else "not answering mentions",
            f"{status.posted} posted",
        ]
        if status.active and status.next_post_at:
            facts.append(f"next post {datetime.fromtimestamp(status.next_post_at):%Y-%m-%d %H:%M}")
        events = "".join(
            f"<li><span class='tl-muted'>{datetime.fromtimestamp(when):%H:%M:%S}</span> {esc(text)}</li>"
            for when, text in reversed(status.events)
        )
        parts.append(
            f"<div class='tl-autopilot-run' data-target='{esc(status.target)}' data-state='{esc(status.state)}' "
            f"data-posted='{status.posted}'><p><strong>{esc(status.bot)} → {esc(status.target)}</strong>: "
            f"{esc(status.state)} · {' · '.join(esc(fact) for fact in facts)}</p><ul>{events}</ul></div>"
        )
    return f"<div id='tl-autopilot'>{''.join(parts)}</div>"
