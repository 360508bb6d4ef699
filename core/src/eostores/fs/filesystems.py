"""fsspec filesystem subclasses that fix what the stores need, built on first use.

Importing this module imports no filesystem implementation; each class is built when it is
first looked up, and found by name again when filesystems are unpickled.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

_HTTP_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_HTTP_RETRIES = 5
_HTTP_MAX_WAIT_S = 10.0


async def retry_transient_http(request: Any, handler: Any) -> Any:
    """aiohttp client middleware: retry GET and HEAD on transient statuses and lost connections.

    Waits ``Retry-After`` (capped) when the server sends it, else an exponential backoff
    with jitter; the last answer is returned as it is.
    """
    import asyncio
    import random

    import aiohttp

    from ..http import parse_retry_after

    attempt = 0
    while True:
        last = attempt >= _HTTP_RETRIES or request.method not in ("GET", "HEAD")
        backoff = random.uniform(0, 0.05 * 2**attempt)
        attempt += 1
        try:
            response = await handler(request)
        except aiohttp.ClientConnectionError:
            if last:
                raise
            await asyncio.sleep(backoff)
            continue
        if last or response.status not in _HTTP_RETRY_STATUSES:
            return response
        wait = parse_retry_after(response.headers.get("Retry-After"))
        wait = None if wait is None else min(wait, _HTTP_MAX_WAIT_S)
        response.release()
        await asyncio.sleep(backoff if wait is None else wait)


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


def _http_filesystem_class() -> type:
    from fsspec.implementations.http import HTTPFileSystem

    class RetryingHTTPFileSystem(HTTPFileSystem):
        """HTTP whose sessions retry transient failures (see ``retry_transient_http``).

        The middleware is added here rather than passed in ``client_kwargs``, so that the
        filesystem's options stay JSON-serialisable (zarr re-creates it from JSON).
        """

        def __init__(self, *args: Any, client_kwargs: dict | None = None, **kwargs: Any):
            client_kwargs = dict(client_kwargs or {})
            client_kwargs["middlewares"] = (
                retry_transient_http,
                *client_kwargs.get("middlewares", ()),
            )
            super().__init__(*args, client_kwargs=client_kwargs, **kwargs)

    return RetryingHTTPFileSystem


_FILESYSTEM_CLASSES = {
    "HTTPFileSystem": _http_filesystem_class,
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
