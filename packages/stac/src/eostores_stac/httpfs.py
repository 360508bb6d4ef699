"""A read-only fsspec filesystem for https assets that uses the eostores HTTP session.

Zarr and NetCDF assets are read with byte-range requests through :func:`eostores.http.new_session`,
so the store's retries (429 and 5xx with Retry-After), timeouts, deadline and concurrency cap
apply to asset reads as they do to the STAC requests, and failures come out as
:mod:`eostores.errors` exceptions naming the URL.
"""

from __future__ import annotations

import threading
from typing import Any

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from eostores.errors import DataNotFoundError, DataStoreError

__all__ = ["SessionHTTPFileSystem"]


class SessionHTTPFileSystem(AbstractFileSystem):
    """Files addressed by full http(s) URLs, read with ranged GETs.

    ``http_params`` are keyword arguments of :class:`eostores.http.HttpConfig` (plus
    ``store_id``); ``headers`` are sent with every request. Listing is not supported:
    readers must know the keys they read (consolidated Zarr metadata, single files).
    """

    protocol = ("https", "http")
    root_marker = ""
    cachable = True

    def __init__(
        self,
        http_params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        block_size: int = 2**20,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.http_params = dict(http_params or {})
        self.headers = dict(headers or {})
        self.block_size = block_size
        self._local = threading.local()

    @property
    def session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            from eostores.http import HttpConfig, new_session

            params = dict(self.http_params)
            config = HttpConfig.from_params(params, store_id=params.get("store_id"))
            session = new_session(config, headers=self.headers)
            self._local.session = session
        return session

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return str(path).rstrip("/") if not str(path).endswith("://") else str(path)

    def _get(self, url: str, headers: dict[str, str] | None = None) -> Any:
        return self.session.get(url, headers=headers or {}, idempotent=True)

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kw) -> bytes:
        url = self._strip_protocol(path)
        headers = {}
        if start is not None or end is not None:
            if start is not None and start < 0:
                size = self.size(url)
                start = max(0, size + start)
            first = start or 0
            if end is not None and end <= first:
                return b""
            last = "" if end is None else str(end - 1)
            headers["Range"] = f"bytes={first}-{last}"
        try:
            response = self._get(url, headers)
        except DataNotFoundError:
            raise FileNotFoundError(url) from None
        data = response.content
        if headers and response.status_code == 200:
            # The server ignored the range: cut the answer ourselves.
            data = data[(start or 0) : end]
        return data

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        url = self._strip_protocol(path)
        try:
            response = self.session.head(url, allow_redirects=True)
        except DataNotFoundError:
            raise FileNotFoundError(url) from None
        except DataStoreError:
            response = None
        size = None
        if response is not None and "Content-Length" in response.headers:
            size = int(response.headers["Content-Length"])
        if size is None:
            answer = self._get(url, {"Range": "bytes=0-0"})
            content_range = answer.headers.get("Content-Range", "")
            size = (
                int(content_range.rpartition("/")[2])
                if "/" in content_range
                else len(answer.content)
            )
        return {"name": url, "size": size, "type": "file"}

    def exists(self, path: str, **kwargs: Any) -> bool:
        try:
            self.info(path)
            return True
        except FileNotFoundError:
            return False

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        raise NotImplementedError(f"listing is not supported for {path}")

    def _open(self, path: str, mode: str = "rb", block_size: int | None = None, **kwargs: Any):
        if mode != "rb":
            raise NotImplementedError("the https asset filesystem is read-only")
        return _RangeFile(
            self, self._strip_protocol(path), mode, block_size or self.block_size, **kwargs
        )


class _RangeFile(AbstractBufferedFile):
    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.cat_file(self.path, start=start, end=end)
