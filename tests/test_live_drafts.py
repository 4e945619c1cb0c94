"""Drafts: written by the tiny bot through the memorization guard, the blocklist and the length
limits; approved, edited or rejected by a human, from Python and from the CLI."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
from click.testing import CliRunner

from tiny_bot import TRAIN_POSTS
from tweetling import Bot
from tweetling.cli import cli
from tweetling.errors import TweetlingError
from tweetling.generate import GenerateConfig
from tweetling.live import Blocklist, DraftConfig, Queue, draft_posts, edit_draft
from tweetling.store import Store


@pytest.fixture
def store(tweetling_home):
    with Store() as store:
        yield store


@pytest.fixture
def bot(tiny_bot):
    return Bot.load(tiny_bot)


def test_the_tiny_bot_writes_pending_drafts(store, bot):
    result = draft_posts(store, bot, DraftConfig(n=8, seed=0), blocklist=Blocklist())

    assert result.sampled == 8
    assert len(result.drafts) + sum(result.dropped.values()) == 8
    assert result.drafts and all(d.status == "pending" and d.bot == "jack" and d.target is None for d in result.drafts)
    for draft in result.drafts:  # the random tiny model writes anything: what is posted is safe
        assert not re.search(r"(?<![\w@])@\w|https?://", draft.text) and draft.text.strip() == draft.text
        assert not any(unicodedata.category(c) == "Cc" for c in draft.text)


def test_drafts_pass_the_guard_the_blocklist_and_the_limit(store, bot, monkeypatch):
    samples = [
        TRAIN_POSTS[0],  # a copy of a training post: the memorization guard drops it
        "nothing about taxes here",  # blocked
        "a fine post for @alice see https://example.com/x",  # kept, made safe
        "word " * 70,  # 350 characters: over X's and Bluesky's limits
        "a fine post for alice see",  # the same text as the safe one: already queued
        "",  # empty
    ]
    monkeypatch.setattr(bot, "_sample", lambda prompt_ids, n, config: samples)

    # One round of sampling: what generation drops is not sampled again here.
    one_round = DraftConfig(n=6, generate=GenerateConfig(max_rounds=1))
    result = draft_posts(store, bot, one_round, blocklist=Blocklist.of(["taxes"]))

    assert [d.text for d in result.drafts] == ["a fine post for alice see"]
    assert result.dropped == {"empty": 1, "duplicate": 0, "memorized": 1, "blocked": 1, "too long": 1, "queued": 1}


def test_a_target_sets_the_limit(store, bot, monkeypatch):
    monkeypatch.setattr(bot, "sample", lambda prompt, n, seed=None, config=None: ["word " * 70])
    result = draft_posts(store, bot, DraftConfig(n=1), target="mastodon:@bot@botsin.space", blocklist=Blocklist())
    assert len(result.drafts) == 1 and result.drafts[0].target == "mastodon:@bot@botsin.space"


def test_the_guard_cannot_be_turned_off_for_posting(store, bot):
    with pytest.raises(TweetlingError, match="never keep memorized posts"):
        draft_posts(store, bot, DraftConfig(generate=GenerateConfig(allow_memorized=True)))


def test_approve_reject_and_edit(store):
    queue = Queue(store)
    a, b, c = queue.add("jack", ["one", "two", "three"])

    assert queue.approve(a.id).status == "approved"
    assert queue.reject(b.id).status == "rejected"
    assert queue.approve(b.id).status == "approved"  # a change of mind
    edited = edit_draft(store, c.id, "three, @bob, better https://example.com", blocklist=Blocklist())
    assert (edited.text, edited.status) == ("three, bob, better", "pending")
    assert [d.id for d in queue.drafts("jack", ("approved",))] == [a.id, b.id]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("all about taxes", "the new text is blocked: contains 'taxes'"),
        ("word " * 70, "the new text is too long: 69 characters over x's 280"),
        ("https://example.com", "the new text is empty"),
    ],
)
def test_edits_meet_the_same_rules(store, text, message):
    (draft,) = Queue(store).add("jack", ["fine"])
    with pytest.raises(TweetlingError, match=message):
        edit_draft(store, draft.id, text, blocklist=Blocklist.of(["taxes"]))


def test_a_draft_being_sent_or_posted_cannot_change(store):
    queue = Queue(store)
    sending, posted = queue.add("jack", ["in flight", "done"])
    sending = queue.begin_send(queue.approve(sending.id), "x:botname", "key-1", "2024-05-01T12:00:00.000+00:00")
    with pytest.raises(
        TweetlingError, match="is being sent to x:botname; post again to finish it before you reject it"
    ):
        queue.reject(sending.id)
    with pytest.raises(TweetlingError, match="before you edit it"):
        edit_draft(store, sending.id, "other words")
    queue.approve(posted.id)
    from tweetling.live.service import Sent

    queue.record_posted(
        queue.begin_send(queue.get(posted.id), "x:botname", "k", "2024-05-01T12:00:00+00:00"), Sent("9")
    )
    with pytest.raises(TweetlingError, match="already posted"):
        queue.reject(posted.id)
    with pytest.raises(TweetlingError, match="already posted"):
        queue.approve(posted.id)


def test_drafts_of_another_bot_are_refused(store):
    (draft,) = Queue(store).add("jack", ["mine"])
    with pytest.raises(TweetlingError, match="belongs to bot 'jack', not 'jill'"):
        Queue(store).approve(draft.id, "jill")


def test_cli_draft_then_queue(tiny_bot, tweetling_home):
    runner = CliRunner()
    drafted = runner.invoke(cli, ["draft", "jack", "-n", "6", "--seed", "3", "--block", "zzzz"])
    assert drafted.exit_code == 0, drafted.output
    assert "samples queued" in drafted.output

    listed = json.loads(runner.invoke(cli, ["queue", "jack", "--json"]).output)
    assert listed and all(d["status"] == "pending" for d in listed)
    first, *rest = (d["id"] for d in listed)
    args = ["queue", "jack", "--approve", str(first), "--edit", str(first), "my own words @carol", "--json"]
    if rest:
        args += ["--reject", str(rest[0])]
    result = json.loads(runner.invoke(cli, args).output)
    by_id = {d["id"]: d for d in result}
    assert by_id[first]["status"] == "approved" and by_id[first]["text"] == "my own words carol"
    if rest:
        assert rest[0] not in by_id  # rejected drafts are listed with --all only
        shown = json.loads(runner.invoke(cli, ["queue", "jack", "--all", "--json"]).output)
        assert {d["id"]: d["status"] for d in shown}[rest[0]] == "rejected"


def test_cli_review_walks_the_pending_drafts(tiny_bot, tweetling_home):
    with Store() as store:
        Queue(store).add("jack", ["keep me", "drop me", "later"])
    result = CliRunner().invoke(cli, ["queue", "jack", "--review", "--json"], input="a\nr\ns\n")
    assert result.exit_code == 0, result.output
    with Store() as store:
        assert [d.status for d in Queue(store).drafts("jack")] == ["approved", "rejected", "pending"]


def test_cli_review_without_a_terminal_offers_no_editor(tiny_bot, tweetling_home, monkeypatch):
    import click

    monkeypatch.setattr(click, "edit", lambda *a, **k: pytest.fail("an editor was opened without a terminal"))
    with Store() as store:
        Queue(store).add("jack", ["keep me"])
    result = CliRunner().invoke(cli, ["queue", "jack", "--review"], input="e\nq\n")
    assert result.exit_code == 0, result.output
    assert "[e]dit" not in result.output and "'e' is not one of 'a', 'r', 's', 'q'" in result.output


def test_cli_queue_refuses_to_approve_and_reject_one_draft(tiny_bot, tweetling_home):
    with Store() as store:
        [draft] = Queue(store).add("jack", ["keep me"])
    result = CliRunner().invoke(cli, ["queue", "jack", "--approve", str(draft.id), "--reject", str(draft.id)])
    assert result.exit_code == 2 and f"draft {draft.id} is both approved and rejected" in result.output
    with Store() as store:
        assert [d.status for d in Queue(store).drafts("jack")] == ["pending"]


def test_cli_queue_errors_are_one_line(tiny_bot, tweetling_home):
    result = CliRunner().invoke(cli, ["queue", "jack", "--approve", "999"])
    assert result.exit_code == 1 and "error: no draft 999" in result.output
    huge = str(10**23)
    result = CliRunner().invoke(cli, ["queue", "jack", "--reject", huge])
    assert result.exit_code == 1 and result.output == f"error: no draft {huge}\n"


def test_cli_queue_changes_all_or_nothing(tiny_bot, tweetling_home):
    with Store() as store:
        first, second = Queue(store).add("jack", ["keep me", "and me"])
    args = ["queue", "jack", "--edit", str(first.id), "new words", "--approve", str(second.id), "--approve", "999"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "error: no draft 999" in result.output
    with Store() as store:  # the edit and the first approval were undone with the refused one
        assert [(d.text, d.status) for d in Queue(store).drafts("jack")] == [
            ("keep me", "pending"),
            ("and me", "pending"),
        ]
