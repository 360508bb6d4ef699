"""DestinE Cache-A asset downloads: bearer token, quota of parallel downloads, local cache.

Cache-A hands out asset files through ``POST .../download?filename=<path>`` and allows each
user only a few downloads at once (2). :class:`DownloadingAccess` downloads an asset the
first time it is read, with :func:`eostores.cache.download` (atomic, resumable, one
transfer per target across threads and processes), into the store's cache folder; a
downloaded zip (a Zarr directory) is extracted next to it and moved into place at once.
A process-wide semaphore per user and host keeps the parallel transfers within the quota;
transfers of other processes that find the quota used up are answered with 429 and wait
as the service says (Retry-After).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .access import AssetAccess

__all__ = ["DownloadingAccess"]

_slots: dict[tuple[str, str, int], threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _download_slots(host: str, user: str, limit: int) -> threading.BoundedSemaphore:
    """The process-wide semaphore bounding the parallel downloads of one user at one host."""
    key = (host, user, limit)
    with _slots_lock:
        semaphore = _slots.get(key)
        if semaphore is None:
            semaphore = _slots[key] = threading.BoundedSemaphore(limit)
        return semaphore


def _file_name(href: str) -> str:
    """The asset's file name (from ``filename=`` or the path), safe for the cache folder."""
    from eostores.paths import safe_filename

    parts = urlsplit(href)
    filename = parse_qs(parts.query).get("filename", [""])[0] or parts.path
    return safe_filename(filename.rstrip("/").rsplit("/", 1)[-1] or "asset")


@dataclass(frozen=True, repr=False)
class DownloadingAccess(AssetAccess):
    """Asset access that downloads every asset before it is read (Cache-A)."""

    @property
    def cache_dir(self) -> Path:
        if self.settings.cache_dir:
            return Path(self.settings.cache_dir)
        from eostores.cache import default_cache_dir

        return Path(default_cache_dir(self.store_id))

    def _folder(self, href: str) -> Path:
        from eostores.paths import confine

        digest = hashlib.sha256(href.encode()).hexdigest()[:24]
        return confine(self.cache_dir, digest, store_id=self.store_id)

    def local_path(self, href: str) -> str | None:
        """Download ``href`` unless it is cached; returns the local file or directory."""
        from eostores.paths import confine

        folder = self._folder(href)
        name = _file_name(href)
        final = confine(folder, name, store_id=self.store_id)
        if not final.exists():
            self._fetch(href, folder, final)
        return str(_content(final))

    def _fetch(self, href: str, folder: Path, final: Path) -> None:
        import zipfile

        import filelock

        from eostores.cache import download, extract_archive

        folder.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(folder / ".fetch.lock")):
            if final.exists():
                return
            staging = folder / ".download"
            token = self.settings.api_token()
            user = hashlib.sha256(token.reveal().encode()).hexdigest()[:16] if token else ""
            slots = _download_slots(
                urlsplit(href).netloc, user, self.settings.max_parallel_downloads
            )
            # Cache-A serves files to POST .../download requests, which only read
            method = "POST" if urlsplit(href).path.rstrip("/").endswith("/download") else "GET"
            with slots:
                download(href, staging, session=self.session(), method=method)
            if zipfile.is_zipfile(staging):
                extracted = folder / ".extracted"
                shutil.rmtree(extracted, ignore_errors=True)
                extract_archive(staging, extracted, remove_archive=True)
                os.replace(extracted, final)
            else:
                os.replace(staging, final)

    def prefetch(self, hrefs: list[str]) -> None:
        """Download ``hrefs`` in parallel threads; the per-user slots bound the transfers."""
        import contextvars
        from concurrent.futures import ThreadPoolExecutor

        missing = list(dict.fromkeys(hrefs))
        if not missing:
            return

        def fetch(href: str) -> None:
            try:
                self.local_path(href)
            except Exception:  # reported again, by error policy, when the asset is opened
                pass

        contexts = [contextvars.copy_context() for _ in missing]  # the call's deadline
        with ThreadPoolExecutor(max_workers=min(len(missing), 8)) as pool:
            list(pool.map(lambda c, h: c.run(fetch, h), contexts, missing))


def _content(final: Path) -> Path:
    """A downloaded archive's single top-level entry (a Zarr directory) or the file."""
    if final.is_dir():
        entries = [p for p in final.iterdir() if not p.name.startswith(".")]
        return entries[0] if len(entries) == 1 else final
    return final
