"""Experiment tracking behind one small interface: MLflow in a local SQLite store (default),
Weights & Biases when configured, or nothing. Secrets never reach a tracker."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

from . import paths
from .errors import TweetlingError

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("tweetling")

BACKENDS = ("mlflow", "wandb", "none")
EXPERIMENT = "tweetling"
# Whole name parts: "bearer_token" and "api-key" are secrets, "max_tokens" and "keep" are not.
_SECRET_NAME = re.compile(
    r"(?:^|[._\-])(?:token|key|secret|password|passwd|credentials?|auth)(?:$|[._\-])", re.IGNORECASE
)


class Run(Protocol):
    @property
    def id(self) -> str | None: ...

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...
    def log_dict(self, data: dict, name: str) -> None: ...
    def log_artifact(self, path: Path) -> None: ...
    def set_tags(self, tags: dict[str, str]) -> None: ...
    def end(self, status: str = "FINISHED") -> None: ...


def backend_name(choice: str | None = None) -> str:
    """CHOICE, else wandb when WANDB_API_KEY is set, else mlflow."""
    if choice is None:
        return "wandb" if os.environ.get("WANDB_API_KEY") else "mlflow"
    if choice not in BACKENDS:
        raise TweetlingError(f"unknown tracking backend {choice!r}; use one of {', '.join(BACKENDS)}")
    return choice


def _secret_values() -> set[str]:
    return {value for name, value in os.environ.items() if _SECRET_NAME.search(name) and len(value) >= 8}


def public_dict(data: dict, secrets: set[str] | None = None) -> dict:
    """DATA without entries whose name looks like a secret or whose value holds a secret env variable's value."""
    secrets = _secret_values() if secrets is None else secrets
    public = {}
    for key, value in data.items():
        if _SECRET_NAME.search(str(key)):
            continue
        if isinstance(value, dict):
            value = public_dict(value, secrets)
        elif any(secret in json.dumps(value, default=str) for secret in secrets):
            continue
        public[key] = value
    return public


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """Nested DATA as one level: {"a": {"b": 1}} becomes {"a.b": 1}."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return flat


def metric_name(name: str) -> str:
    """NAME with the characters trackers refuse in parameter and metric names replaced by _."""
    return re.sub(r"[^\w\-. /]", "_", name)


def public_params(params: dict) -> dict[str, str]:
    """PARAMS without secrets (`public_dict`), flattened to "a.b" keys with string values."""
    return {metric_name(name): str(value)[:500] for name, value in flatten(public_dict(params)).items()}


def start_run(
    kind: str,
    name: str,
    params: dict,
    tags: dict[str, str] | None = None,
    backend: str | None = None,
    resume_id: str | None = None,
) -> Run:
    """Open a run of KIND ("prepare" or "train"); RESUME_ID continues an earlier run."""
    backend = backend_name(backend)
    tags = {"tweetling.kind": kind, **_process_tags(), **(tags or {})}
    if backend == "none":
        return NoRun()
    if backend == "wandb":
        return WandbRun(kind, name, public_params(params), tags, resume_id)
    return _readable_store(MlflowRun)(kind, name, public_params(params), tags, resume_id)


class NoRun:
    id = None

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def log_dict(self, data: dict, name: str) -> None:
        pass

    def log_artifact(self, path: Path) -> None:
        pass

    def set_tags(self, tags: dict[str, str]) -> None:
        pass

    def end(self, status: str = "FINISHED") -> None:
        pass


def tracking_uri() -> str:
    return f"sqlite:///{paths.home() / 'mlflow.db'}"


def _store_errors() -> tuple[type[BaseException], ...]:
    """What a damaged or foreign mlflow.db raises, through MLflow or SQLAlchemy."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    return MlflowException, SQLAlchemyError


def _readable_store(function: Callable[P, T]) -> Callable[P, T]:
    """FUNCTION, with a failure of the tracking store as one line naming it."""

    @wraps(function)
    def checked(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except _store_errors() as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise TweetlingError(
                f"{paths.home() / 'mlflow.db'}: the tracking store cannot be used ({first_line[:200]}):"
                " move it aside, or pass --track none"
            ) from None

    return checked


def _mlflow_client():
    # mlflow logs schema migrations at INFO on first use; keep the CLI and tests quiet.
    for logger in ("mlflow", "alembic"):
        logging.getLogger(logger).setLevel(logging.WARNING)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri())


def _experiment_id(client) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    artifacts = (paths.home() / "mlartifacts").as_uri()
    return client.create_experiment(EXPERIMENT, artifact_location=artifacts)


class MlflowRun:
    def __init__(
        self, kind: str, name: str, params: dict[str, str], tags: dict[str, str], resume_id: str | None = None
    ):
        from mlflow.entities import Param

        self.client = _mlflow_client()
        self.lost = False
        if resume_id:
            self.id = resume_id
            self.client.update_run(resume_id, status="RUNNING")
            self.set_tags(_process_tags())  # the resuming process is the one to watch now
            return
        run = self.client.create_run(_experiment_id(self.client), run_name=name, tags=tags)
        self.id = run.info.run_id
        items = [Param(key, value) for key, value in params.items()]
        for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.id, params=items[start : start + 100])

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metric_list = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        self._logged(lambda: self.client.log_batch(self.id, metrics=metric_list))

    def log_dict(self, data: dict, name: str) -> None:
        self._logged(lambda: self.client.log_dict(self.id, public_dict(data), name))

    def log_artifact(self, path: Path) -> None:
        self._logged(lambda: self.client.log_artifact(self.id, str(path)))

    def set_tags(self, tags: dict[str, str]) -> None:
        self._logged(lambda: [self.client.set_tag(self.id, key, value) for key, value in tags.items()])

    def end(self, status: str = "FINISHED") -> None:
        self._logged(lambda: self.client.set_terminated(self.id, status=status))

    def _logged(self, write: Callable[[], object]) -> None:
        """WRITE to the run, unless the run is gone: `tweetling forget` deletes the runs of the
        posts it forgets, a running training's too, and a training must not fail for its record."""
        if self.lost:
            return
        try:
            write()
        except _store_errors() as error:
            self.lost = True
            log.warning("tracking run %s stopped recording: %s", self.id, str(error).splitlines()[0][:200])


class WandbRun:
    def __init__(
        self, kind: str, name: str, params: dict[str, str], tags: dict[str, str], resume_id: str | None = None
    ):
        try:
            import wandb
        except ImportError:
            raise TweetlingError(
                "W&B tracking needs wandb: pip install 'tweetling[wandb]', or use --track mlflow"
            ) from None
        self.wandb = wandb
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", EXPERIMENT),
            name=name,
            job_type=kind,
            config=params,
            tags=[f"{k}={v}" for k, v in tags.items()],
            id=resume_id,
            resume="allow" if resume_id else None,
        )
        self.id = self.run.id

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.run.log(metrics, step=step)

    def log_dict(self, data: dict, name: str) -> None:
        self.run.summary.update({f"{Path(name).stem}.{k}": v for k, v in public_params(data).items()})

    def log_artifact(self, path: Path) -> None:
        artifact = self.wandb.Artifact(name=Path(path).name.replace(".", "-"), type=self.run.job_type)
        artifact.add_file(str(path))
        self.run.log_artifact(artifact)

    def set_tags(self, tags: dict[str, str]) -> None:
        self.run.tags = tuple(self.run.tags or ()) + tuple(f"{k}={v}" for k, v in tags.items())

    def end(self, status: str = "FINISHED") -> None:
        self.run.finish(exit_code=0 if status == "FINISHED" else 1)


def dataset_tags(manifest: dict) -> dict[str, str]:
    """Tags that link raw data → dataset → model: the dataset's hash and its source posts' hash."""
    tags = {"dataset.name": manifest["name"], "dataset.hash": manifest["hash"]}
    if manifest.get("source_ids"):
        tags["dataset.source_ids"] = manifest["source_ids"]
    return tags


@_readable_store
def record_prepare(manifest: dict, backend: str | None = None) -> str | None:
    """Record a prepare run for a dataset MANIFEST: its options, counts and the manifest itself."""
    params = {
        key: manifest[key]
        for key in (
            "accounts",
            "seed",
            "valid_fraction",
            "test_fraction",
            "options",
            "table",
            "train_count",
            "valid_count",
            "test_count",
        )
        if key in manifest
    }
    run = start_run("prepare", f"prepare {manifest['name']}", params, dataset_tags(manifest), backend)
    run.log_dict(manifest, "manifest.json")
    run.end()
    return run.id


def prepare_run_id(manifest: dict) -> str | None:
    """The MLflow prepare run of this dataset: named in its manifest, or found by its hash."""
    if manifest.get("prepare_run_id"):
        return manifest["prepare_run_id"]
    found = _newest_runs(f"tags.`tweetling.kind` = 'prepare' and tags.`dataset.hash` = '{manifest['hash']}'", 1)
    return found[1][0].info.run_id if found and found[1] else None


def train_run(bot_path: Path) -> tuple[str, str] | None:
    """(experiment id, run id) of the newest MLflow training run writing the bot at BOT_PATH."""
    found = _newest_runs("tags.`tweetling.kind` = 'train'", 50)  # the path is compared here: it may hold quotes
    if not found:
        return None
    experiment_id, runs = found
    run = next((run for run in runs if run.data.tags.get("bot.path") == str(bot_path)), None)
    return (experiment_id, run.info.run_id) if run else None


@_readable_store
def _newest_runs(filter_string: str, max_results: int) -> tuple[str, list] | None:
    """(experiment id, its runs matching FILTER_STRING, newest first) in the local MLflow store;
    None when there is no store or no tweetling experiment yet."""
    if not (paths.home() / "mlflow.db").exists():
        return None
    client = _mlflow_client()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id], filter_string, max_results=max_results, order_by=["attributes.start_time DESC"]
    )
    return experiment.experiment_id, runs


def _process_tags() -> dict[str, str]:
    """Which process runs a run: a run whose process was killed (SIGKILL, a power cut) stays
    RUNNING in the store, and `recent_runs` tells it apart by these."""
    return {"tweetling.host": socket.gethostname(), "tweetling.pid": str(os.getpid())}


def _process_gone(tags: dict[str, str]) -> bool:
    """Whether the process of a RUNNING run with TAGS ended on this machine without ending it."""
    pid = tags.get("tweetling.pid", "")
    if tags.get("tweetling.host") != socket.gethostname() or not pid.isdigit():
        return False  # another machine's, or a run from before the tags
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except (ProcessLookupError, OverflowError):  # none, or a pid no process can have
        return True
    except PermissionError:  # another user's process
        return False
    return False


@dataclass
class RunSummary:
    id: str
    kind: str
    name: str
    status: str
    started: str
    duration_s: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    experiment_id: str = ""

    @property
    def final_perplexities(self) -> tuple[float | None, float | None]:
        """(validation, test) perplexity a training run ended with; None where it has none."""
        return self.metrics.get("final_valid_perplexity"), self.metrics.get("final_test_perplexity")


def recent_runs(limit: int = 20) -> list[RunSummary]:
    """The newest runs of the local MLflow store, newest first ([] when there is none yet)."""
    from datetime import datetime

    found = _newest_runs("", limit)
    experiment_id, runs = found if found else ("", [])
    summaries = []
    for run in runs:
        info, data = run.info, run.data
        end = info.end_time
        summaries.append(
            RunSummary(
                id=info.run_id,
                kind=data.tags.get("tweetling.kind", ""),
                name=info.run_name or "",
                status="KILLED" if info.status == "RUNNING" and _process_gone(data.tags) else info.status,
                started=datetime.fromtimestamp(info.start_time / 1000).isoformat(sep=" ", timespec="seconds"),
                duration_s=(end - info.start_time) / 1000 if end else None,
                metrics=dict(data.metrics),
                tags={k: v for k, v in data.tags.items() if not k.startswith("mlflow.")},
                experiment_id=experiment_id,
            )
        )
    return summaries


@_readable_store
def forget_runs(dataset_hashes: set[str], account: str | None = None) -> int:
    """Permanently delete the local MLflow runs that carry forgotten data, as `mlflow gc` does
    (params, tags, metrics and artifacts): the runs of the datasets DATASET_HASHES (prepare, train
    and eval runs carry the dataset's hash) and, with ACCOUNT, every prepare run of one of its
    datasets. Return how many went. Runs sent to W&B live on its servers and are not touched."""
    if not (paths.home() / "mlflow.db").exists():
        return 0
    from mlflow.entities import ViewType
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    client = _mlflow_client()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return 0
    doomed, token = [], None
    while True:
        page = client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL, page_token=token)
        doomed += [run for run in page if _carries(run, dataset_hashes, account)]
        token = page.token
        if not token:
            break
    for run in doomed:
        get_artifact_repository(run.info.artifact_uri).delete_artifacts()
        # The store's own hard delete, which `mlflow gc` uses: the client only marks runs deleted.
        client._tracking_client.store._hard_delete_run(run.info.run_id)
    if doomed:
        _vacuum(paths.home() / "mlflow.db")
    return len(doomed)


def _carries(run: Any, dataset_hashes: set[str], account: str | None) -> bool:
    tags, params = run.data.tags, run.data.params
    if tags.get("dataset.hash") in dataset_hashes or params.get("dataset") in dataset_hashes:
        return True
    if account is None or "accounts" not in params:
        return False
    import ast

    try:
        accounts = ast.literal_eval(params["accounts"])
    except (ValueError, SyntaxError):
        return account in params["accounts"]  # cut at 500 characters: match the text
    return isinstance(accounts, list) and account in accounts


def _vacuum(database: Path) -> None:
    """Rewrite DATABASE without its free pages, where deleted rows linger; skipped while it is busy."""
    import sqlite3

    db = sqlite3.connect(database, timeout=5)
    try:
        db.execute("VACUUM")
    except sqlite3.OperationalError:
        pass
    finally:
        db.close()
