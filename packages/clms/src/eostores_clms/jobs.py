"""Preloading one data id: reuse or request a task, wait for it, download, unpack, convert.

Per data id, under a file lock shared by every thread and process using the same cache:

1. if the Zarr is in the cache store already, nothing else happens;
2. a task of the user for the same file is reused when it is ``Finished_ok``, younger than
   ``link_ttl`` by the service's ``FinalizationDateTime`` and its link still answers, or
   when it is still queued (for less than ``stale_task_age``) or in progress; a task queued
   longer is cancelled; otherwise a new data request is posted. A request the service
   refuses as a duplicate joins the pending task it lists; one it answers with a server
   error leaves a task queued for good, which is cancelled;
3. the task is polled with growing intervals until it finishes; ``Finished_nok``,
   ``Rejected`` and ``Cancelled`` end the id with the service's message, and the id's
   ``request_deadline`` bounds the whole wait;
4. the result is downloaded through :func:`eostores.cache.download` (atomic, resumable,
   checked against the length the download announces); a link that fails although the
   task finished leads to one new request;
5. the archive and the archive inside it are unpacked with
   :func:`eostores.cache.extract_archive` (entries escaping the folder refused), the
   GeoTIFF tiles or NetCDF files become one dataset, written to the cache store as Zarr.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock

from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreError,
    DataStoreTimeoutError,
    ServiceError,
    context,
)
from eostores.http import call_deadline
from eostores.paths import confine, safe_filename

from .api import ClmsApi, DuplicateRequestError, Task
from .catalog import Entry
from .config import (
    DEFAULT_STALE_TASK_AGE,
    FINISHED_OK,
    PENDING_STATUSES,
    QUEUED,
    STORE_ID,
    TERMINAL_FAILURES,
)
from .convert import open_result, result_files

__all__ = ["PreloadJob", "PreloadSettings", "cache_data_id"]

logger = logging.getLogger("eostores.clms")

_LOCK_SLICE_S = 0.2
_MAX_INTERVAL_FACTOR = 4.0
_DELETE_DEADLINE_S = 30.0
_GRACE_S = 2.0
_ARCHIVE = "result.zip"
_EXTRACTED = "extracted"
_STATUS_PROGRESS = {"Queued": 0.1, "In_progress": 0.25}


@dataclass(frozen=True)
class PreloadSettings:
    """How long to wait and poll, which links to trust, whether to tidy up."""

    request_deadline: float
    poll_interval: float
    link_ttl: float
    stale_task_age: float = DEFAULT_STALE_TASK_AGE
    cleanup: bool = True


def cache_data_id(entry: Entry) -> str:
    """The id of ``entry``'s Zarr in the cache store: ``<dataset>/<file>.zarr``, each part
    made a safe file name (names come from the service)."""
    assert entry.file is not None
    return f"{safe_filename(entry.product.id)}/{safe_filename(entry.file.name)}.zarr"


class _LinkFailed(Exception):
    def __init__(self, error: DataStoreError):
        super().__init__(str(error))
        self.error = error


class _Clock:
    """The deadline of one data id."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.started = time.monotonic()
        self.ends = self.started + seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def check(self, what: str) -> None:
        if self.remaining() <= 0:
            raise DataStoreTimeoutError(
                f"{what}; gave up after {self.elapsed():.1f} s (request_deadline "
                f"{self.seconds:g} s)",
                store_id=STORE_ID,
            )


class PreloadJob:
    """Preloads one catalogue entry into ``cache_store``; ``work_dir`` is a local folder
    for downloads and locks that every user of the same cache shares."""

    def __init__(
        self,
        api: ClmsApi,
        cache_store: Any,
        work_dir: Path,
        settings: PreloadSettings,
        entry: Entry,
    ):
        if not entry.preloadable:
            raise ValueError(f"{entry.data_id!r} cannot be preloaded")
        self.api = api
        self.cache_store = cache_store
        self.settings = settings
        self.entry = entry
        self.cache_id = cache_data_id(entry)
        name = safe_filename(entry.data_id)
        self.staging = confine(work_dir, "downloads", name, from_service=True, store_id=STORE_ID)
        self.lock_path = confine(
            work_dir, "locks", f"{name}.lock", from_service=True, store_id=STORE_ID
        )

    # -- the task function -------------------------------------------------------------------

    def run(self, task: Any) -> list[str]:
        """The preload task of :class:`eostores.preload.PreloadHandle`."""
        clock = _Clock(self.settings.request_deadline)
        # Every request inside is bounded too; the grace lets the loops below report the
        # deadline themselves, with what they were waiting for.
        with (
            context(STORE_ID, self.entry.data_id),
            call_deadline(self.settings.request_deadline + _GRACE_S),
        ):
            return self._run(task, clock)

    def _cached(self) -> bool:
        return bool(self.cache_store.has_data(self.cache_id))

    def _run(self, task: Any, clock: _Clock) -> list[str]:
        if self._cached():
            task.report(1.0, f"already in the cache store as {self.cache_id}")
            return [self.cache_id]
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.lock_path))
        self._acquire(lock, task, clock)
        try:
            if self._cached():
                task.report(1.0, f"preloaded meanwhile by another preload into {self.cache_id}")
                return [self.cache_id]
            succeeded = False
            try:
                archive = self._obtain_archive(task, clock)
                task.raise_if_cancelled()
                self._convert(task, archive)
                succeeded = True
            finally:
                self._tidy(succeeded)
        finally:
            lock.release()
        task.report(1.0, f"preloaded into the cache store as {self.cache_id}")
        return [self.cache_id]

    def _acquire(self, lock: filelock.FileLock, task: Any, clock: _Clock) -> None:
        waiting = False
        while True:
            task.raise_if_cancelled()
            clock.check("another preload of this data id is still running")
            try:
                lock.acquire(timeout=min(_LOCK_SLICE_S, max(clock.remaining(), 0.01)))
                return
            except filelock.Timeout:
                if not waiting:
                    task.report(0.0, "waiting for another preload of this data id")
                    waiting = True

    # -- data request ------------------------------------------------------------------------

    def _obtain_archive(self, task: Any, clock: _Clock) -> Path:
        task.report(0.02, "looking for an earlier request of this file")
        mine = self._matching(self.api.tasks())
        known = {t.task_id for t in mine}
        state = self._reusable_task(task, mine)
        if state is None or state.status != FINISHED_OK:
            task_id = state.task_id if state is not None else self._submit(task, known)
            state = self._await(task, task_id, clock)
        try:
            return self._download(task, state)
        except _LinkFailed as failure:
            task.report(
                0.05,
                f"the link of task {state.task_id} failed although the task finished "
                f"({failure.error.message}); requesting the file again",
            )
            logger.warning(
                "%s: link of finished task %s failed; one new request",
                self.entry.data_id,
                state.task_id,
            )
        state = self._await(task, self._submit(task, known), clock)
        try:
            return self._download(task, state)
        except _LinkFailed as failure:
            raise ServiceError(
                f"the download link of task {state.task_id} failed right after the task "
                f"finished, for the second time: {failure.error.message}",
                store_id=STORE_ID,
            ) from None

    def _matching(self, tasks: dict[str, Task]) -> list[Task]:
        product, file = self.entry.product, self.entry.file
        assert file is not None
        return [
            t for t in tasks.values() if t.dataset_id == product.uid and t.file_id == file.file_id
        ]

    def _stale(self, candidate: Task) -> bool:
        """Whether ``candidate`` has been ``Queued`` longer than ``stale_task_age``."""
        waited = candidate.waited()
        return (
            candidate.status == QUEUED
            and waited is not None
            and waited > self.settings.stale_task_age
        )

    def _reusable_task(self, task: Any, mine: list[Task]) -> Task | None:
        """A finished task with a trusted, answering link, else a pending one that is not
        stale (stale ones are cancelled), else None."""
        finished = [
            t
            for t in mine
            if t.status == FINISHED_OK
            and t.download_url
            and (age := t.age()) is not None
            and age < self.settings.link_ttl
        ]
        for candidate in sorted(finished, key=lambda t: t.age() or 0.0):
            if self.api.link_answers(candidate.download_url or ""):
                task.report(0.4, f"reusing finished task {candidate.task_id}")
                return candidate
            logger.info("finished task %s: its link no longer answers", candidate.task_id)
        pending = [t for t in mine if t.status in PENDING_STATUSES]
        stale = [t for t in pending if self._stale(t)]
        for lost in stale:
            task.report(
                0.03,
                f"task {lost.task_id} has been Queued for {lost.waited():.0f} s "
                f"(stale_task_age {self.settings.stale_task_age:g} s); cancelling it",
            )
            self._delete(lost.task_id)
        live = [t for t in pending if t not in stale]
        if live:
            newest = _newest(live)
            task.report(0.1, f"joining task {newest.task_id} ({newest.status})")
            return newest
        return None

    def _submit(self, task: Any, known: set[str]) -> str:
        """Post a data request; ``known`` are the ids of the file's tasks listed before."""
        product, file = self.entry.product, self.entry.file
        assert file is not None
        task.raise_if_cancelled()
        task.report(0.05, "requesting the file from the CLMS download service")
        try:
            task_id = self.api.submit(product.uid, file.file_id)
        except ServiceError as error:
            joined = self._join_after(error, known)
            if joined is None:
                raise
            task_id = joined
        task.report(0.1, f"task {task_id} requested")
        return task_id

    def _join_after(self, error: ServiceError, known: set[str]) -> str | None:
        """The pending task of the file to join after a request failed with ``error``.

        A refusal as a duplicate says the service has one; a connection broken after the
        request was sent may have left one (asking twice would queue the file twice).
        """
        if isinstance(error, DuplicateRequestError) or error.status is None:
            pending = [t for t in self._matching(self.api.tasks()) if t.status in PENDING_STATUSES]
            return _newest(pending).task_id if pending else None
        if error.status >= 500:
            self._cancel_orphans(known)
        return None

    def _cancel_orphans(self, known: set[str]) -> None:
        """Cancel the file's queued tasks that appeared since ``known`` was listed: the
        service registers a task before handing it to its processing back end, and when
        that fails, answers with a server error and keeps the task Queued for good."""
        for orphan in self._matching(self.api.tasks()):
            if orphan.task_id not in known and orphan.status == QUEUED:
                self._delete(orphan.task_id)

    def _await(self, task: Any, task_id: str, clock: _Clock) -> Task:
        """Poll ``task_id`` until it finished; raise on failure, deadline or cancellation."""
        interval = self.settings.poll_interval
        ceiling = interval * _MAX_INTERVAL_FACTOR
        state: Task | None = None
        while True:
            if state is not None and clock.remaining() <= 0:
                raise DataStoreTimeoutError(
                    f"task {task_id} is still {state.status} after {clock.elapsed():.1f} s "
                    f"(request_deadline {clock.seconds:g} s); it stays at the service, and a "
                    "later preload_data joins it",
                    store_id=STORE_ID,
                )
            state = self.api.task(task_id)
            if state.status == FINISHED_OK:
                if not state.download_url:
                    raise ServiceError(
                        f"task {task_id} finished without a download link", store_id=STORE_ID
                    )
                return state
            if state.status in TERMINAL_FAILURES:
                raise ServiceError(
                    f"the CLMS service ended task {task_id} with status {state.status}: "
                    f"{state.message or 'the service gave no reason'}",
                    store_id=STORE_ID,
                )
            if state.status not in PENDING_STATUSES:
                logger.warning("task %s has the unknown status %r", task_id, state.status)
            task.report(
                _STATUS_PROGRESS.get(state.status, 0.2),
                f"task {task_id}: {state.status} ({clock.elapsed():.0f} s)",
            )
            if task.cancel_event.wait(max(0.0, min(interval, clock.remaining()))):
                self._cancel_remote(task, task_id)
                task.raise_if_cancelled()
            interval = min(interval * 1.5, ceiling)

    def _cancel_remote(self, task: Any, task_id: str) -> None:
        """Ask the service to cancel; the local cancellation holds whatever it answers."""
        error = self._delete(task_id)
        if error is not None:
            task.report(None, f"cancelled here; the service kept task {task_id}: {error}")
        else:
            task.report(None, f"cancelled task {task_id} at the service")

    def _delete(self, task_id: str) -> DataStoreError | None:
        """Ask the service to cancel ``task_id``; its refusal is logged and returned."""
        try:
            with call_deadline(_DELETE_DEADLINE_S):
                self.api.delete(task_id)
        except DataStoreError as error:
            logger.warning("the service did not cancel task %s: %s", task_id, error)
            return error
        logger.info("cancelled task %s at the service", task_id)
        return None

    # -- download and conversion -------------------------------------------------------------

    def _download(self, task: Any, state: Task) -> Path:
        assert state.download_url is not None
        self.staging.mkdir(parents=True, exist_ok=True)
        try:
            return self.api.download(
                state.download_url,
                self.staging / _ARCHIVE,
                reported_size=state.file_size,
                progress=task.progress_callback(0.4, 0.8, f"downloading task {state.task_id}"),
                cancel=task.cancel_event,
            )
        except (DataNotFoundError, AuthenticationError) as error:
            raise _LinkFailed(error) from None

    def _convert(self, task: Any, archive: Path) -> None:
        from eostores.cache import extract_archive

        task.report(0.8, "unpacking the result")
        extracted = self.staging / _EXTRACTED
        shutil.rmtree(extracted, ignore_errors=True)
        extract_archive(archive, extracted)
        task.raise_if_cancelled()
        product = self.entry.product
        start = product.time_range[0] if product.time_range else None
        end = product.time_range[1] if product.time_range else None
        attrs = {
            "title": product.title,
            "source": "Copernicus Land Monitoring Service",
            "clms_data_id": self.entry.data_id,
        }
        if product.url:
            attrs["references"] = product.url
        if start:
            attrs["time_coverage_start"] = start
        if end:
            attrs["time_coverage_end"] = end
        dataset = open_result(
            result_files(extracted),
            data_id=self.entry.data_id,
            reference_time=start,
            attrs=attrs,
        )
        task.report(0.9, f"writing {self.cache_id}")
        try:
            self.cache_store.write_data(dataset, self.cache_id, replace=True)
        finally:
            dataset.close()

    def _tidy(self, succeeded: bool) -> None:
        """Remove what the next preload does not need; keep interrupted downloads."""
        if succeeded and self.settings.cleanup:
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        shutil.rmtree(self.staging / _EXTRACTED, ignore_errors=True)
        if self.settings.cleanup:
            (self.staging / _ARCHIVE).unlink(missing_ok=True)


def _newest(tasks: list[Task]) -> Task:
    """The task the service registered last."""
    return max(tasks, key=lambda t: t.registered.timestamp() if t.registered else 0)
