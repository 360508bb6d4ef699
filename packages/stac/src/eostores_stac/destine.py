"""DestinE Cache-A asset downloads: bearer token, quota of parallel downloads, local cache.

Cache-A hands out asset files through ``POST .../download?filename=<path>`` and allows each
user only a few downloads at once (2). :class:`DownloadingAccess` downloads an asset the
first time it is read, into a cache directory (atomically, so concurrent readers in threads
or processes share one copy), holding a per-user slot of a process-wide semaphore while it
transfers; readers then open the local copy.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .assets import AssetAccess

__all__ = ["DownloadingAccess", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/eostores-stac-destine`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "eostores-stac-destine"


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


@dataclass(frozen=True, repr=False)
class DownloadingAccess(AssetAccess):
    """Asset access that downloads every asset before it is read (Cache-A)."""

    token: Any = None
    cache_dir: str = ""
    max_parallel_downloads: int = 2

    def __repr__(self) -> str:
        return f"DownloadingAccess(store_id={self.store_id!r}, cache_dir={self.cache_dir!r})"

    def _session(self) -> Any:
        local = _sessions.__dict__
        key = (self.store_id, tuple(sorted(self.http_params.items())))
        session = local.get(key)
        if session is None:
            from eostores.http import BearerAuth, HttpConfig, new_session

            config = HttpConfig.from_params(self.http_params, store_id=self.store_id)
            session = new_session(config, auth=BearerAuth(self.token) if self.token else None)
            local[key] = session
        return session

    def local_path(self, href: str) -> str | None:
        """Download ``href`` unless it is cached; returns the local file or directory."""
        target = self._target(href)
        if target.exists():
            return str(self._content(target))
        parts = urlsplit(href)
        user = hashlib.sha256(self.token.reveal().encode()).hexdigest()[:16] if self.token else ""
        slots = _download_slots(parts.netloc, user, self.max_parallel_downloads)
        import filelock

        target.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(target) + ".lock"):
            if not target.exists():
                with slots:
                    self._download(href, target)
        return str(self._content(target))

    def prefetch(self, hrefs: list[str]) -> None:
        """Download ``hrefs`` in parallel threads; the per-user slots bound the transfers."""
        from concurrent.futures import ThreadPoolExecutor

        missing = [h for h in dict.fromkeys(hrefs) if not self._target(h).exists()]
        if not missing:
            return

        def fetch(href: str) -> None:
            try:
                self.local_path(href)
            except Exception:  # reported again, by error policy, when the asset is opened
                pass

        with ThreadPoolExecutor(max_workers=min(len(missing), 8)) as pool:
            list(pool.map(fetch, missing))

    def _target(self, href: str) -> Path:
        digest = hashlib.sha1(href.encode(), usedforsecurity=False).hexdigest()[:16]
        return Path(self.cache_dir) / digest / _file_name(href)

    @staticmethod
    def _content(target: Path) -> Path:
        """A downloaded archive's single top-level entry (a Zarr directory) or the file."""
        if target.is_dir():
            entries = [p for p in target.iterdir() if not p.name.startswith(".")]
            return entries[0] if len(entries) == 1 else target
        return target

    def _download(self, href: str, target: Path) -> None:
        from eostores.cache import extract_archive

        method = "POST" if urlsplit(href).path.rstrip("/").endswith("/download") else "GET"
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
        response = self._session().request(method, href, stream=True, idempotent=True)
        try:
            with open(partial, "wb") as file:
                for chunk in response.iter_content(1 << 20):
                    file.write(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            response.close()
        is_zip = "zip" in response.headers.get("Content-Type", "") or _is_zip(partial)
        if is_zip:
            try:
                extract_archive(partial, target, remove_archive=True)
            finally:
                partial.unlink(missing_ok=True)
        else:
            os.replace(partial, target)


_sessions = threading.local()


def _file_name(href: str) -> str:
    parts = urlsplit(href)
    filename = parse_qs(parts.query).get("filename", [""])[0] or parts.path
    name = filename.rstrip("/").rsplit("/", 1)[-1] or "asset"
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(4) == b"PK\x03\x04"
