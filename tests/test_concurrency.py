"""Several real processes on one store: creating it at once, importing and fetching at once, a
write lock held too long, and kill -9 in the middle of a fetch (issue 11)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug import Request, Response

from conftest import REPO, SAMPLE_ARCHIVE
from http_payloads import FakeMastodon, mastodon_status
from tweetling import limits
from tweetling.cli import cli
from tweetling.posts import Post
from tweetling.store import Store, schema_version

DATA = Path(__file__).parent / "data"
TIMEOUT = 60  # no process here should ever need this long


def environment(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TWEETLING_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }


def tweetling(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tweetling", *args],
        env=environment(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(process: subprocess.Popen) -> tuple[int, str]:
    output, _ = process.communicate(timeout=TIMEOUT)
    return process.returncode, output


def _open_and_write(path: str, number: int, barrier) -> None:
    barrier.wait(timeout=TIMEOUT)
    with Store(path) as store:
        store.upsert_posts([Post("file", f"{number:020x}", "many", f"post from process {number}")])


@pytest.mark.parametrize("round_", range(3))
def test_a_new_store_created_by_several_processes_at_once(tmp_path: Path, round_: int):
    context = multiprocessing.get_context("fork")
    path = tmp_path / "new.db"
    barrier = context.Barrier(4)
    processes = [context.Process(target=_open_and_write, args=(str(path), n, barrier)) for n in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(TIMEOUT)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]
    with Store(path) as store:
        assert store.count_posts("many") == 4
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == schema_version()


def test_two_imports_and_a_fetch_at_once_all_complete(tmp_path: Path, httpserver):
    home = tmp_path / "home"
    FakeMastodon(httpserver, [mastodon_status(i) for i in range(1, 121)])
    processes = [
        tweetling(home, "import", str(SAMPLE_ARCHIVE)),
        tweetling(home, "import", str(DATA / "archive")),
        tweetling(home, "fetch", "mastodon:@alice@social.example", "--base-url", httpserver.url_for("/")),
    ]
    results = [finished(process) for process in processes]
    assert [code for code, _ in results] == [0, 0, 0], results
    with Store(home / "tweetling.db") as store:
        counts = {
            name: store.count_posts(name) for name in ("tweetling_sample", "fixture_fern", "alice@social.example")
        }
    assert counts["fixture_fern"] == 8 and counts["alice@social.example"] == 120 and counts["tweetling_sample"] > 400


HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def holding_the_write_lock(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_write_waits_for_another_process_then_completes(tweetling_home: Path):
    Store().close()
    holder = holding_the_write_lock(tweetling_home / "tweetling.db", 1.5)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["import", str(DATA / "archive")])
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 1.0  # it waited rather than failed
    holder.wait(TIMEOUT)


def test_a_store_busy_past_the_timeout_is_one_line(tweetling_home: Path, monkeypatch):
    monkeypatch.setattr(limits, "BUSY_TIMEOUT_S", 0.5)
    Store().close()
    holder = holding_the_write_lock(tweetling_home / "tweetling.db", 10)
    try:
        result = CliRunner().invoke(cli, ["import", str(DATA / "archive")])
    finally:
        holder.kill()
        holder.wait(TIMEOUT)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert (
        result.output.startswith("error: ")
        and "is busy: another tweetling process kept writing to it for 0.5 s" in result.output
    )
    with Store() as store:
        assert store.count_posts() == 0


class SlowMastodon(FakeMastodon):
    def _statuses(self, request: Request) -> Response:
        time.sleep(0.3)  # time to be killed between pages
        return super()._statuses(request)


def test_kill_9_during_a_fetch_loses_nothing_and_the_rerun_is_exact(tmp_path: Path, httpserver):
    home = tmp_path / "home"
    SlowMastodon(httpserver, [mastodon_status(i) for i in range(1, 201)])  # 5 pages of 40
    url = httpserver.url_for("/")
    process = tweetling(home, "fetch", "mastodon:@alice@social.example", "--base-url", url)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if (home / "tweetling.db").exists():
            with Store(home / "tweetling.db") as store:
                if store.count_posts() >= 80:
                    break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(TIMEOUT)

    with Store(home / "tweetling.db") as store:
        kept = store.count_posts()
        assert 80 <= kept < 200 and kept % 40 == 0  # whole pages, never half of one
    code, output = finished(tweetling(home, "fetch", "mastodon:@alice@social.example", "--base-url", url))
    assert code == 0, output
    with Store(home / "tweetling.db") as store:
        assert sorted(int(post.post_id) for post in store.posts("alice@social.example")) == list(range(1, 201))


def _write_folder_again_and_again(target: str, writer: str, times: int) -> None:
    from tweetling.paths import atomic_folder

    for i in range(times):
        with atomic_folder(Path(target)) as folder:
            (folder / "weights").write_text(f"{writer} {i}")


def test_two_writers_of_one_folder_both_finish_and_the_last_one_stays(tmp_path: Path):
    """Two trainings of one account, or two exports, replace the same folder at the same time."""
    target = tmp_path / "bots" / "ada"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_folder_again_and_again, args=(str(target), w, 150)) for w in "AB"]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(TIMEOUT)
    assert [writer.exitcode for writer in writers] == [0, 0]
    assert (target / "weights").read_text() in {"A 149", "B 149"}
    assert [p.name for p in target.parent.iterdir()] == ["ada"]  # nothing moved aside is left
