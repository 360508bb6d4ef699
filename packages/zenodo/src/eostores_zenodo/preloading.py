"""Preloading record files into the cache store: download, verify, extract, convert.

Downloads go through :func:`eostores.cache.download` (atomic, resumable with HTTP ranges,
verified against the record's md5). Archives are unpacked with
:func:`eostores.cache.extract_archive` (entries escaping the target refused, nested
archives unpacked too) into a folder named after the archive. For a local cache store
everything happens in place (``<cache root>/<record id>/.downloads`` holds the archives
while they are needed); for other cache stores the files are prepared in a local
temporary directory and uploaded.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eostores.errors import DataStoreError

from .catalog import RecordFile

__all__ = ["PreloadJob", "archive_stem", "is_unpacked"]

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


def archive_stem(key: str) -> str:
    """The folder an archive is extracted into: its name without the archive suffix."""
    lowered = key.lower()
    for suffix in _ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key + ".content"


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

    @property
    def local(self) -> bool:
        return getattr(self.cache_store, "protocol", None) == "file"

    def run(self, task: Any, file: RecordFile) -> list[str]:
        """The preload task of one file; returns the ids it produced in the cache store."""
        unpack = is_unpacked(file)
        if self.local:
            root = Path(self.cache_store.root)
            staging = root / DOWNLOADS_FOLDER
            produced_root = root
        else:
            staging = Path(tempfile.mkdtemp(prefix="eostores-zenodo-"))
            produced_root = staging / "content"
            task.add_temporary(staging)
        name = archive_stem(file.key) if unpack else file.key
        target = produced_root / name
        if not unpack and self._is_complete(target, file):
            task.report(0.9, "already in the cache")
        else:
            downloaded = self._download(task, file, staging)
            task.raise_if_cancelled()
            if unpack:
                task.report(0.85, "extracting")
                self._extract(downloaded, target, staging, task)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(downloaded, target)
        task.raise_if_cancelled()
        if not self.local:
            task.report(0.9, "uploading to the cache store")
            self._upload(target, name)
        produced = self._ids_below(name)
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

    @staticmethod
    def _extract(archive: Path, target: Path, staging: Path, task: Any) -> None:
        """Unpack into ``target``, replacing earlier content; a single top folder named
        like the archive (``scene.tar.gz`` holding ``scene/``) is not repeated."""
        from eostores.cache import extract_archive

        unpacked = staging / f"{archive.name}.unpacked"
        task.add_temporary(unpacked)
        shutil.rmtree(unpacked, ignore_errors=True)
        extract_archive(archive, unpacked)
        entries = list(unpacked.iterdir())
        source = unpacked
        if len(entries) == 1 and entries[0].is_dir() and entries[0].name == target.name:
            source = entries[0]
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    # -- steps

    def _download(self, task: Any, file: RecordFile, staging: Path) -> Path:
        from eostores.cache import download

        from .api import file_error

        staging.mkdir(parents=True, exist_ok=True)
        target = staging / file.key
        task.add_temporary(target.with_name(target.name + ".lock"))
        if is_unpacked(file):
            task.add_temporary(target)
        task.report(0.0, "downloading")
        try:
            return download(
                file.url,
                target,
                session=self.session_factory(),
                expected_size=file.size or None,
                checksum=file.checksum,
                progress=task.progress_callback(0.0, 0.8, "downloading"),
                cancel=task.cancel_event,
            )
        except DataStoreError as error:
            raise file_error(error, self.record_id, file.key) from None

    @staticmethod
    def _is_complete(target: Path, file: RecordFile) -> bool:
        from eostores.cache import checksum_of

        if not target.is_file() or (file.size and target.stat().st_size != file.size):
            return False
        algorithm, _, digest = (file.checksum or "").partition(":")
        if not digest:
            return True
        return checksum_of(target, algorithm) == digest.lower()

    def _upload(self, local: Path, name: str) -> None:
        """Copy the prepared file or folder ``local`` to ``name`` in the cache store."""
        store = self.cache_store
        base = posixpath.join(store.root.rstrip("/"), name) if store.root else name
        files = sorted(p for p in local.rglob("*") if p.is_file()) if local.is_dir() else [local]
        for path in files:
            relative = path.relative_to(local).as_posix() if local.is_dir() else ""
            remote = posixpath.join(base, relative) if relative else base
            parent = posixpath.dirname(remote)
            if parent:
                store.fs.makedirs(parent, exist_ok=True)
            store.fs.put_file(str(path), remote)

    def _ids_below(self, name: str) -> list[str]:
        """The data ids the cache store sees at ``name`` or inside it."""
        prefix = name.rstrip("/") + "/"
        return [
            data_id
            for data_id in self.cache_store.get_data_ids()
            if isinstance(data_id, str) and (data_id == name or data_id.startswith(prefix))
        ]
