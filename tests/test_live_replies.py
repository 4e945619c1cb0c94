"""Replies to mentions: which mentions get one, what the tiny bot is given as context, how the
reply is threaded on each service, and the hourly limit."""

from __future__ import annotations

import dataclasses
import json

import pytest
from werkzeug import Response

from http_payloads import json_response
from live_fakes import TARGETS, connect_fake, post_requests, start_fake
from tweetling import Bot
from tweetling.errors import SourceError
from tweetling.generate import GenerateConfig
from tweetling.live import Blocklist, PostOptions, Queue, get_connection, post_next
from tweetling.live.replies import ReplyPolicy, draft_replies, reply_context
from tweetling.live.service import NoReadAccess, open_service
from tweetling.store import Store

POLICY = ReplyPolicy(max_age_s=3600, max_depth=2, max_per_hour=5, candidates=2)


@pytest.fixture
def store(tweetling_home):
    with Store() as store:
        yield store


@pytest.fixture
def bot(tiny_bot, monkeypatch):
    loaded = Bot.load(tiny_bot)
    prompts = []
    real_sample = loaded.sample

    def sample(prompt, n, seed=None, config=None):
        prompts.append(prompt)
        return real_sample(prompt, n, seed=0, config=GenerateConfig(max_length=40))  # short: a busy CPU

    monkeypatch.setattr(loaded, "sample", sample)
    loaded.prompts = prompts
    return loaded


def account(service, httpserver, store, monkeypatch, **options):
    fake = start_fake(service, httpserver, **options)
    connect_fake(store, service, fake, monkeypatch)
    return fake, open_service(get_connection(store, TARGETS[service]))


def test_mastodon_mentions_are_screened_and_answered_once(httpserver, store, monkeypatch, bot):
    fake, service = account("mastodon", httpserver, store, monkeypatch)
    fake.mention("@bot what do you dream of? https://example.com/x", author="alice")
    fake.mention("@bot beep", author="otherbot", bot=True)
    fake.mention("@bot hello from yesterday", author="carol", minutes_ago=120)
    fake.mention("@bot and so on", author="dave", depth=3)
    fake.mention("@bot talking to myself", author="bot")
    fake.mention("@bot you again", author="nora", bio="Human, not data. #NoAI")
    last = fake.mention("@bot psst", author="erin", visibility="private")

    round_ = draft_replies(store, bot, service, POLICY, blocklist=Blocklist())

    assert [d.reply_to.author for d in round_.drafted] == ["alice", "erin"]
    assert all(d.status == "pending" for d in round_.drafted)  # approval first
    assert {s.mention.author: s.reason for s in round_.skipped} == {
        "otherbot": "@otherbot is a bot account",
        "carol": "older than 1 h",
        "dave": "3 posts deep in its thread (at most 2)",
        "bot": "the bot's own post",
        "nora": "@nora opts out of bots (#noai in the bio)",
    }
    assert bot.prompts[0] == "what do you dream of?<|endoftext|>"  # the mention as context, then a new post
    assert fake.sent("/api/v1/notifications")[0].args["types[]"] == ["mention"]

    again = draft_replies(store, bot, service, POLICY, blocklist=Blocklist())
    assert again.drafted == [] and again.skipped == []
    assert fake.sent("/api/v1/notifications")[-1].arg("min_id") == last["id"]  # polled from the last one seen


def test_mastodon_reply_is_threaded_addressed_and_never_more_public(httpserver, store, monkeypatch, bot):
    fake, service = account("mastodon", httpserver, store, monkeypatch)
    public = fake.mention("@bot hi", author="alice")
    private = fake.mention("@bot psst", author="erin", visibility="private")
    drafted = draft_replies(store, bot, service, POLICY, auto_approve=True, blocklist=Blocklist()).drafted
    assert all(d.status == "approved" for d in drafted)

    post_next(store, "jack", TARGETS["mastodon"], replies=True)
    post_next(store, "jack", TARGETS["mastodon"], replies=True)

    first, second = (r.form for r in post_requests(fake, "mastodon"))
    assert first["in_reply_to_id"] == public["status"]["id"] and first["status"].startswith("@alice ")
    assert first["visibility"] == "unlisted"
    assert second["in_reply_to_id"] == private["status"]["id"] and second["visibility"] == "private"


def test_bluesky_reply_references_the_mention_and_its_thread(httpserver, store, monkeypatch, bot):
    fake, service = account("bluesky", httpserver, store, monkeypatch)
    top = fake.mention("@bot.bsky.social hello there", author="alice.bsky.social")
    nested = fake.mention("@bot.bsky.social and you?", author="bob.bsky.social", depth=1)
    fake.mention("@bot.bsky.social beep", author="robot.bsky.social", bot=True)
    fake.mention("@bot.bsky.social no", author="nora.bsky.social", bio="#nobot #nollm")
    fake.mention("just replying", author="carol.bsky.social", reason="reply")  # no mention: not answered

    round_ = draft_replies(store, bot, service, POLICY, auto_approve=True, blocklist=Blocklist())
    assert [d.reply_to.author for d in round_.drafted] == ["alice.bsky.social", "bob.bsky.social"]
    assert [s.reason for s in round_.skipped] == [
        "@robot.bsky.social is a bot account",
        "@nora.bsky.social opts out of bots (#nobot in the bio; #nollm in the bio)",
    ]
    post_next(store, "jack", TARGETS["bluesky"], replies=True)
    post_next(store, "jack", TARGETS["bluesky"], replies=True)

    first, second = (r.json["record"]["reply"] for r in post_requests(fake, "bluesky"))
    own = {"uri": top["uri"], "cid": top["cid"]}
    assert first == {"root": own, "parent": own}
    assert second["parent"] == {"uri": nested["uri"], "cid": nested["cid"]}
    assert second["root"] == nested["record"]["reply"]["root"]


def test_at_most_m_replies_an_hour(httpserver, store, monkeypatch, bot):
    fake, service = account("mastodon", httpserver, store, monkeypatch)
    for name in ("a1", "a2", "a3", "a4"):
        fake.mention("@bot hey", author=name)
    policy = ReplyPolicy(max_age_s=3600, max_depth=2, max_per_hour=2, candidates=2)

    round_ = draft_replies(store, bot, service, policy, blocklist=Blocklist())
    assert len(round_.drafted) == 2 and round_.deferred == 2
    later = draft_replies(store, bot, service, policy, blocklist=Blocklist())
    assert later.drafted == [] and later.deferred == 2  # the rest wait, they are not dropped
    assert len(Queue(store).drafts("jack")) == 2


def test_x_mentions_are_screened_answered_by_reference_and_read_once(httpserver, store, monkeypatch, bot):
    fake, service = account("x", httpserver, store, monkeypatch)
    fake.mention("@botname what do you dream of? https://t.co/abc", author="alice")
    fake.mention("@botname beep", author="beeper", description="An automated account by @carol")
    fake.mention("@botname hello from yesterday", author="carol", minutes_ago=120)
    fake.mention("@botname and so on", author="dave", depth=3)
    fake.mention("@botname talking to myself", author="botname")
    fake.mention("@botname stop", author="nora", name="Nora #NoBot")
    last = fake.mention("@botname &amp; you?", author="erin", depth=1)

    round_ = draft_replies(store, bot, service, POLICY, auto_approve=True, blocklist=Blocklist())

    assert [d.reply_to.author for d in round_.drafted] == ["alice", "erin"]
    assert {s.mention.author: s.reason for s in round_.skipped} == {
        "beeper": "@beeper is a bot account",  # X's label is not in its API: the bio says so
        "dave": "3 posts deep in its thread (at most 2)",
        "botname": "the bot's own post",
        "nora": "@nora opts out of bots (#nobot in the display name)",
    }
    assert bot.prompts[0] == "what do you dream of?<|endoftext|>"
    # the mentions reply names each parent: dave's walk reads the two posts between his parent and the
    # top (limit 2); erin's parent starts its thread and alice's post its own, so they need no read
    assert len(fake.sent("/2/tweets/")) == 2
    first = fake.sent("/mentions")[0]
    assert first.arg("since_id") is None and first.arg("start_time").endswith("Z")  # carol's is older: not listed

    post_next(store, "jack", TARGETS["x"], replies=True)
    post_next(store, "jack", TARGETS["x"], replies=True)
    replies = [r.json for r in post_requests(fake, "x")]
    assert [r["reply"]["in_reply_to_tweet_id"] for r in replies] == [round_.drafted[0].reply_to.post_id, last["id"]]
    assert not any(r["text"].startswith("@") for r in replies)  # X addresses a reply by its reference

    again = draft_replies(store, bot, service, POLICY, blocklist=Blocklist())
    assert again.drafted == [] and again.skipped == []
    assert fake.sent("/mentions")[-1].arg("since_id") == last["id"]


def test_x_reply_refused_by_the_conversation_settings_is_rejected_not_retried(httpserver, store, monkeypatch, bot):
    fake, service = account("x", httpserver, store, monkeypatch)
    fake.mention("@botname hello", author="alice")
    fake.mention("@botname and me", author="bob")
    draft_replies(store, bot, service, POLICY, auto_approve=True, blocklist=Blocklist())
    detail = (
        "Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged"
        " by the author of the post you are replying to."
    )
    fake.inject(
        "/2/tweets", json_response({"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403}, 403)
    )

    refused = post_next(store, "jack", TARGETS["x"], replies=True)  # a refused draft makes way for the next
    posted = post_next(store, "jack", TARGETS["x"], replies=True)

    assert refused.refused and refused.draft.reply_to.author == "alice"
    alice, bob = sorted(Queue(store).drafts("jack", ("rejected", "posted")), key=lambda d: d.id)
    assert alice.status == "rejected" and alice.reply_to.author == "alice"
    assert alice.note.startswith("not posted: x: X refused the reply (HTTP 403: Forbidden: Reply to this conversation")
    assert posted.draft.id == bob.id and bob.status == "posted"
    assert post_next(store, "jack", TARGETS["x"], replies=True) is None
    assert len(post_requests(fake, "x")) == 2  # the refused reply was not sent again


def test_x_mentions_are_paged_after_the_first_poll(httpserver, store, monkeypatch, bot):
    fake, service = account("x", httpserver, store, monkeypatch)
    fake.mention("@botname first")
    draft_replies(store, bot, service, POLICY, blocklist=Blocklist())
    for i in range(105):
        fake.mention(f"@botname number {i}", author=f"fan{i}")

    busy = ReplyPolicy(max_age_s=3600, max_depth=2, max_per_hour=0)
    assert draft_replies(store, bot, service, busy, blocklist=Blocklist()).deferred == 105

    polls = fake.sent("/mentions")
    assert [p.arg("pagination_token") for p in polls] == [None, None, "100"]  # 100 a page, newest first
    assert polls[1].arg("since_id") == polls[2].arg("since_id") == fake.mentioning[0]


def test_x_free_tier_keys_say_they_cannot_read_mentions(httpserver, store, monkeypatch, bot):
    _, service = account("x", httpserver, store, monkeypatch, readable=False)
    with pytest.raises(
        NoReadAccess, match=r"may not read mentions \(HTTP 403: Client Forbidden.*free tier only writes"
    ):
        draft_replies(store, bot, service, POLICY)


@pytest.mark.parametrize(
    "page",
    [
        [],
        {"data": {"id": "1"}},
        {"data": ["1", None, {"id": 7}], "includes": []},
        {
            "data": [{"id": "18000000000000001", "author_id": "9"}],
            "includes": {"users": [{"id": "9", "username": "../x"}]},
        },
        {"data": [], "meta": {"next_token": ["again"]}},
    ],
)
def test_x_mentions_of_an_odd_shape_are_no_traceback(httpserver, store, monkeypatch, page):
    fake, service = account("x", httpserver, store, monkeypatch)
    fake.inject("/mentions", json_response(page))
    try:
        assert service.mentions("1", "2026-01-01T00:00:00+00:00") == []
    except SourceError as error:
        assert "unexpected reply to GET /2/users/" in str(error)


@pytest.mark.parametrize(
    "lookup",
    [
        {"data": []},
        {"data": {"referenced_tweets": {"type": "replied_to"}}},
        {"data": {"referenced_tweets": [{"type": "replied_to", "id": "../../2/tweets"}]}},
    ],
)
def test_x_thread_lookups_of_an_odd_shape_end_the_walk(httpserver, store, monkeypatch, lookup):
    fake, service = account("x", httpserver, store, monkeypatch)
    fake.mention("@botname deep", depth=2)
    (mention,) = service.mentions(None, "2026-01-01T00:00:00+00:00")
    fake.inject("/2/tweets/", json_response(lookup))
    assert service.thread_depth(mention, 3) == 1 and len(fake.sent("/2/tweets/")) == 1


def test_x_thread_walk_starts_at_the_mention_when_its_parent_is_unnamed(httpserver, store, monkeypatch):
    fake, service = account("x", httpserver, store, monkeypatch)
    fake.mention("@botname deep", depth=2)
    (mention,) = service.mentions(None, "2026-01-01T00:00:00+00:00")
    assert mention.parent_id is not None
    assert service.thread_depth(dataclasses.replace(mention, parent_id=None), 3) == 2
    assert len(fake.sent("/2/tweets/")) == 2  # the mention, then its parent, whose parent is the top


@pytest.mark.parametrize(
    ("mention", "context"),
    [
        ("@bot@botsin.space what do you dream of?", "what do you dream of?"),
        ("@bot.bsky.social look https://example.com/a and @carol", "look and"),
    ],
)
def test_reply_context_is_the_mention_without_handles_or_links(mention, context):
    assert reply_context(mention) == context


ODD_MASTODON = [
    {"id": "91", "type": "mention", "status": "oops"},
    {"id": "92", "type": "mention", "status": {"id": "5", "mentions": ["bot"]}},
    {"id": "93", "type": "mention", "status": {"id": "6", "mentions": []}, "account": [1]},
    {"id": "94", "type": "mention", "status": {"id": "7", "content": 5, "mentions": [{"id": "1"}]}, "account": {}},
    "not a notification",
]


@pytest.mark.parametrize("odd", ODD_MASTODON)
def test_one_odd_mastodon_notification_is_skipped_not_fatal(httpserver, store, monkeypatch, odd):
    fake, service = account("mastodon", httpserver, store, monkeypatch)
    good = fake.mention("@bot hello there", author="alice")
    fake.inject("/api/v1/notifications", json_response([odd, good]))
    assert [m.author for m in service.mentions(None, "2026-01-01T00:00:00+00:00")] == ["alice"]
    fake.inject("/context", json_response([1]))
    assert service.thread_depth(service.mentions(None, "2026-01-01T00:00:00+00:00")[0], 3) == 0


@pytest.mark.parametrize(
    "odd",
    [
        "oops",
        {"reason": "mention", "uri": "at://x/1", "cid": "c", "indexedAt": 5},
        {"reason": "mention", "uri": "at://x/2", "cid": "c", "record": {"reply": "x"}, "author": {"handle": "a.b"}},
        {"reason": "mention", "uri": "at://x/3", "cid": "c", "author": {"handle": "a.b", "labels": ["bot"]}},
        {"reason": "mention", "uri": "at://x/4", "cid": "c", "record": [1], "author": {"handle": "a.b"}},
    ],
)
def test_one_odd_bluesky_notification_is_skipped_not_fatal(httpserver, store, monkeypatch, odd):
    fake, service = account("bluesky", httpserver, store, monkeypatch)
    fake.mention("@bot hello there", author="alice")
    real = service.session.call("GET", "app.bsky.notification.listNotifications", params={}).data["notifications"]
    notifications = [*real, odd]  # an unreadable time counts as old: the walk ends there
    if isinstance(odd, dict) and "indexedAt" not in odd:  # as new as the real one: read before it
        notifications.insert(0, {**odd, "indexedAt": real[0]["indexedAt"]})
    fake.inject("listNotifications", json_response({"notifications": notifications}))
    [mention] = service.mentions(None, "2026-01-01T00:00:00+00:00")
    assert mention.author.startswith("alice")
    fake.inject("getPostThread", json_response({"thread": [1]}))
    assert service.thread_depth(mention, 3) == 0


@pytest.mark.parametrize("service", ["mastodon", "bluesky", "x"])
def test_a_mention_holding_half_a_surrogate_pair_is_answered(httpserver, store, monkeypatch, bot, service):
    fake, account_ = account(service, httpserver, store, monkeypatch)
    fake.mention({"mastodon": "@bot", "bluesky": "@bot.bsky.social", "x": "@botname"}[service] + " odd \ud800 text")

    round_ = draft_replies(store, bot, account_, POLICY, blocklist=Blocklist())

    (draft,) = round_.drafted
    assert "\ud800" not in draft.reply_to.text and "odd" in Queue(store).get(draft.id).reply_to.text


def test_a_deeply_nested_reply_that_echoes_the_token_is_redacted_not_a_traceback(httpserver, store, monkeypatch):
    fake, service = account("mastodon", httpserver, store, monkeypatch)
    good = fake.mention("@bot hello there", author="alice")
    deep = "[" * 900 + json.dumps(fake.token) + "]" * 900  # deeper than Python's recursion limit allows walking
    body = f'[{{"id": "90", "type": "mention", "deep": {deep}}}, {json.dumps(good)}]'
    fake.inject("/api/v1/notifications", Response(body, content_type="application/json"))

    assert [m.author for m in service.mentions(None, "2026-01-01T00:00:00+00:00")] == ["alice"]


@pytest.mark.parametrize(
    ("service", "reply"),
    [
        ("mastodon", {"id": None, "url": {"href": "https://botsin.space/@bot/1"}}),
        ("mastodon", {"id": {"n": 1}, "url": 5}),
        ("bluesky", {"uri": 7, "cid": "bafyrei"}),
        ("x", {"data": {"id": None, "text": "hello"}}),
        ("x", {"data": {"id": ["1"], "text": "hello"}}),
    ],
)
def test_a_made_post_whose_id_is_no_string_is_posted_without_it(httpserver, store, monkeypatch, caplog, service, reply):
    fake, _ = account(service, httpserver, store, monkeypatch)
    queue = Queue(store)
    (draft,) = queue.add("jack", ["hello"])
    queue.approve(draft.id)
    fake.on_write = lambda moment: json_response(reply, 201 if service == "x" else 200) if moment == "after" else None

    result = post_next(store, "jack", TARGETS[service])

    assert result.draft.status == "posted" and result.draft.remote_id == ""
    assert result.draft.remote_url is None or service == "bluesky"  # its address is the record key it chose
    assert "no usable id" in caplog.text
    fake.on_write = None
    assert post_next(store, "jack", TARGETS[service]) is None and len(post_requests(fake, service)) == 1


@pytest.mark.parametrize(
    "odd",
    [
        {"id": "95", "type": "mention", "status": {"id": {"n": 5}, "mentions": [{"id": "4242"}]}, "account": {}},
        {"id": "96", "type": "mention", "status": {"id": "../../x", "mentions": [{"id": "4242"}]}, "account": {}},
        {"id": None, "type": "mention", "status": {"id": "8", "mentions": [{"id": "4242"}]}, "account": {}},
    ],
)
def test_a_mastodon_mention_whose_ids_are_odd_is_skipped_with_a_warning(httpserver, store, monkeypatch, caplog, odd):
    fake, service = account("mastodon", httpserver, store, monkeypatch)
    good = fake.mention("@bot hello there", author="alice")
    odd["account"] = {**good["account"], "acct": "mallory"}
    fake.inject("/api/v1/notifications", json_response([odd, good]))

    assert [m.author for m in service.mentions(None, "2026-01-01T00:00:00+00:00")] == ["alice"]
    assert "skipped" in caplog.text


@pytest.mark.parametrize(("seen", "sent"), [("local", "direct"), ("mutuals_only", "direct"), ("private", "private")])
def test_a_reply_to_a_mention_of_unknown_visibility_is_direct(httpserver, store, monkeypatch, bot, seen, sent):
    fake, service = account("mastodon", httpserver, store, monkeypatch)
    fake.mention("@bot psst", author="erin", visibility=seen)
    draft_replies(store, bot, service, POLICY, auto_approve=True, blocklist=Blocklist())

    post_next(store, "jack", TARGETS["mastodon"], PostOptions(visibility="public"), replies=True)

    (request,) = post_requests(fake, "mastodon")
    assert request.form["visibility"] == sent
