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
    train, valid, test = split(texts, 0.05, 0.1, seed=7)
    assert (train, valid, test) == split(texts, 0.05, 0.1, seed=7)
    assert (len(train), len(valid), len(test)) == (85, 5, 10)
    assert sorted(train + valid + test) == sorted(texts)
    assert split(texts, 0.05, 0.1, seed=8)[2] != test
    assert [len(part) for part in split(texts[:10], 0.01, 0.01, seed=1)] == [8, 1, 1]  # at least one held out
    assert split(texts, 0.1, 0.0, seed=7)[2] == []


@pytest.mark.parametrize(
    ("valid_fraction", "test_fraction"), [(-0.1, 0.1), (0.1, 1.0), (0.5, 0.5), (0.9, 0.2)], ids=str
)
def test_split_fractions_must_leave_training_posts(valid_fraction, test_fraction):
    with pytest.raises(TweetlingError, match="fraction"):
        PrepareConfig(valid_fraction=valid_fraction, test_fraction=test_fraction)


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
    assert (len(dataset.train), len(dataset.valid), len(dataset.test)) == (170, 10, 20)
    assert not {e.text for e in dataset.test} & {e.text for e in dataset.train + dataset.valid}
    manifest = json.loads((dataset.path / "manifest.json").read_text())
    assert (manifest["valid_count"], manifest["test_count"], manifest["test_fraction"]) == (10, 20, 0.1)
    assert manifest["table"]["ana"]["kept"] == 200
    assert manifest["profiles"]["ana"]["display_name"] == "Ana <b>"
    assert manifest["seed"] == 42 and manifest["options"] == CleanOptions().to_dict()
    again = prepare(store, ["ana"])
    assert again.path == dataset.path and (again.valid, again.test) == (dataset.valid, dataset.test)
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
    assert {e.account for e in dataset.valid} == {e.account for e in dataset.test} == {"ana", "bo"}


def test_dataset_prepared_before_test_splits_still_loads(store):
    fill(store, "ana", 200)
    dataset = prepare(store, ["ana"])
    (dataset.path / "test.jsonl").unlink()
    old = Dataset.load(dataset.path)
    assert old.test == [] and old.valid == dataset.valid and old.train == dataset.train


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
    assert "Duplicates" in result.output and "170 train / 10 valid / 20 test" in result.output
    result = runner.invoke(
        cli, ["prepare", "ana", "--test-fraction", "0.2", "--valid-fraction", "0.1", "--track", "none"]
    )
    assert result.exit_code == 0 and "140 train / 20 valid / 40 test" in result.output
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


def _cut_at_a_line(path):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:20]))


@pytest.mark.parametrize(
    "part, damage, message",
    [
        ("manifest.json", lambda path: path.write_text("{garbage"), r"manifest\.json: damaged \(JSONDecodeError\)"),
        ("manifest.json", lambda path: path.write_text("[" * 100_000), r"manifest\.json: damaged \(RecursionError\)"),
        ("train.jsonl", lambda path: path.write_text(path.read_text()[:3000]), r"train\.jsonl:\d+: not a post"),
        ("train.jsonl", _cut_at_a_line, r"train\.jsonl: 20 posts where its manifest lists 170 \(damaged\)"),
        ("train.jsonl", lambda path: path.unlink(), r"train\.jsonl: cannot read it \(FileNotFoundError\)"),
    ],
)
def test_a_damaged_dataset_is_one_line_and_prepare_makes_it_again(store, part, damage, message):
    fill(store, "ana", 200)
    dataset = prepare(store, ["ana"])
    damage(dataset.path / part)

    with pytest.raises(TweetlingError, match=message) as refused:
        Dataset.load(dataset.path)
    assert "\n" not in str(refused.value) and str(refused.value).endswith("prepare the dataset again")
    again = prepare(store, ["ana"])
    assert again.path == dataset.path and len(again.train) == 170 and Dataset.load(again.path).train == again.train


def test_a_full_disk_while_writing_a_dataset_names_its_folder(store, tweetling_home, monkeypatch):
    import errno
    from pathlib import Path

    fill(store, "ana", 200)

    def full(*args, **kwargs):
        raise OSError(errno.EFBIG, "File too large")  # as a write past `ulimit -f` says it: no file named

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError) as refused:
        prepare(store, ["ana"])
    assert not list((tweetling_home / "datasets").glob(".ana-*"))  # nothing half-written stays
    assert refused.value.errno == errno.EFBIG and refused.value.filename.startswith(f"{tweetling_home}/datasets/ana-")
