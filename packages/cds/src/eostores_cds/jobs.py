"""Running the requests of a plan: submit, poll with backoff, download, resume.

At most ``max_workers`` jobs are in flight at once (the service's per-user limit of
running requests). Each job is polled with a growing interval up to a cap; all of them
share the deadline of the user's call. A submitted job's id is written next to its
future file, so that a run that crashed or timed out resumes polling the same job;
downloads go through :func:`eostores.cache.download` (size-checked, atomic, resumable).
A piece the service refuses as too large is split in two and both halves are fetched.

Whoever fetches a piece holds its lock file from the check for a cached file to the
unpacked download, so that threads, processes and store instances sharing the cache
submit one job per distinct request; the others wait and then find the file.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreError,
    DataStoreTimeoutError,
    InvalidParameterError,
    QuotaExceededError,
    ServiceError,
)

from .api import CdsApi, CostLimitExceeded, LicenceNotAcceptedError, ResultsExpiredError
from .layout import CacheLayout, file_lock
from .plan import piece_key, split_to_limit

__all__ = ["JobRunner", "ProgressReport"]

logger = logging.getLogger("eostores.cds")

#: (message, fraction done) callback.
ProgressReport = Callable[[str, float], None]
_FINAL_FAILURES = ("failed", "rejected", "dismissed", "deleted")


class _Stopped(Exception):
    """Another piece failed; this one gives up quietly."""


def _ticket_refused(error: DataStoreError) -> bool:
    """Whether an error about a ticket's job means that job cannot be resumed, rather
    than a wrong key, a rate limit, a failing service (5xx) or the deadline."""
    if isinstance(error, DataStoreTimeoutError | AuthenticationError | QuotaExceededError):
        return False
    status = getattr(error, "status", None)
    return not (isinstance(status, int) and status >= 500)


class JobRunner:
    """Fetches the files of a list of requests for one dataset."""

    def __init__(
        self,
        api: CdsApi,
        layout: CacheLayout,
        dataset_id: str,
        *,
        data_id: str,
        store_id: str,
        max_workers: int,
        deadline_at: float,
        deadline_s: float,
        poll_interval: float,
        poll_interval_max: float,
        allow_split: bool,
        licences: Sequence[Mapping[str, Any]] = (),
        report: ProgressReport | None = None,
        cancel: threading.Event | None = None,
        prepare: Callable[[Path], Any] | None = None,
        unpack: Callable[[Path], Any] | None = None,
        is_unpacked: Callable[[Path], bool] | None = None,
    ):
        self.api = api
        self.layout = layout
        self.dataset_id = dataset_id
        self.data_id = data_id
        self.store_id = store_id
        self.max_workers = max(1, max_workers)
        self.deadline_at = deadline_at
        self.deadline_s = deadline_s
        self.poll_interval = poll_interval
        self.poll_interval_max = max(poll_interval, poll_interval_max)
        self.allow_split = allow_split
        self.licences = list(licences)
        self._report = report
        self._prepare = prepare
        self._unpack = unpack or (lambda path: None)
        self._is_unpacked = is_unpacked or (lambda path: True)
        self._cancel = cancel or threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._states: dict[int, tuple[str, float]] = {}
        self._first_error: BaseException | None = None

    # -- running

    def run(self, pieces: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Fetch every piece; return the downloaded files in piece order.

        With ``prepare``, each file is passed through it in the worker as soon as it is
        there (so that reading overlaps waiting for other jobs) and its results are
        returned instead.
        """
        self._states = {index: ("waiting", 0.0) for index in range(len(pieces))}
        results: list[list[Any]] = [[] for _ in pieces]
        if not pieces:
            return []
        watcher = threading.Thread(target=self._watch_cancel, daemon=True)
        watcher.start()
        pool = ThreadPoolExecutor(
            max_workers=min(self.max_workers, len(pieces)), thread_name_prefix="eostores-cds-job"
        )
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eostores-cds-read")
        try:
            # Each worker runs in a copy of the caller's context (its call deadline).
            futures = {
                pool.submit(
                    contextvars.copy_context().run, self._guarded, index, dict(piece)
                ): index
                for index, piece in enumerate(pieces)
            }
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done):
                self._stop.set()
            wait(futures)
            if self._first_error is not None:
                raise self._first_error
            if self._cancel.is_set():
                raise DataStoreError("cancelled", store_id=self.store_id, data_id=self.data_id)
            for future, index in futures.items():
                results[index] = [item.result() for item in future.result()]
        finally:
            self._stop.set()
            pool.shutdown(wait=True)
            self._reader.shutdown(wait=True, cancel_futures=True)
        return [item for items in results for item in items]

    def _watch_cancel(self) -> None:
        while not self._stop.is_set():
            if self._cancel.wait(0.1):
                self._stop.set()
                return

    def _guarded(self, index: int, piece: dict[str, Any]) -> list[Any]:
        """Fetch one piece; the first real failure stops the others and is the one raised."""
        try:
            return self._fetch(index, piece)
        except _Stopped:
            raise
        except BaseException as error:
            with self._lock:
                if self._first_error is None and not self._stop.is_set():
                    self._first_error = error
            self._stop.set()
            raise

    def _fetch(self, index: int, piece: dict[str, Any]) -> list[Any]:
        key = piece_key(self.api.endpoint_url, self.dataset_id, piece)
        existing = self.layout.existing_piece(self.dataset_id, key)
        if existing is not None and self._is_unpacked(existing):
            self._set(index, "cached", 1.0)
            return [self._prepared(existing)]
        if self._stop.is_set():
            raise _Stopped()
        with file_lock(
            self.layout.piece_lock(self.dataset_id, key),
            what="a file of this request",
            deadline_at=self.deadline_at,
            cancel=self._stop,
            store_id=self.store_id,
            data_id=self.data_id,
        ):
            existing = self.layout.existing_piece(self.dataset_id, key)
            if existing is not None:  # fetched by another thread, process or store meanwhile
                self._unpack(existing)
                self._set(index, "cached", 1.0)
                return [self._prepared(existing)]
            fetched = self._fetch_locked(index, piece, key)
        if isinstance(fetched, list):
            return fetched
        prepared = self._prepared(fetched)
        self._set(index, "done", 1.0)
        return [prepared]

    def _fetch_locked(
        self, index: int, piece: dict[str, Any], key: str, *, resume: bool = True
    ) -> Path | list[Any]:
        """Submit (or resume), wait, download and unpack one piece; the caller holds its lock.

        A resumed job whose results the service no longer keeps (they expire some time
        after the job) is forgotten and the piece submitted once more.
        """
        remote = self._resume(key) if resume else None
        resumed = remote is not None
        if remote is None:
            try:
                remote = self.api.submit(self.dataset_id, piece)
            except CostLimitExceeded as refusal:
                return self._split(index, piece, refusal)
            except LicenceNotAcceptedError as error:
                raise self._licence_error(error) from None
            self.layout.write_ticket(
                self.dataset_id, key, {"job_id": str(remote.request_id), "submitted": time.time()}
            )
        self._set(index, "accepted", 0.0)
        try:
            self._wait(index, remote, key)
        except _Stopped:
            if self._cancel.is_set():
                self.api.delete(remote)
                self.layout.remove_ticket(self.dataset_id, key)
            raise
        try:
            return self._download(index, remote, key)
        except (ResultsExpiredError, DataNotFoundError) as error:
            if not resumed:
                raise
            logger.info(
                "the results of CDS job %s are gone (%s); submitting the request again",
                remote.request_id,
                error,
            )
            self.layout.remove_ticket(self.dataset_id, key)
            return self._fetch_locked(index, piece, key, resume=False)

    def _download(self, index: int, remote: Any, key: str) -> Path:
        """Download and unpack the file of a successful job, then forget its ticket."""
        result = self.api.result(remote, self.dataset_id)
        target = self.layout.piece_target(self.dataset_id, key, result.content_type, result.url)
        self._set(index, "downloading", 0.0)

        def progress(done: int, total: int | None) -> None:
            self._set(index, "downloading", done / total if total else 0.0)

        path = self.api.download(result, target, progress=progress, cancel=self._stop)
        self._unpack(path)
        self.layout.remove_ticket(self.dataset_id, key)
        return path

    def _prepared(self, path: Path) -> Future[Any]:
        """The file read in the background, so that this worker can take the next piece."""
        return self._reader.submit(
            contextvars.copy_context().run, self._prepare or (lambda p: p), path
        )

    def _resume(self, key: str) -> Any | None:
        """The job of the piece's ticket, if the service still has it for this API key.

        A ticket whose job cannot be resumed (unknown to the service, another
        account's, a malformed id, failed) is removed; a wrong key, a rate limit, a
        failing service (5xx) and the deadline are errors, and the ticket is kept.
        """
        ticket = self.layout.read_ticket(self.dataset_id, key)
        if ticket is None:
            return None
        try:
            remote = self.api.remote(str(ticket["job_id"]), self.dataset_id)
            status = self.api.status(remote, self.dataset_id)
        except DataStoreError as error:
            if not _ticket_refused(error):
                raise
            logger.info("cannot resume CDS job %s: %s", ticket["job_id"], error)
            status, remote = "unusable", None
        if remote is None or status in _FINAL_FAILURES:
            self.layout.remove_ticket(self.dataset_id, key)
            return None
        logger.info("resuming CDS job %s of %s", ticket["job_id"], self.dataset_id)
        return remote

    def _wait(self, index: int, remote: Any, key: str) -> None:
        interval = self.poll_interval
        status = "accepted"
        while True:
            if time.monotonic() >= self.deadline_at:
                raise self._timed_out(remote, status)
            try:
                status = self.api.status(remote, self.dataset_id)
            except DataStoreTimeoutError:
                if time.monotonic() >= self.deadline_at:
                    raise self._timed_out(remote, status) from None
                raise
            if status == "successful":
                return
            if status in ("failed", "rejected"):
                self.layout.remove_ticket(self.dataset_id, key)
                self.api.result(remote, self.dataset_id)  # raises with the service's message
                raise ServiceError(
                    f"the CDS job {remote.request_id} ended as {status}",
                    store_id=self.store_id,
                    data_id=self.data_id,
                )
            if status not in ("accepted", "running"):
                self.layout.remove_ticket(self.dataset_id, key)
                raise ServiceError(
                    f"the CDS job {remote.request_id} ended as {status!r}",
                    store_id=self.store_id,
                    data_id=self.data_id,
                )
            self._set(index, status, 0.0)
            remaining = self.deadline_at - time.monotonic()
            if self._stop.wait(max(0.0, min(interval, remaining))):
                raise _Stopped()
            interval = min(interval * 1.5, self.poll_interval_max)

    def _timed_out(self, remote: Any, status: str) -> DataStoreTimeoutError:
        return DataStoreTimeoutError(
            f"the CDS job {remote.request_id} was still {status} after the call deadline "
            f"of {self.deadline_s:g} s; opening the same request again resumes it "
            "(the store parameter call_deadline sets the limit)",
            store_id=self.store_id,
            data_id=self.data_id,
        )

    def _split(self, index: int, piece: dict[str, Any], refusal: CostLimitExceeded) -> list[Any]:
        if not self.allow_split:
            raise InvalidParameterError(
                f"the CDS refused the request as too large ({refusal.message}); request less "
                "per call (a shorter time_range, fewer variable_names or levels) or set "
                "split_requests=True to let the store split and merge it",
                store_id=self.store_id,
                data_id=self.data_id,
                parameter="time_range",
            )
        try:
            halves = split_to_limit(piece, lambda part: part is not piece)
        except ValueError:
            raise InvalidParameterError(
                f"the CDS refuses even a single field of this request as too large "
                f"({refusal.message})",
                store_id=self.store_id,
                data_id=self.data_id,
            ) from None
        logger.info("the CDS refused a request as too large; splitting it in %d", len(halves))
        paths = []
        for half in halves:
            paths += self._fetch(index, half)
        return paths

    def _licence_error(self, error: LicenceNotAcceptedError) -> LicenceNotAcceptedError:
        names = [
            f"{lic.get('label') or lic.get('id')} ({lic.get('id')}, revision {lic.get('revision')})"
            for lic in self.licences
        ]
        listed = "; ".join(names) if names else "the dataset's licences"
        return LicenceNotAcceptedError(
            f"the API key's account has not accepted {listed}; accept at {error.url} "
            "(logged in with the same account), then retry",
            licences=names,
            url=error.url,
            store_id=self.store_id,
            data_id=self.data_id,
        )

    # -- progress

    def _set(self, index: int, status: str, fraction: float) -> None:
        with self._lock:
            self._states[index] = (status, fraction)
            states = list(self._states.values())
        if self._report is None:
            return
        counts: dict[str, int] = {}
        for state, _ in states:
            counts[state] = counts.get(state, 0) + 1
        done = sum(1.0 if s in ("done", "cached") else f * 0.9 for s, f in states)
        order = ("waiting", "accepted", "running", "downloading", "done", "cached")
        text = ", ".join(f"{counts[s]} {s}" for s in order if s in counts)
        self._report(f"{len(states)} CDS jobs: {text}", done / len(states))
