import json

import pytest
from click.testing import CliRunner

from tweetling.clean import CleanOptions
from tweetling.cli import cli
from tweetling.dataset import Dataset, PrepareConfig, balance, prepare, resolve, split
from tweetling.errors import InsufficientDataError, TweetlingError
from tweetling.posts import Post, Profile
from tweetling.store import Store


def fill(store, account, n, words=12, source="x"):
    text = " ".join(f"{account}word{j}" for j in range(words))
    store.upsert_posts(
        Post(source, f"{account}{i}", account, f"{i} {text}", created_at=f"2020-01-01T00:00:{i % 60:02d}+00:00")
        for i in range(n)
    )


@pytest.fixture
def store(tweetling_home):
    with Store() as store:
        yield store


def test_split_is_deterministic_and_disjoint():
    texts = [f"post {i}" for i in range(100)]
    train, valid = split(texts, 0.1, seed=7)
    assert (train, valid) == split(texts, 0.1, seed=7)
    assert len(valid) == 10 and sorted(train + valid) == sorted(texts)
    assert split(texts, 0.1, seed=8)[1] != valid
    assert len(split(texts[:10], 0.01, seed=1)[1]) == 1  # at least one held out


def test_balance_upsamples_to_equal_text_length():
    parts = {"big": ["x" * 100] * 30, "small": ["y" * 100] * 7}
    balanced = balance(parts, seed=1)
    assert balanced["big"] == parts["big"]
    assert abs(sum(map(len, balanced["small"])) - 3000) <= 100


def test_prepare_writes_versioned_dataset_and_reuses_it(store):
    fill(store, "ana", 200)
    store.upsert_account(Profile("ana", "x", display_name="Ana <b>"))
    dataset = prepare(store, ["ana"])
    assert dataset.path.name == f"ana-{dataset.manifest['hash'][:12]}"
    assert (len(dataset.train), len(dataset.valid)) == (180, 20)
    manifest = json.loads((dataset.path / "manifest.json").read_text())
    assert manifest["table"]["ana"]["kept"] == 200
    assert manifest["profiles"]["ana"]["display_name"] == "Ana <b>"
    assert manifest["seed"] == 42 and manifest["options"] == CleanOptions().to_dict()
    again = prepare(store, ["ana"])
    assert again.path == dataset.path and again.valid == dataset.valid
    other = prepare(store, ["ana"], PrepareConfig(seed=1))
    assert other.path != dataset.path
    assert Dataset.load(resolve("ana")).name == "ana"
    assert resolve(dataset.path) == dataset.path


def test_blend_is_balanced_and_named(store):
    fill(store, "ana", 200)
    fill(store, "bo", 70)
    dataset = prepare(store, ["ana", "bo"])
    assert dataset.name == "ana-bo"
    chars = {a: sum(len(e.text) for e in dataset.train if e.account == a) for a in ("ana", "bo")}
    assert abs(chars["ana"] - chars["bo"]) / chars["ana"] < 0.05
    assert {e.account for e in dataset.valid} == {"ana", "bo"}


def test_too_little_text_is_an_error_with_numbers(store):
    fill(store, "tiny", 20, words=3)
    with pytest.raises(InsufficientDataError, match=r"'tiny' has [\d,]+ characters .* at least 6,000"):
        prepare(store, ["tiny"])
    fill(store, "thin", 100)
    assert "only" in prepare(store, ["thin"]).warnings[0]


def test_account_checks(store):
    with pytest.raises(TweetlingError, match="no posts for account 'nobody'"):
        prepare(store, ["nobody"])
    with pytest.raises(TweetlingError, match="1 to 3 accounts"):
        prepare(store, ["a", "b", "c", "d"])
    with pytest.raises(TweetlingError, match="invalid account name"):
        prepare(store, ["../etc"])


def test_cli_stats_and_prepare(store):
    fill(store, "ana", 200)
    store.upsert_posts([Post("x", "rt1", "ana", "RT @bo: something long enough to keep")])
    runner = CliRunner()
    result = runner.invoke(cli, ["stats", "ana"])
    assert result.exit_code == 0, result.output
    assert "Posts downloaded" in result.output and "201" in result.output
    result = runner.invoke(cli, ["prepare", "ana", "--drop-duplicates", "--track", "none"])
    assert result.exit_code == 0, result.output
    assert "Duplicates" in result.output and "180 train / 20 valid" in result.output
    result = runner.invoke(cli, ["prepare", "nobody", "--track", "none"])
    assert result.exit_code == 1 and "no posts for account 'nobody'" in result.output


def test_real_csv_counts_match_independent_count(shared_tweets, store):
    import csv

    rows = list(csv.DictReader((shared_tweets / "BarackObama.csv").open(encoding="utf-8")))
    store.upsert_posts(Post("x", r["id"], "BarackObama", r["text"]) for r in rows)
    table = prepare(store, ["BarackObama"]).manifest["table"]["BarackObama"]
    retweets = sum(r["text"].startswith("RT @") for r in rows)
    assert table["downloaded"] == len(rows) == 2968 and table["retweets"] == retweets == 30
    assert table["short"] + table["kept"] == len(rows) - retweets


def test_prepare_is_tracked_once_per_dataset_version(store):
    from tweetling import track
    from tweetling.pipeline import prepare_dataset

    fill(store, "ana", 200)
    dataset = prepare_dataset(["ana"])
    prepare_dataset(["ana"])
    runs = track.recent_runs()
    assert [r.kind for r in runs] == ["prepare"]
    assert runs[0].tags["dataset.hash"] == dataset.manifest["hash"]
    assert track.prepare_run_id(dataset.manifest) == runs[0].id


def test_cli_accounts_lists_store(store):
    fill(store, "ana", 3)
    store.upsert_account(Profile("ana", "x", display_name="Ana [b]"))
    result = CliRunner().invoke(cli, ["accounts"])
    assert result.exit_code == 0 and "ana" in result.output and "Ana [b]" in result.output
