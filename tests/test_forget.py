"""`tweetling forget`: nothing of the forgotten posts is left in the store, datasets or MLflow;
the bots trained on them are marked stale with the command to retrain."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiny_bot import build_tiny_bot
from tweetling import bots, track
from tweetling.bots import read_metadata
from tweetling.cli import cli
from tweetling.dataset import Dataset, PrepareConfig
from tweetling.errors import TweetlingError
from tweetling.forget import forget
from tweetling.pipeline import prepare_dataset
from tweetling.posts import Post, Profile
from tweetling.provenance import FETCHED, Origin
from tweetling.store import Store

MARK = "zanzibarmarker"  # in every text and bio of the forgotten account: searched for byte by byte
GONE = "fernforgotten"


def stored_posts(account: str, count: int = 200, marker: str = "", first_id: int = 1) -> None:
    with Store() as store:
        store.upsert_account(Profile(account, "mastodon", display_name=account.title(), bio=f"bio {marker}"))
        store.record_origin(account, Origin("mastodon", FETCHED, "social.example", opt_out_checked_at="2024-01-01"))
        store.upsert_posts(
            Post(
                "mastodon",
                str(i),
                account,
                f"{marker} {account} writes about gardens and tides, note {i}",
                created_at=f"2024-01-{1 + i % 28:02d}T00:00:00+00:00",
                raw={"id": str(i), "content": marker},
            )
            for i in range(first_id, first_id + count)
        )
        store.set_state(f"fetch:mastodon:{account}", {"cursor": "5", "floor": None})


def bot_on(tiny_model: Path, dataset: Dataset, folder: Path, backend: str = "mlflow") -> Path:
    """A bot folder trained (as far as its metadata says) on DATASET, with its MLflow train run."""
    build_tiny_bot(tiny_model, folder, accounts=tuple(dataset.accounts))
    meta = json.loads((folder / "tweetling.json").read_text())
    meta["dataset"] = {**dataset.manifest, "path": str(dataset.path)}
    meta["recipe"] = {"name": "thorough"}
    (folder / "tweetling.json").write_text(json.dumps(meta))
    run = track.start_run(
        "train", dataset.name, {"dataset": dataset.manifest["hash"]}, track.dataset_tags(dataset.manifest), backend
    )
    run.log_artifact(folder / "tweetling.json")
    run.end()
    return folder


def leftovers(home: Path, text: str) -> list[str]:
    """Every file under HOME (store, write-ahead log, datasets, MLflow, artifacts) holding TEXT."""
    return [str(p.relative_to(home)) for p in home.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def all_runs() -> list:
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(track.tracking_uri())
    experiment = client.get_experiment_by_name(track.EXPERIMENT)
    return list(client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL))


def test_forget_an_account_leaves_nothing_behind(tiny_model, tweetling_home):
    stored_posts(GONE, marker=MARK)
    stored_posts("bob", first_id=1000)
    alone = prepare_dataset([GONE])
    blend = prepare_dataset([GONE, "bob"])
    bobs = prepare_dataset(["bob"])
    gone_bot = bot_on(tiny_model, alone, bots.default_dir(GONE))
    blend_bot = bot_on(tiny_model, blend, tweetling_home / "elsewhere" / "blend")
    bob_bot = bot_on(tiny_model, bobs, bots.default_dir("bob"))
    blend_bot_home = bots.default_dir("blend")
    blend_bot_home.parent.mkdir(parents=True, exist_ok=True)
    blend_bot.rename(blend_bot_home)
    assert leftovers(tweetling_home, MARK)  # the marker is there before

    result = CliRunner().invoke(cli, ["forget", GONE])

    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert f"{GONE}: 200 posts removed from the store, 2 datasets and 4 tracking runs deleted" in output
    # Posts, raw JSON, bios, datasets, MLflow, artifacts; the bots keep what they learned until retrained.
    assert {path for path in leftovers(tweetling_home, MARK) if not path.startswith("bots/")} == set()
    with Store() as store:
        assert store.count_posts(GONE) == store.count_deleted(GONE) == 0
        assert store.account(GONE) is None and store.origins(GONE) == []
        assert store.get_state(f"fetch:mastodon:{GONE}") is None
        assert store.get_state("fetch:mastodon:bob") is not None and store.count_posts("bob") == 200
    assert not alone.path.exists() and not blend.path.exists() and bobs.path.exists()
    runs = all_runs()
    assert all(GONE not in json.dumps(run.data.to_dictionary()) for run in runs)
    assert {run.data.tags["dataset.hash"] for run in runs} == {bobs.manifest["hash"]}  # bob's prepare and train

    gone_meta, blend_meta = read_metadata(gone_bot), read_metadata(blend_bot_home)
    assert gone_meta.stale.retrain is None and "delete it" in gone_meta.stale.reason
    assert blend_meta.stale.retrain == f"tweetling train bob --recipe thorough --base tiny-gpt2 --out {blend_bot_home}"
    assert read_metadata(bob_bot).stale is None
    assert [str(folder) for _, folder in [(m.name, f) for f, m in bots.stale_bots()]] == sorted(
        [str(gone_bot), str(blend_bot_home)]
    )
    assert "nothing left to train on" in output and "retrain: tweetling train bob" in output

    again = CliRunner().invoke(cli, ["forget", GONE])  # stale bots still name it: they are marked again
    assert again.exit_code == 0, again.output


def test_forget_one_post(tiny_model, tweetling_home):
    stored_posts("ana")
    dataset = prepare_dataset(["ana"], track_backend="none")
    with Store() as store:
        store.upsert_posts([Post("mastodon", "short1", "ana", "too short")])  # in no dataset
    other = prepare_dataset(["ana"], track_backend="none")  # a newer version that holds the same posts
    bot = bot_on(tiny_model, dataset, bots.default_dir("ana"), "none")

    result = forget("ana", ["7"])

    assert result.posts == 1 and sorted(result.datasets) == sorted({dataset.path, other.path})
    assert [b.retrain for b in result.bots] == ["tweetling train ana --recipe thorough --base tiny-gpt2"]
    assert read_metadata(bot).stale.reason == "it learned from posts of @ana that were forgotten"
    with Store() as store:
        assert "7" not in {p.post_id for p in store.posts("ana", include_deleted=True)}
        assert store.count_posts("ana") == 200
        # Forgotten stays forgotten: a later fetch or import does not store it again.
        again = store.upsert_posts([Post("mastodon", "7", "ana", "fetched again"), Post("mastodon", "8", "ana", "x")])
        assert (again.added, again.forgotten) == (0, 1)
    kept = prepare_dataset(["ana"], track_backend="none")
    unrelated = forget("ana", ["short1"])  # no dataset holds it: the new dataset stays
    assert unrelated.datasets == [] and kept.path.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["forget", "nobody"], "nothing to forget: no posts, datasets or bots of account 'nobody'"),
        (["forget", "ana", "--post", "999"], "account 'ana' has no post with id '999' in the store"),
        (["forget", "../etc"], "invalid account name"),
    ],
)
def test_forget_refuses_with_one_line(tweetling_home, args, message):
    stored_posts("ana", count=3)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and message in result.output and len(result.output.strip().splitlines()) == 1
    with Store() as store:
        assert store.count_posts("ana") == 3


def test_forget_the_posts_deleted_at_the_source(tweetling_home):
    stored_posts("ana", count=10)
    with Store() as store:
        stamp = "2024-06-01T00:00:00.000001+00:00"
        store.upsert_posts([p for p in store.posts("ana") if p.post_id not in ("3", "4")], seen_at=stamp)
        assert store.mark_unseen_deleted("mastodon", "ana", stamp) == 2
    result = forget("ana", deleted=True)
    assert result.posts == 2
    with Store() as store:
        assert store.count_deleted("ana") == 0 and store.count_posts("ana") == 8
    assert forget("ana", deleted=True).notes == ["ana has no posts marked deleted at their source"]


def test_a_stale_bot_says_so_when_loaded(tiny_bot):
    stale = bots.Stale("it learned from x", "2025-01-01T00:00:00+00:00", "tweetling train y")
    bots.write_metadata(tiny_bot, replace(read_metadata(tiny_bot), stale=stale))
    result = CliRunner().invoke(cli, ["generate", str(tiny_bot), "Hi", "-n", "1", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert "is stale: it learned from x; retrain: tweetling train y" in " ".join(result.output.split())


def test_nothing_happens_before_an_unknown_post_is_refused(tweetling_home):
    stored_posts("ana", count=3)
    with pytest.raises(TweetlingError):
        forget("ana", ["1", "nope"])
    with Store() as store:
        assert store.count_posts("ana") == 3


def test_forget_names_what_it_could_not_look_into(tiny_model, tweetling_home):
    stored_posts(GONE, marker=MARK)
    dataset = prepare_dataset([GONE], track_backend="none")
    unreadable = bots.default_dir("damaged")
    build_tiny_bot(tiny_model, unreadable, accounts=(GONE,))
    (unreadable / "tweetling.json").write_text("[" * 100_000 + "]" * 100_000)  # nested past the recursion limit
    other = prepare_dataset([GONE], PrepareConfig(valid_fraction=0.2), track_backend="none")
    (other.path / "manifest.json").write_text("{garbage")
    unfinished = other.path.with_name(f".{other.path.name}.ab12cd")
    unfinished.mkdir()

    result = CliRunner().invoke(cli, ["forget", GONE])

    assert result.exit_code == 0, result.output
    said = "".join(result.output.split())  # rich wraps long paths anywhere

    def says(text: str) -> bool:
        return "".join(text.split()) in said

    assert says("1 datasets and 0 tracking runs deleted") and not dataset.path.exists()
    assert says(f"damaged/tweetling.json cannot be read, so forget cannot tell whether this bot learned from @{GONE}")
    assert says(f"{other.path.name}: its manifest.json cannot be read, so it may hold posts of @{GONE}")
    assert says(f"{unfinished.name}: an unfinished dataset, so it may hold posts of @{GONE}")


def test_a_damaged_tracking_store_does_not_stop_forget(tweetling_home):
    stored_posts(GONE, marker=MARK)
    dataset = prepare_dataset([GONE], track_backend="none")
    (tweetling_home / "mlflow.db").write_text("garbage " * 100)

    result = CliRunner().invoke(cli, ["forget", GONE])

    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "tracking runs not deleted:" in said and "mlflow.db: the tracking store cannot be used" in said
    assert not dataset.path.exists()
    with Store() as store:
        assert store.count_posts(GONE) == 0
    runs = CliRunner().invoke(cli, ["runs"])
    assert runs.exit_code == 1 and "the tracking store cannot be used" in runs.output and "Traceback" not in runs.output
