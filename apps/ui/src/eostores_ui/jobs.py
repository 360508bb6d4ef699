"""One user action at a time: long actions run as a background job with progress and cancel.

The application holds one :class:`ActionGuard`. A short action (connecting to a store,
describing data) holds it while it runs; a long one (open, preload, download) starts a
:class:`Job` in a thread that holds it until the job ends. Any action asked for while
another holds the guard is refused with :class:`BusyError`, which names the running one,
rather than queued silently.

Progress and cancellation of dask computations (writing a download, reading a quicklook)
come from :class:`DaskProgress`, a dask callback that counts the tasks of the job's own
thread and stops starting new ones once the job is cancelled.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ActionGuard", "BusyError", "Cancelled", "DaskProgress", "Job"]


class BusyError(Exception):
    """Another action is running; the message names it."""


class Cancelled(Exception):
    """The job was cancelled by the user."""


class Job:
    """A long action running in a thread: state, progress (0..1 or None), message, result."""

    def __init__(self, kind: str, label: str, number: int):
        self.kind = kind
        self.label = label
        self.number = number
        self.state = "running"
        self.progress: float | None = None
        self.message = ""
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.started = time.monotonic()
        self.ended: float | None = None
        self.cancel_event = threading.Event()
        self.on_cancel: Callable[[], None] | None = None
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled(f"{self.label} cancelled")

    def report(self, progress: float | None = None, message: str | None = None) -> None:
        with self._lock:
            if progress is not None:
                self.progress = max(0.0, min(1.0, float(progress)))
            if message is not None:
                self.message = message

    def cancel(self) -> None:
        self.cancel_event.set()
        callback = self.on_cancel
        if callback is not None:
            with contextlib.suppress(Exception):
                callback()

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            elapsed = (self.ended or time.monotonic()) - self.started
            result: dict[str, Any] = {
                "id": self.number,
                "kind": self.kind,
                "label": self.label,
                "state": self.state,
                "progress": self.progress,
                "message": self.message,
                "elapsed": round(elapsed, 2),
            }
            if self.result is not None:
                result["result"] = self.result
            if self.error is not None:
                result["error"] = self.error
            return result


class ActionGuard:
    """Lets one action run at a time and keeps the latest job for the page to poll."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: str | None = None
        self._count = 0
        self.job: Job | None = None

    @property
    def running(self) -> str | None:
        """The label of the action running now, or None."""
        return self._running

    def busy_error(self, label: str) -> BusyError | None:
        """The refusal of the action ``label`` while another runs, else None."""
        running = self._running
        if running is None:
            return None
        return BusyError(
            f"{running!r} is still running: wait for it to finish or cancel it "
            f"before starting {label!r}"
        )

    def acquire(self, label: str) -> None:
        """Hold the guard for the action ``label``; BusyError if another holds it."""
        with self._lock:
            error = self.busy_error(label)
            if error is not None:
                raise error
            self._running = label

    def release(self) -> None:
        """Let the next action run."""
        with self._lock:
            self._running = None

    def start(
        self,
        kind: str,
        label: str,
        work: Callable[[Job], dict[str, Any]],
        on_error: Callable[[BaseException], dict[str, Any]],
    ) -> Job:
        """Run ``work(job)`` in a thread holding the guard; its return value is the result.

        ``on_error`` turns an exception into the job's error (shown by the page).
        """
        self.acquire(label)
        with self._lock:
            self._count += 1
            job = Job(kind, label, self._count)
            self.job = job

        def run() -> None:
            try:
                result = work(job)
                job.raise_if_cancelled()
            except Cancelled as error:
                self._end(job, "cancelled", error={"message": str(error)})
            except BaseException as error:  # reported to the page, never lost
                if job.cancelled:
                    self._end(job, "cancelled", error={"message": f"{label} cancelled"})
                else:
                    self._end(job, "failed", error=on_error(error))
            else:
                self._end(job, "done", result=result)

        threading.Thread(target=run, name=f"eostores-ui-{kind}", daemon=True).start()
        return job

    def _end(self, job: Job, state: str, **outcome: Any) -> None:
        with job._lock:
            job.state = state
            job.ended = time.monotonic()
            if state == "done":
                job.progress = 1.0
            for key, value in outcome.items():
                setattr(job, key, value)
        self.release()

    def cancel(self) -> Job | None:
        """Ask the running job to stop; returns it (None if nothing runs)."""
        job = self.job
        if job is None or job.state != "running":
            return None
        job.cancel()
        return job


class DaskProgress:
    """Counts the dask tasks computed by one thread into a job's progress; cancels them.

    Used as a context manager around the computations of a job, in the job's thread.
    ``start`` and ``end`` map the task count onto a part of the job's progress.
    """

    def __init__(self, job: Job, message: str, start: float = 0.0, end: float = 1.0):
        self.job = job
        self.message = message
        self.start = start
        self.end = end
        self._thread = threading.get_ident()
        self._callback: Any = None

    def __enter__(self) -> DaskProgress:
        from dask.callbacks import Callback

        progress = self

        class _Callback(Callback):
            def _start_state(self, dsk, state):
                if threading.get_ident() != progress._thread:
                    return
                self.total = sum(len(state[k]) for k in ("ready", "waiting", "running"))
                self.total += len(state.get("finished", ()))
                self.done = 0
                progress.job.report(progress.start, progress.message)

            def _pretask(self, key, dsk, state):
                if threading.get_ident() == progress._thread:
                    progress.job.raise_if_cancelled()

            def _posttask(self, key, result, dsk, state, worker_id):
                if threading.get_ident() != progress._thread:
                    return
                self.done += 1
                share = self.done / max(1, self.total)
                progress.job.report(
                    progress.start + (progress.end - progress.start) * share,
                    f"{progress.message}: {self.done} of {self.total} tasks",
                )

        self._callback = _Callback()
        self._callback.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._callback.__exit__(*exc_info)
