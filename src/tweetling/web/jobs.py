"""One background job at a time (a training), with live progress and a cancel that the job obeys."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import TweetlingError

RUNNING, CANCELLING, DONE, FAILED, CANCELLED = "running", "cancelling", "done", "failed", "cancelled"


class Cancelled(KeyboardInterrupt):
    """Raised inside the job by `JobControl.check` once a cancel was asked for.

    A KeyboardInterrupt, so the work stops the way it stops on Ctrl-C (the trainer saves what it has).
    """


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of the current (or last) job, safe to read from any thread."""

    name: str
    state: str  # running, cancelling, done, failed or cancelled
    started_at: float
    progress: dict[str, Any] = field(default_factory=dict)  # whatever the job last reported
    message: str = ""  # the error of a failed job
    result: Any = None  # what the work returned
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        return self.state in (RUNNING, CANCELLING)


class JobControl:
    """Handed to the work: report progress, and check whether to stop."""

    def __init__(self, runner: JobRunner):
        self._runner = runner
        self.cancel_requested = threading.Event()

    def report(self, **progress: Any) -> None:
        """Record progress (fields not given keep their last value), then stop the work if a cancel was asked for."""
        self._runner._merge_progress(progress)
        self.check()

    def check(self) -> None:
        if self.cancel_requested.is_set():
            raise Cancelled()


class JobRunner:
    """Runs at most one job at a time in a daemon thread; a second start is refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: JobStatus | None = None
        self._control: JobControl | None = None
        self._thread: threading.Thread | None = None

    def start(self, name: str, work: Callable[[JobControl], Any], progress: dict[str, Any] | None = None) -> JobStatus:
        """Run WORK(control) in the background, its PROGRESS so far shown until it reports;
        raise if a job is already running."""
        with self._lock:
            if self._status is not None and self._status.active:
                raise TweetlingError(
                    f"a training is already running ({self._status.name}); wait for it to finish or cancel it"
                )
            control = JobControl(self)
            self._control = control
            self._status = JobStatus(name=name, state=RUNNING, started_at=time.time(), progress=dict(progress or {}))
            self._thread = threading.Thread(
                target=self._run, args=(work, control), daemon=True, name=f"tweetling-job-{name}"
            )
            self._thread.start()
            return self._status

    def cancel(self) -> bool:
        """Ask the running job to stop; False when nothing is running."""
        with self._lock:
            if self._status is None or not self._status.active or self._control is None:
                return False
            self._control.cancel_requested.set()
            self._status = replace(self._status, state=CANCELLING)
            return True

    def status(self) -> JobStatus | None:
        with self._lock:
            return self._status

    def wait(self, timeout: float | None = None) -> JobStatus | None:
        """Block until the current job ends (for tests and shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status()

    def _update(self, **changes: Any) -> None:
        with self._lock:
            if self._status is not None:
                self._status = replace(self._status, **changes)

    def _merge_progress(self, progress: dict[str, Any]) -> None:
        with self._lock:
            if self._status is not None:
                self._status = replace(self._status, progress={**self._status.progress, **progress})

    def _run(self, work: Callable[[JobControl], Any], control: JobControl) -> None:
        try:
            result = work(control)
        except KeyboardInterrupt as stopped:  # Cancelled: the message says what was kept
            self._update(state=CANCELLED, message=str(stopped), finished_at=time.time())
        except Exception as error:  # the job thread must report every failure, not die silently
            message = str(error) if isinstance(error, TweetlingError) else f"{type(error).__name__}: {error}"
            self._update(state=FAILED, message=message, finished_at=time.time())
        else:  # finished: a cancel that came too late to stop it changes nothing
            self._update(state=DONE, result=result, finished_at=time.time())
