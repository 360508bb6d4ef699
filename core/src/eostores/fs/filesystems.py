"""fsspec filesystem subclasses that fix what the stores need, built on first use.

Importing this module imports no filesystem implementation; each class is built when it is
first looked up, and found by name again when filesystems are unpickled.
"""

from __future__ import annotations

import contextlib
import html
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem


def _move_tree(fs: AbstractFileSystem, source: str, target: str) -> None:
    """Move a directory on an object store: copy object by object, then delete the source.

    Object stores have no directory rename, and s3fs and adlfs fail copying recursively
    because they also try to copy the (inferred) directories.
    """
    files = fs.find(source)
    if not files:
        raise FileNotFoundError(source)
    prefix = fs._strip_protocol(source).rstrip("/")
    destination = fs._strip_protocol(target).rstrip("/")
    fs.copy(files, [destination + name[len(prefix) :] for name in files], on_error="raise")
    fs.rm(files)
    fs.invalidate_cache()


def _object_store_class(base: type) -> type:
    class ObjectStoreFileSystem(base):
        def mv(
            self,
            path1: str,
            path2: str,
            recursive: bool = False,
            maxdepth: Any = None,
            **kwargs: Any,
        ) -> None:
            # A listing cached before path1 was written (e.g. by another instance of the
            # filesystem, as zarr uses) would not show it as a directory.
            self.invalidate_cache(path1)
            if recursive and self.isdir(path1):
                _move_tree(self, path1, path2)
            else:
                super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)

    return ObjectStoreFileSystem


def _s3_filesystem_class() -> type:
    from s3fs import S3FileSystem

    return _object_store_class(S3FileSystem)


def _abfs_filesystem_class() -> type:
    from adlfs import AzureBlobFileSystem

    class AbfsFileSystem(_object_store_class(AzureBlobFileSystem)):
        def invalidate_cache(self, path: str | None = None) -> None:
            # After a write adlfs invalidates the parent path without its container,
            # which matches no cached listing, so zarr would consolidate stale listings:
            # forget all listings instead.
            super().invalidate_cache(None)

    return AbfsFileSystem


def _ftp_filesystem_class() -> type:
    import ftplib
    import threading

    from fsspec.implementations.ftp import FTPFileSystem

    class ThreadSafeFTPFileSystem(FTPFileSystem):
        """FTP with one connection per thread, creating parent directories on writes.

        An FTP control connection serves one command at a time, but zarr and dask read
        and write from several threads; zarr writes keys below directories that do not
        exist yet, and expects FileNotFoundError when it deletes a missing key.
        """

        def __init__(self, *args: Any, **kwargs: Any):
            self._connections = threading.local()
            self._mkdir_lock = threading.Lock()
            super().__init__(*args, **kwargs)

        @property
        def ftp(self) -> Any:
            if getattr(self._connections, "ftp", None) is None:
                self._connect()
            return self._connections.ftp

        @ftp.setter
        def ftp(self, connection: Any) -> None:
            self._connections.ftp = connection

        def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            directory = self._parent(self._strip_protocol(path))
            if "r" not in mode and directory not in ("", "/"):
                with self._mkdir_lock:
                    try:
                        self.makedirs(directory, exist_ok=True)
                    except ftplib.error_perm:
                        self.invalidate_cache()
                        if not self.isdir(directory):
                            raise
            return super()._open(path, mode, **kwargs)

        def rm(self, path: Any, recursive: bool = False, maxdepth: Any = None) -> None:
            try:
                super().rm(path, recursive=recursive, maxdepth=maxdepth)
            except ftplib.error_perm:
                self.invalidate_cache()
                if isinstance(path, str) and not self.exists(path):
                    raise FileNotFoundError(path) from None
                raise

        def __del__(self) -> None:
            connection = getattr(getattr(self, "_connections", None), "ftp", None)
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.close()

    return ThreadSafeFTPFileSystem


_LINK = re.compile(r"""<a\s[^>]*?href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def _https_filesystem_class() -> type:
    from ..errors import DataNotFoundError
    from ..rangefs import RangeFileSystem

    class HttpsFileSystem(RangeFileSystem):
        """Range reads through an eostores.http session, plus listings of index pages.

        A folder is a URL whose ``<url>/`` answers with an HTML page; its entries are the
        page's links to the folder's direct children (``<a href="name/">`` for folders).
        Existence is probed strictly: 401 and 403 are errors, not absence.
        """

        def __reduce__(self) -> tuple[Any, ...]:
            _, arguments = super().__reduce__()[:2]
            return rebuild_https_filesystem, arguments

        def _page(self, url: str) -> Any:
            try:
                return self.session.get(url.rstrip("/") + "/")
            except DataNotFoundError:
                raise FileNotFoundError(url) from None

        def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
            base = self._strip_protocol(path) + "/"
            entries: dict[str, dict[str, Any]] = {}
            for href in _LINK.findall(self._page(base).text):
                target = urljoin(base, html.unescape(href)).partition("#")[0]
                if "?" in target or not target.startswith(base):
                    continue
                rest = target[len(base) :]
                name = rest.rstrip("/")
                if not name or "/" in name:
                    continue  # the folder itself, its parent, or deeper
                kind = "directory" if rest.endswith("/") else "file"
                entries[base + name] = {"name": base + name, "type": kind, "size": None}
            listed = sorted(entries.values(), key=lambda e: e["name"])
            return listed if detail else [e["name"] for e in listed]

        def isdir(self, path: str) -> bool:
            url = self._strip_protocol(path) + "/"
            try:
                answer = self.session.head(url, allow_redirects=True)
            except DataNotFoundError:
                return False
            return answer.headers.get("Content-Type", "").startswith("text/html")

        def exists(self, path: str, **kwargs: Any) -> bool:
            try:
                self.info(path)
            except FileNotFoundError:
                return False
            return True

    return HttpsFileSystem


class NoAuth:
    """Sends no credentials, and keeps requests from reading .netrc by itself."""

    def __call__(self, request: Any) -> Any:
        return request

    def __repr__(self) -> str:
        return "NoAuth()"


def rebuild_https_filesystem(
    config: Any, auth: Any, headers: dict[str, Any], block_size: int
) -> AbstractFileSystem:
    """The HttpsFileSystem of a pickle: a new session with the same settings."""
    from ..http import new_session

    cls = __getattr__("HttpsFileSystem")
    return cls(new_session(config, auth=auth, headers=headers), block_size)


_FILESYSTEM_CLASSES = {
    "HttpsFileSystem": _https_filesystem_class,
    "S3FileSystem": _s3_filesystem_class,
    "AzureBlobFileSystem": _abfs_filesystem_class,
    "FTPFileSystem": _ftp_filesystem_class,
}


def __getattr__(name: str) -> Any:
    # Module attribute access builds the filesystem subclasses lazily; they are found by
    # name again when filesystems (and the datasets using them) are unpickled.
    build = _FILESYSTEM_CLASSES.get(name)
    if build is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    cls = build()
    cls.__name__ = cls.__qualname__ = name
    cls.__module__ = __name__
    globals()[name] = cls
    return cls
