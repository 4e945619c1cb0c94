"""Drafts waiting for a human: pending → approved or rejected → posted, in the store.

A send is recorded in two steps, each its own transaction: the intent (target, idempotency key,
time) before the request leaves, the service's id after it returns. A draft with an intent and
no id may or may not have arrived; whoever posts it next checks before sending again.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Literal

from ..errors import TweetlingError
from ..store import Store
from .service import Mention, Sent

Status = Literal["pending", "approved", "rejected", "posted"]
STATUSES: tuple[str, ...] = ("pending", "approved", "rejected", "posted")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Intent:
    """A send that started: the same key is used until its result is recorded."""

    target: str
    key: str
    started_at: str


@dataclass(frozen=True)
class Draft:
    id: int
    bot: str
    text: str
    status: Status
    target: str | None  # None: fits every service and may go to any connected account
    prompt: str | None
    reply_to: Mention | None  # the mention this draft answers
    note: str | None  # why it was rejected automatically, or how a post was confirmed
    created_at: str
    updated_at: str
    intent: Intent | None
    remote_id: str | None
    remote_url: str | None
    posted_at: str | None

    @property
    def is_reply(self) -> bool:
        return self.reply_to is not None

    @property
    def posted_to(self) -> str | None:
        return self.intent.target if self.status == "posted" and self.intent else None

    def to_dict(self) -> dict:
        return asdict(self)


class Queue:
    """The drafts of every bot, in the store's `drafts` table."""

    def __init__(self, store: Store):
        self.store = store
        self.db = store.db

    def add(
        self,
        bot: str,
        texts: list[str],
        *,
        target: str | None = None,
        prompt: str | None = None,
        status: Status = "pending",
    ) -> list[Draft]:
        now = now_iso()
        with self.store.transaction():
            ids = [
                _inserted_id(
                    self.db.execute(
                        "INSERT INTO drafts (bot, target, text, status, prompt, created_at, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (bot, target, text, status, prompt, now, now),
                    )
                )
                for text in texts
            ]
        return [self.get(i) for i in ids]

    def add_reply(self, bot: str, target: str, text: str, mention: Mention, *, status: Status) -> Draft | None:
        """A draft answering MENTION; None when one exists already (one reply per mention)."""
        now = now_iso()
        try:
            cursor = self.db.execute(
                "INSERT INTO drafts (bot, target, text, status, prompt, reply_to, reply_key, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    bot,
                    target,
                    text,
                    status,
                    mention.text,
                    json.dumps(asdict(mention), ensure_ascii=False),
                    f"{target} {mention.post_id}",
                    now,
                    now,
                ),
            )
        except sqlite3.IntegrityError:
            return None
        return self.get(_inserted_id(cursor))

    def get(self, draft_id: int) -> Draft:
        if not 0 < draft_id < 2**63:  # beyond SQLite's integers: no draft has it
            raise TweetlingError(f"no draft {draft_id}")
        row = self.db.execute("SELECT * FROM drafts WHERE id = ?", (draft_id,)).fetchone()
        if row is None:
            raise TweetlingError(f"no draft {draft_id}")
        return _draft(row)

    def drafts(self, bot: str, statuses: tuple[str, ...] = STATUSES, *, replies: bool | None = None) -> list[Draft]:
        """BOT's drafts with one of STATUSES, oldest first; REPLIES: only replies (True) or none (False)."""
        marks = ",".join("?" * len(statuses))
        sql = f"SELECT * FROM drafts WHERE bot = ? AND status IN ({marks})"
        if replies is not None:
            sql += " AND reply_to IS NOT NULL" if replies else " AND reply_to IS NULL"
        return [_draft(row) for row in self.db.execute(sql + " ORDER BY id", (bot, *statuses))]

    # the operator's decisions

    def approve(self, draft_id: int, bot: str | None = None) -> Draft:
        draft = self._owned(draft_id, bot)
        if draft.status not in ("pending", "rejected", "approved"):
            raise TweetlingError(f"draft {draft_id} is already {draft.status}")
        return self._set_status(draft, "approved")

    def reject(self, draft_id: int, bot: str | None = None, note: str | None = None) -> Draft:
        draft = self._owned(draft_id, bot)
        self._check_unsent(draft, "reject")
        return self._set_status(draft, "rejected", note)

    def edit(self, draft_id: int, text: str, bot: str | None = None) -> Draft:
        """Replace the text (already checked by the caller); the draft keeps its status."""
        draft = self._owned(draft_id, bot)
        self._check_unsent(draft, "edit")
        if draft.status == "rejected":
            raise TweetlingError(f"draft {draft_id} was rejected; approve it before editing")
        self.db.execute("UPDATE drafts SET text = ?, updated_at = ? WHERE id = ?", (text, now_iso(), draft_id))
        return self.get(draft_id)

    # sending

    def next_to_send(self, bot: str, target: str, *, replies: bool) -> Draft | None:
        """The draft to post next to TARGET: one whose send was interrupted there, else the oldest approved."""
        kind = "reply_to IS NOT NULL" if replies else "reply_to IS NULL"
        row = self.db.execute(
            f"SELECT * FROM drafts WHERE bot = ? AND status = 'approved' AND {kind}"
            " AND (send_target = ? OR (send_target IS NULL AND (target IS NULL OR target = ?)))"
            " ORDER BY send_target IS NULL, id LIMIT 1",
            (bot, target, target),
        ).fetchone()
        return _draft(row) if row else None

    def begin_send(self, draft: Draft, target: str, key: str, started_at: str) -> Draft:
        """Record the intent to send DRAFT to TARGET with KEY; it is committed before anything is sent."""
        with self.store.transaction():
            cursor = self.db.execute(
                "UPDATE drafts SET send_target = ?, send_key = ?, send_started_at = ?, updated_at = ?"
                " WHERE id = ? AND status = 'approved' AND send_target IS NULL",
                (target, key, started_at, now_iso(), draft.id),
            )
            if not cursor.rowcount:
                current = self.get(draft.id)
                raise TweetlingError(f"draft {draft.id} changed while it was being sent ({current.status}); try again")
        return self.get(draft.id)

    def record_posted(self, draft: Draft, sent: Sent, note: str | None = None) -> Draft:
        now = now_iso()
        with self.store.transaction():  # a full disk or a busy store: one line, and the intent stays
            self.db.execute(
                "UPDATE drafts SET status = 'posted', remote_id = ?, remote_url = ?, posted_at = ?, updated_at = ?,"
                " note = COALESCE(?, note) WHERE id = ?",
                (sent.remote_id, sent.url, now, now, note, draft.id),
            )
        return self.get(draft.id)

    def abandon_send(self, draft: Draft, note: str) -> Draft:
        """Reject a draft whose send was refused for good (nothing was posted)."""
        with self.store.transaction():
            self.db.execute(
                "UPDATE drafts SET status = 'rejected', note = ?, send_target = NULL, send_key = NULL,"
                " send_started_at = NULL, updated_at = ? WHERE id = ?",
                (note, now_iso(), draft.id),
            )
        return self.get(draft.id)

    def posted_count(self, bot: str, target: str, since: str, *, replies: bool) -> int:
        kind = "reply_to IS NOT NULL" if replies else "reply_to IS NULL"
        return self.db.execute(
            f"SELECT count(*) FROM drafts WHERE bot = ? AND send_target = ? AND {kind}"
            " AND (posted_at >= ? OR (status = 'approved' AND send_started_at >= ?))",
            (bot, target, since, since),
        ).fetchone()[0]

    def replies_created_since(self, bot: str, target: str, since: str) -> int:
        return self.db.execute(
            "SELECT count(*) FROM drafts WHERE bot = ? AND target = ? AND reply_to IS NOT NULL"
            " AND status != 'rejected' AND created_at >= ?",
            (bot, target, since),
        ).fetchone()[0]

    def last_posted_at(self, bot: str, target: str) -> str | None:
        """When BOT's last scheduled (not reply) post to TARGET was sent."""
        return self.db.execute(
            "SELECT max(posted_at) FROM drafts WHERE bot = ? AND send_target = ? AND reply_to IS NULL",
            (bot, target),
        ).fetchone()[0]

    def _owned(self, draft_id: int, bot: str | None) -> Draft:
        draft = self.get(draft_id)
        if bot is not None and draft.bot != bot:
            raise TweetlingError(f"draft {draft_id} belongs to bot {draft.bot!r}, not {bot!r}")
        return draft

    def _check_unsent(self, draft: Draft, action: str) -> None:
        if draft.status == "posted":
            raise TweetlingError(f"draft {draft.id} is already posted; cannot {action} it")
        if draft.intent:
            raise TweetlingError(
                f"draft {draft.id} is being sent to {draft.intent.target}; post again to finish it before you {action} it"
            )

    def _set_status(self, draft: Draft, status: Status, note: str | None = None) -> Draft:
        self.db.execute(
            "UPDATE drafts SET status = ?, note = ?, updated_at = ? WHERE id = ?",
            (status, note, now_iso(), draft.id),
        )
        return self.get(draft.id)


def _draft(row: sqlite3.Row) -> Draft:
    intent = Intent(row["send_target"], row["send_key"], row["send_started_at"]) if row["send_target"] else None
    return Draft(
        id=row["id"],
        bot=row["bot"],
        text=row["text"],
        status=row["status"],
        target=row["target"],
        prompt=row["prompt"],
        reply_to=Mention(**json.loads(row["reply_to"])) if row["reply_to"] else None,
        note=row["note"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        intent=intent,
        remote_id=row["remote_id"],
        remote_url=row["remote_url"],
        posted_at=row["posted_at"],
    )


def _inserted_id(cursor: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just made (sqlite3 sets it after every successful INSERT)."""
    if cursor.lastrowid is None:
        raise RuntimeError("an INSERT left no row id")
    return cursor.lastrowid
