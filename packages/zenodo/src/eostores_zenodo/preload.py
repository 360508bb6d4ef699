"""Preloading record files into the cache store: download, verify, extract, convert.

Each file is one job, run under a lock named after it, so that any number of threads,
processes and store instances sharing a cache download and extract every file once:
whoever comes second finds the job done. A job is done when its marker
(``.downloads/<name>.done.json``) names the record's checksum and its results exist.

Names come from the service: a file key becomes a local name only through
:mod:`eostores.paths` (a clean relative key as it is, anything else as a harmless file
name), and every path is confined to the record's folder of the cache store, so that
nothing is ever written or deleted outside it.

Downloads go through :func:`eostores.cache.download` (atomic, resumable, md5-verified),
archives through :func:`eostores.cache.extract_archive` (escaping entries refused, nested
archives unpacked). Results are moved into place in one rename each, so that no partial
file or folder ever carries a result's name. For a local cache store everything happens
in place below ``<cache root>/<record id>``; other cache stores receive uploads from a
local temporary folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eostores.errors import DataStoreError, ServiceError

from .api import file_error
from .config import STORE_ID

if TYPE_CHECKING:
    from .catalog import RecordFile

__all__ = [
    "DOWNLOADS_FOLDER",
    "PreloadJob",
    "archive_stem",
    "is_unpacked",
    "local_name",
    "result_names",
]

#: Hidden folder of the record's cache folder holding downloads, locks and markers; the
#: cache store does not list hidden entries.
DOWNLOADS_FOLDER = ".downloads"
_ARCHIVE_SUFFIXES = (
    ".tar.gz",
    ".tar.bz2",
    ".tar.xz",
    ".tgz",
    ".tbz2",
    ".txz",
    ".tar",
    ".zip",
)
#: Longest path segment taken over from a key as it is (bytes); longer ones are shortened.
_MAX_SEGMENT_BYTES = 200
_LOCK_POLL_SECONDS = 0.1
_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def local_name(key: str) -> str:
    """The relative path a file key gets in the cache store.

    A key that is already a clean relative path (no ``..``, no absolute path, no
    backslash, NUL, encoded separator, hidden or overlong segment) is kept, folders and
    all; any other key becomes one harmless file name with a hash of the key
    (:func:`eostores.paths.safe_filename`), so that distinct keys stay distinct.
    """
    from eostores.paths import relative_path, safe_filename

    try:
        name = relative_path(key, from_service=True, store_id=STORE_ID)
    except DataStoreError:
        return safe_filename(key)
    segments = name.split("/")
    if (
        name != key
        or any(segment.startswith(".") for segment in segments)
        or any(
            len(segment.encode("utf-8", "surrogatepass")) > _MAX_SEGMENT_BYTES
            for segment in segments
        )
    ):
        return safe_filename(key)
    return name


def _too_long(segment: str) -> bool:
    return len(segment.encode("utf-8", "surrogatepass")) > _MAX_SEGMENT_BYTES


def archive_stem(name: str) -> str:
    """The folder an archive is extracted into: its name without the archive suffix."""
    lowered = name.lower()
    for suffix in _ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            if not stem.endswith("/"):
                return stem
    return name + ".content"


def result_names(files: Iterable[RecordFile]) -> dict[str, str]:
    """The path of each file's result in the cache store, distinct for distinct keys.

    A file's result is its :func:`local_name`, an archive's the folder named after it
    (``collection.zip`` -> ``collection``). Keys whose results would coincide (``a.zip``
    and ``a.tar``, or names differing in case only) get a hash of the key added, so that
    no file's result overwrites another's. Computed from all the record's files, it is
    the same for every store of the record.
    """
    plain: dict[str, str] = {}
    for file in files:
        name = local_name(file.key)
        plain[file.key] = archive_stem(name) if is_unpacked(file) else name
    taken: dict[str, int] = {}
    for result in plain.values():
        taken[result.casefold()] = taken.get(result.casefold(), 0) + 1
    results = {}
    for key, result in plain.items():
        if taken[result.casefold()] > 1:
            digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:10]
            folder, _, base = result.rpartition("/")
            stem, dot, extension = base.partition(".")
            base = f"{stem}-{digest}{dot}{extension}"
            result = f"{folder}/{base}" if folder else base
        results[key] = result
    return results


def is_unpacked(file: RecordFile) -> bool:
    """Whether preloading unpacks the file: archives and zipped Zarrs."""
    fmt = file.format
    return fmt is not None and (fmt.archive or fmt.format_id == "zarr")


@dataclass
class PreloadJob:
    """Preloads files of one record into ``cache_store`` (a filesystem data store)."""

    cache_store: Any
    session_factory: Callable[[], Any]
    record_id: str
    target_format: str | None = None
    cleanup: bool = True
    #: The result path of each key (see :func:`result_names`).
    results: Mapping[str, str] = field(default_factory=dict)

    @property
    def local(self) -> bool:
        return getattr(self.cache_store, "protocol", None) == "file"

    def run(self, task: Any, file: RecordFile) -> list[str]:
        """The preload task of one file; returns the ids it produced in the cache store."""
        result = self.results.get(file.key) or result_names([file])[file.key]
        tag = _safe_tag(file.key)
        with self._job_lock(tag, task):
            if self._is_done(tag, file, result):
                task.report(0.9, "already in the cache")
            elif self.local:
                self._prepare_in_place(task, file, tag, result)
            else:
                self._prepare_and_upload(task, file, tag, result)
            task.raise_if_cancelled()
            produced = self._ids_below(result)
            if self.target_format == "zarr":
                from .convert import convert_to_zarr

                task.report(0.92, "converting to Zarr")
                produced = convert_to_zarr(
                    self.cache_store,
                    produced,
                    remove_sources=self.cleanup,
                    report=lambda message: task.report(None, message),
                )
        task.report(1.0, f"{len(produced)} data id(s) in the cache store")
        return produced

    # -- the local cache store: in place

    @property
    def root(self) -> Path:
        """The record's folder of a local cache store."""
        return Path(os.path.abspath(self.cache_store.root))

    def _confined(self, *parts: str) -> Path:
        from eostores.paths import confine

        return confine(self.root, *parts, from_service=True, store_id=STORE_ID)

    def _prepare_in_place(self, task: Any, file: RecordFile, tag: str, result: str) -> None:
        downloads = self._confined(DOWNLOADS_FOLDER)
        target = self._confined(result)
        archive = self._download(task, file, downloads / tag)
        task.raise_if_cancelled()
        if is_unpacked(file):
            task.report(0.85, "extracting")
            try:
                unpacked = self._extract(archive, downloads / f"{tag}.unpacked", target.name)
            except DataStoreError:
                if self.cleanup:  # a refused archive would be refused again
                    archive.unlink(missing_ok=True)
                raise
            _replace(unpacked, target, downloads / f"{tag}.replaced")
            shutil.rmtree(downloads / f"{tag}.unpacked", ignore_errors=True)
            if self.cleanup:
                archive.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            _replace(archive, target, downloads / f"{tag}.replaced")
        self._mark_done(tag, file, result)

    # -- other cache stores: prepared locally, then uploaded

    def _prepare_and_upload(self, task: Any, file: RecordFile, tag: str, result: str) -> None:
        staging = Path(tempfile.mkdtemp(prefix="eostores-zenodo-"))
        try:
            archive = self._download(task, file, staging / tag)
            task.raise_if_cancelled()
            if is_unpacked(file):
                task.report(0.85, "extracting")
                prepared = self._extract(archive, staging / "unpacked", posixpath.basename(result))
            else:
                prepared = archive
            task.raise_if_cancelled()
            task.report(0.9, "uploading to the cache store")
            self._upload(prepared, result)
            self._mark_done(tag, file, result)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _upload(self, local: Path, name: str) -> None:
        """Copy the prepared file or folder ``local`` to ``name`` in the cache store."""
        store = self.cache_store
        base = posixpath.join(store.root.rstrip("/"), name) if store.root else name
        if store.fs.exists(base):
            store.fs.rm(base, recursive=True)
        files = sorted(p for p in local.rglob("*") if p.is_file()) if local.is_dir() else [local]
        for path in files:
            relative = path.relative_to(local).as_posix() if local.is_dir() else ""
            remote = posixpath.join(base, relative) if relative else base
            parent = posixpath.dirname(remote)
            if parent:
                store.fs.makedirs(parent, exist_ok=True)
            store.fs.put_file(str(path), remote)

    # -- steps

    def _download(self, task: Any, file: RecordFile, target: Path) -> Path:
        from eostores.cache import download

        task.report(0.0, "downloading")
        try:
            return download(
                file.url,
                target,
                session=self.session_factory(),
                expected_size=file.size or None,
                checksum=_checksum(file),
                progress=task.progress_callback(0.0, 0.8, "downloading"),
                cancel=task.cancel_event,
            )
        except DataStoreError as error:
            raise file_error(error, self.record_id, file.key) from None

    @staticmethod
    def _extract(archive: Path, unpacked: Path, name: str) -> Path:
        """Unpack into the fresh folder ``unpacked``; returns the folder to move into place.

        A single top folder named like the result (``scene.tar.gz`` holding ``scene/``) is
        not repeated.
        """
        from eostores.cache import extract_archive

        shutil.rmtree(unpacked, ignore_errors=True)
        extract_archive(archive, unpacked)
        entries = list(unpacked.iterdir())
        if len(entries) == 1 and entries[0].is_dir() and entries[0].name == name:
            return entries[0]
        return unpacked

    def _ids_below(self, name: str) -> list[str]:
        """The data ids the cache store sees at ``name`` or inside it."""
        prefix = name.rstrip("/") + "/"
        return [
            data_id
            for data_id in self.cache_store.get_data_ids()
            if isinstance(data_id, str) and (data_id == name or data_id.startswith(prefix))
        ]

    # -- locks and markers

    def _job_lock(self, tag: str, task: Any) -> Any:
        """The lock of one file's job: a lock file for a local cache store (threads and
        processes), a lock of this process for others."""
        if self.local:
            path = self._confined(DOWNLOADS_FOLDER, f"{tag}.job.lock")
            path.parent.mkdir(parents=True, exist_ok=True)
            return _held(_FileLock(path), task)
        key = f"{getattr(self.cache_store, 'protocol', '')}::{self.cache_store.root}::{tag}"
        with _process_locks_guard:
            lock = _process_locks.setdefault(key, threading.Lock())
        return _held(lock, task)

    def _marker_path(self, tag: str) -> str:
        root = self.cache_store.root.rstrip("/")
        name = f"{DOWNLOADS_FOLDER}/{tag}.done.json"
        return posixpath.join(root, name) if root else name

    def _is_done(self, tag: str, file: RecordFile, result: str) -> bool:
        """Whether an earlier job left ``result`` complete for this version of the file."""
        fs = self.cache_store.fs
        try:
            marker = json.loads(fs.cat_file(self._marker_path(tag)))
        except (OSError, ValueError):
            return False
        if not isinstance(marker, dict):
            return False
        if marker.get("checksum") != file.checksum or marker.get("size") != file.size:
            return False
        if marker.get("result") != result:
            return False
        base = posixpath.join(self.cache_store.root.rstrip("/"), result)
        try:
            if not fs.exists(base):
                return bool(self.target_format) and bool(self._ids_below(result))
            return is_unpacked(file) or fs.size(base) == file.size
        except OSError:
            return False

    def _mark_done(self, tag: str, file: RecordFile, result: str) -> None:
        content = json.dumps(
            {"key": file.key, "checksum": file.checksum, "size": file.size, "result": result}
        ).encode()
        if self.local:
            path = self._confined(DOWNLOADS_FOLDER, f"{tag}.done.json")
            scratch = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
            scratch.write_bytes(content)
            os.replace(scratch, path)
        else:
            self.cache_store.fs.pipe_file(self._marker_path(tag), content)


class _FileLock:
    """A lock file shared by threads and processes, with the acquire of a thread lock."""

    def __init__(self, path: Path):
        import filelock

        self._lock = filelock.FileLock(str(path))

    def acquire(self, timeout: float) -> bool:
        import filelock

        try:
            self._lock.acquire(timeout=timeout)
        except filelock.Timeout:
            return False
        return True

    def release(self) -> None:
        self._lock.release()


@contextlib.contextmanager
def _held(lock: Any, task: Any) -> Iterator[None]:
    """Hold ``lock``, waiting in slices so that a cancelled task stops waiting."""
    while not lock.acquire(timeout=_LOCK_POLL_SECONDS):
        task.raise_if_cancelled()
    try:
        yield
    finally:
        lock.release()


def _safe_tag(key: str) -> str:
    """A harmless file name standing for the key in the downloads folder."""
    from eostores.paths import safe_filename

    return safe_filename(key)


def _checksum(file: RecordFile) -> str | None:
    """The record's checksum if it has a form the download can verify, else None."""
    import re

    text = file.checksum or ""
    if re.fullmatch(r"(md5|sha1|sha256|sha512):[0-9a-fA-F]+", text):
        return text
    if text:
        raise ServiceError(
            f"the record announces an unusable checksum {text!r} for {file.key!r}",
            store_id=STORE_ID,
            data_id=file.key,
        )
    return None


def _replace(source: Path, target: Path, aside: Path) -> None:
    """Move ``source`` to ``target`` in one rename; an older ``target`` is moved to ``aside``
    first and deleted afterwards. All three lie inside the record's cache folder."""
    shutil.rmtree(aside, ignore_errors=True)
    if target.is_dir() and not target.is_symlink():
        os.replace(target, aside)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    shutil.rmtree(aside, ignore_errors=True)
