"""The on-disk layout of the store's cache and the locks that let many users share it.

``<cache_dir>/<endpoint hash>/`` holds ``catalogue/`` (see :mod:`.catalog`),
``pieces/<dataset>/<hash>.<ext>`` (one downloaded file per request, named by the hash
of the request; archives unpacked into ``<hash>.<ext>.d/``), ``pieces/<dataset>/<hash>.job.json``
(the id of a submitted job, so that a crashed run resumes polling it instead of
submitting again) and ``results/<dataset>/<hash>.nc`` (the merged, normalised, subset
result of an open).

Dataset ids come from the service's catalogue, so the folder of a dataset is a safe
file name made from its id, confined below the cache (:mod:`eostores.paths`); every
other name is a hash the store computed. Whoever produces a piece or a result holds
the file lock ``<name>.lock`` meanwhile, so that any number of threads, processes and
store instances on one cache submit one job and write one file per distinct request;
files only ever appear under their final name complete (written aside, then renamed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock

from eostores.errors import DataStoreError, DataStoreTimeoutError
from eostores.paths import confine, safe_filename

__all__ = ["PIECE_SUFFIXES", "CacheLayout", "file_lock", "write_json_atomically"]

PIECE_SUFFIXES = (".nc", ".zip", ".tar.gz", ".grib")
#: How often a waiting lock looks at its cancel event and deadline (s).
_LOCK_SLICE = 0.05


class CacheLayout:
    """Paths of one endpoint's cache, all confined below ``cache_dir``."""

    def __init__(self, cache_dir: Path, endpoint_url: str, *, store_id: str):
        digest = hashlib.sha256(endpoint_url.encode("utf-8")).hexdigest()[:12]
        self.store_id = store_id
        self.root = Path(cache_dir) / digest
        self.catalogue = self.root / "catalogue"
        self.pieces = self.root / "pieces"
        self.results = self.root / "results"

    def dataset_folder(self, base: Path, dataset_id: str) -> Path:
        """The folder of a dataset below ``base``: a safe name, never outside the cache."""
        return confine(
            base,
            safe_filename(dataset_id),
            from_service=True,
            store_id=self.store_id,
            data_id=dataset_id,
        )

    # -- results

    def result_path(self, dataset_id: str, key: str) -> Path:
        return self.dataset_folder(self.results, dataset_id) / f"{key}.nc"

    # -- pieces

    def piece_base(self, dataset_id: str, key: str) -> Path:
        return self.dataset_folder(self.pieces, dataset_id) / key

    def existing_piece(self, dataset_id: str, key: str) -> Path | None:
        """The downloaded file of a piece, if there is one (complete, as only those exist)."""
        base = self.piece_base(dataset_id, key)
        for suffix in PIECE_SUFFIXES:
            path = base.with_name(base.name + suffix)
            if path.is_file():
                return path
        return None

    def piece_target(self, dataset_id: str, key: str, content_type: str, url: str) -> Path:
        """Where a piece goes: the request's hash, with a suffix chosen from a fixed set."""
        base = self.piece_base(dataset_id, key)
        text = f"{content_type} {url}".lower()
        if "zip" in text:
            suffix = ".zip"
        elif "tar" in text or "gzip" in text or url.lower().endswith(".tgz"):
            suffix = ".tar.gz"
        elif "grib" in text:
            suffix = ".grib"
        else:
            suffix = ".nc"
        return base.with_name(base.name + suffix)

    def piece_lock(self, dataset_id: str, key: str) -> Path:
        base = self.piece_base(dataset_id, key)
        return base.with_name(base.name + ".lock")

    # -- job tickets

    def ticket_path(self, dataset_id: str, key: str) -> Path:
        base = self.piece_base(dataset_id, key)
        return base.with_name(base.name + ".job.json")

    def read_ticket(self, dataset_id: str, key: str) -> dict[str, Any] | None:
        try:
            with open(self.ticket_path(dataset_id, key), encoding="utf-8") as file:
                ticket = json.load(file)
        except (OSError, ValueError):
            return None
        if isinstance(ticket, dict) and isinstance(ticket.get("job_id"), str):
            return ticket
        return None

    def write_ticket(self, dataset_id: str, key: str, ticket: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # without a ticket a crashed run submits again
            write_json_atomically(self.ticket_path(dataset_id, key), ticket)

    def remove_ticket(self, dataset_id: str, key: str) -> None:
        with contextlib.suppress(OSError):
            self.ticket_path(dataset_id, key).unlink(missing_ok=True)


@contextlib.contextmanager
def file_lock(
    path: Path,
    *,
    what: str,
    deadline_at: float | None = None,
    cancel: threading.Event | None = None,
    store_id: str | None = None,
    data_id: str | None = None,
) -> Iterator[None]:
    """Hold the inter-process lock file ``path`` (kept in place), waiting in slices.

    Waiting ends with :class:`DataStoreTimeoutError` at ``deadline_at`` (a
    ``time.monotonic()`` value) and with :class:`DataStoreError` when ``cancel`` is set.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataStoreError(
            f"cannot create the cache folder {str(path.parent)!r}: {error.strerror}",
            store_id=store_id,
            data_id=data_id,
        ) from None
    lock = filelock.FileLock(str(path), thread_local=False)
    while True:
        if cancel is not None and cancel.is_set():
            raise DataStoreError(f"cancelled while waiting for {what}", store_id=store_id)
        if deadline_at is not None and time.monotonic() >= deadline_at:
            raise DataStoreTimeoutError(
                f"the deadline passed while another user of the cache was producing {what}; "
                "the next call finds it (call_deadline sets the limit)",
                store_id=store_id,
                data_id=data_id,
            )
        try:
            lock.acquire(timeout=_LOCK_SLICE)
            break
        except filelock.Timeout:
            continue
        except OSError as error:
            raise DataStoreError(
                f"cannot lock {str(path)!r}: {error.strerror}", store_id=store_id, data_id=data_id
            ) from None
    try:
        yield
    finally:
        lock.release()


def write_json_atomically(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to a sibling temporary file renamed to ``path``, so that
    readers never see half a file; OSError if that fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
