"""Tracking: secrets never reach a tracker; MLflow records prepare and train runs, linked."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tweetling import track
from tweetling.cli import cli
from tweetling.errors import TweetlingError

SECRET = "xoxb-very-secret-value-123"


def test_public_params_drop_secret_names_and_values(monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", SECRET)
    params = {
        "learning_rate": 1e-4,
        "max_tokens": 5,
        "keep_newlines": False,
        "x": {"bearer_token": "abc", "api-key": "k", "base_url": "https://x"},
        "password": "hunter2",
        "note": f"run with {SECRET}",
    }
    assert track.public_params(params) == {
        "learning_rate": "0.0001",
        "max_tokens": "5",
        "keep_newlines": "False",
        "x.base_url": "https://x",
    }


def test_backend_choice(monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert track.backend_name() == "mlflow"
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    assert track.backend_name() == "wandb" and track.backend_name("none") == "none"
    with pytest.raises(TweetlingError, match="unknown tracking backend"):
        track.backend_name("tensorboard")


def test_wandb_without_the_package_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_wandb(name, *args, **kwargs):
        if name == "wandb":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wandb)
    with pytest.raises(TweetlingError, match=r"tweetling\[wandb\]"):
        track.start_run("train", "jack", {}, backend="wandb")


def test_no_store_no_runs(tweetling_home):
    assert track.recent_runs() == []
    assert not (tweetling_home / "mlflow.db").exists()


def test_mlflow_links_prepare_and_train_runs_without_secrets(tiny_model, tmp_path, tweetling_home, monkeypatch):
    from mlflow.tracking import MlflowClient

    from test_train import write_dataset
    from tweetling.dataset import Dataset
    from tweetling.recipes import recipe
    from tweetling.train import fine_tune

    monkeypatch.setenv("X_BEARER_TOKEN", SECRET)
    dataset = Dataset.load(write_dataset(tmp_path / "dataset"))
    dataset.manifest["source_ids"] = "cd" * 32
    prepare_id = track.record_prepare({**dataset.manifest, "options": {"token_env": SECRET}})
    assert track.prepare_run_id(dataset.manifest) == prepare_id

    bot = fine_tune(dataset, recipe("default", epochs=1, batch_size=8), str(tiny_model), track_backend="mlflow")

    train_run, prepare_run = track.recent_runs()
    assert (train_run.kind, prepare_run.kind) == ("train", "prepare") and train_run.status == "FINISHED"
    assert train_run.tags["prepare_run_id"] == prepare_id == prepare_run.id
    assert train_run.tags["dataset.hash"] == prepare_run.tags["dataset.hash"] == "ab" * 32
    assert train_run.tags["dataset.source_ids"] == "cd" * 32 and train_run.tags["bot.path"] == str(bot)
    assert {"train_loss", "valid_perplexity", "final_valid_perplexity", "tokens_per_s"} <= set(train_run.metrics)

    client = MlflowClient(track.tracking_uri())
    run = client.get_run(train_run.id)
    assert run.data.params["learning_rate"] == str(recipe("default").learning_rate)
    assert len(client.get_metric_history(train_run.id, "train_loss")) == 3  # one per step
    artifacts = tweetling_home / "mlartifacts"
    assert json.loads(next(artifacts.rglob("tweetling.json")).read_text())["name"] == "jack"
    recorded = json.dumps([client.get_run(r).data.to_dictionary() for r in (train_run.id, prepare_id)])
    recorded += "".join(p.read_text() for p in artifacts.rglob("*") if p.is_file())
    assert SECRET not in recorded

    result = CliRunner().invoke(cli, ["runs"])
    assert result.exit_code == 0 and "train" in result.output and "prepare" in result.output
    for limit in ("0", "-1", "99999999999999999999"):
        refused = CliRunner().invoke(cli, ["runs", "--limit", limit])
        assert refused.exit_code == 2 and "Invalid value for '--limit'" in refused.output


def test_a_run_whose_process_was_killed_is_listed_as_killed(tweetling_home):
    import subprocess
    import sys

    live = track.start_run("train", "alive", {}, backend="mlflow")
    started = "from tweetling import track; print(track.start_run('train', 'killed', {}, backend='mlflow').id)"
    child = subprocess.Popen([sys.executable, "-c", started + "; import time; time.sleep(600)"], stdout=subprocess.PIPE)
    try:
        killed_id = child.stdout.readline().decode().strip()
    finally:
        child.kill()  # SIGKILL: the run is never ended
        child.wait()
    statuses = {run.id: run.status for run in track.recent_runs()}
    assert statuses == {killed_id: "KILLED", live.id: "RUNNING"}
    live.end()
