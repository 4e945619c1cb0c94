import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tweetling.clean import CleanOptions, Table, clean_posts, clean_text, data_table, is_short, strip_urls
from tweetling.errors import TweetlingError
from tweetling.posts import Post

words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


def post(text, kind="original", lang=None, post_id="1"):
    return Post("x", post_id, "ana", text, kind=kind, lang=lang)


@given(st.lists(words, max_size=30), st.booleans())
def test_clean_text_has_no_urls_nor_runs_of_spaces(parts, keep_newlines):
    text = clean_text(" ".join(parts) + " https://t.co/abc " + "\n".join(parts), keep_newlines)
    assert "https:" not in text and "http:" not in text
    assert "  " not in text
    assert text == text.strip()
    if not keep_newlines:
        assert "\n" not in text and "\t" not in text


@given(st.text(), st.booleans())
def test_clean_text_drops_control_characters(text, keep_newlines):
    cleaned = clean_text(text, keep_newlines)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", cleaned)


def test_control_characters_escape_sequences_and_bidi_overrides_leave_a_space():
    assert clean_text("nul\x00byte and \x1b[2J\x1b[31mred\x1b[0m escape") == "nul byte and red escape"
    assert clean_text("title \x1b]0;PWNED\x07 set, bidi \u202egnp.exe\u202c") == "title set, bidi gnp.exe"


@given(st.text())
def test_clean_text_is_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


@given(st.lists(st.sampled_from(["word", "@user", "#tag", "http://x.y", "https://t.co/z", "ok"]), max_size=8))
def test_is_short_counts_words_free_of_http_at_hash(tokens):
    plain = [t for t in tokens if t in ("word", "ok")]
    assert is_short(" ".join(tokens)) == (len(plain) < 3)


def test_huggingtweets_examples():
    assert clean_text("I love this https://t.co/xyz so much") == "I love this so much"
    assert clean_text("https://t.co/xyz starts with a link") == "starts with a link"
    assert clean_text("line one\nhttps://t.co/abc\nline two") == "line one line two"
    assert clean_text("line one\nhttps://t.co/abc\nline two", keep_newlines=True) == "line one\nline two"
    assert strip_urls("see http://a.b/c?d=e, then") == "see then"
    assert is_short("@friend thanks!") and is_short("good morning") and not is_short("a b c")


def test_counts_follow_huggingtweets():
    posts = [
        post("RT @someone: a retweet of a long post", kind="retweet", post_id="1"),
        post("RT @other: detected by its text alone", post_id="2"),
        post("lol https://t.co/a", post_id="3"),
        post("Fish &amp; chips &lt;3 are great https://t.co/b", post_id="4"),
        post("@bob I agree with you completely", kind="reply", post_id="5"),
    ]
    result = clean_posts("ana", posts)
    assert result.table.to_dict() == {
        "downloaded": 5,
        "retweets": 2,
        "content_warnings": 0,
        "short": 1,
        "kept": 2,
        "kept_chars": sum(map(len, result.texts)),
    }
    assert result.texts == ["Fish & chips <3 are great", "@bob I agree with you completely"]
    assert result.post_ids == ["x:4", "x:5"]


def test_options_are_counted_when_on():
    posts = [
        post("@bob @carl I agree with you", kind="reply", post_id="1"),
        post("a post in english here", lang="en", post_id="2"),
        post("un message en français ici", lang="fr", post_id="3"),
        post("a post in english here", lang="en", post_id="4"),
        post("@bob yes ok", kind="reply", post_id="5"),
    ]
    options = CleanOptions(strip_reply_mentions=True, drop_duplicates=True, languages=("en",))
    result = clean_posts("ana", posts, options)
    assert result.texts == ["I agree with you", "a post in english here"]
    assert result.table.to_dict()["other_language"] == 1
    assert result.table.to_dict()["duplicates"] == 1
    assert result.table.to_dict()["short"] == 1  # "yes ok" once its mention is stripped
    assert "replies" not in result.table.to_dict()
    dropped = clean_posts("ana", posts, CleanOptions(keep_replies=False))
    assert dropped.table.replies == 2 and dropped.table.kept == 3
    labels = [label for label, _ in dropped.table.rows()]
    assert labels == ["Posts downloaded", "Retweets", "Replies dropped", "Short posts", "Posts kept"]


def test_language_codes_match_in_any_case_and_odd_ones_are_refused():
    posts = [
        post("a post in english here", lang="en", post_id="1"),
        post("un post en français", lang="FR", post_id="2"),
    ]
    assert clean_posts("ana", posts, CleanOptions(languages=("EN",))).texts == ["a post in english here"]
    assert clean_posts("ana", posts, CleanOptions(languages=("fr",))).texts == ["un post en français"]
    for code in ("", "../x", "e", "english!"):
        with pytest.raises(TweetlingError, match="invalid language code"):
            CleanOptions(languages=(code,))


@given(
    st.lists(st.tuples(st.sampled_from(["original", "retweet", "reply", "quote"]), st.text(max_size=60)), max_size=40)
)
def test_every_post_is_accounted_for_once(items):
    posts = [post(text, kind=kind, post_id=str(i)) for i, (kind, text) in enumerate(items)]
    table = clean_posts("ana", posts, CleanOptions(drop_duplicates=True)).table
    assert table.downloaded == len(posts)
    assert table.retweets + table.short + table.duplicates + table.kept == table.downloaded


def test_unescape_covers_all_entities():
    assert clean_posts("ana", [post("&quot;quoted&quot; &amp; more words")]).texts == [
        html.unescape("&quot;quoted&quot; & more words")
    ]
    assert re.search("&", clean_posts("ana", [post("this &amp; that too")]).texts[0])


def test_data_table_shows_a_row_any_account_has_for_all_of_them():
    tables = {"ana": Table(downloaded=10, retweets=2, replies=3, kept=5), "bob": Table(downloaded=7, kept=7)}
    rows = dict(data_table(tables))
    assert rows["Replies dropped"] == [3, 0] and rows["Posts kept"] == [5, 7]
    assert list(rows) == ["Posts downloaded", "Retweets", "Replies dropped", "Short posts", "Posts kept"]
    assert Table.from_dict({"kept": 4, "quoted": 1}) == Table(kept=4)  # counts of a newer version are left out
