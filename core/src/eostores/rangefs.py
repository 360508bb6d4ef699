"""Lazy reads of remote files by HTTP range requests over an :mod:`eostores.http` session.

:class:`RangeFileSystem` is a read-only fsspec filesystem whose paths are full http(s) URLs.
Its files fetch the byte ranges format libraries ask for (h5netcdf, rasterio, zarr through
``zarr.storage.FsspecStore.from_mapper(fs.get_mapper(url))``), so the session's retries,
deadline, concurrency cap and error mapping apply to every read; a truncated range is
fetched again. A server that ignores ``Range`` and sends the whole file is read once and
the file is served from memory after that. A missing file is a ``FileNotFoundError`` (what
fsspec and zarr expect); every other failure is an :mod:`eostores.errors` exception.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fsspec.caching import BaseCache, register_cache
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from eostores.credentials import Secret, is_secret_name
from eostores.errors import DataNotFoundError, DataStoreError, InvalidParameterError, ServiceError
from eostores.http import HttpConfig, Session, error_for_response, new_session, redact_url

__all__ = ["DEFAULT_BLOCK_SIZE", "RangeFile", "RangeFileSystem", "open_range_file"]

#: Bytes fetched at least per request: small, since format headers are read in small
#: scattered pieces and every surplus byte of a range travels for nothing.
DEFAULT_BLOCK_SIZE = 256 * 1024
_MAX_WHOLE_BYTES = 256 * 2**20  # bodies of servers that ignore ranges, kept in memory


class RangeFileSystem(AbstractFileSystem):
    """Read-only files at http(s) URLs, read by ``Range`` requests through ``session``.

    ``session`` is an :func:`eostores.http.new_session` session (a default one when
    ``None``). Pickled, the filesystem keeps the session's :class:`HttpConfig`, auth and
    headers (secret ones as :class:`~eostores.credentials.Secret`) and builds a new
    session from them. Directories cannot be listed over HTTP: read files by their URLs.
    """

    protocol = ("https", "http")
    root_marker = ""
    cachable = False  # instances differ by session, which fsspec's cache key cannot see

    def __init__(self, session: Session | None = None, block_size: int = DEFAULT_BLOCK_SIZE):
        super().__init__()
        if not isinstance(block_size, int) or block_size < 1:
            raise InvalidParameterError(
                f"block_size must be a positive integer, got {block_size!r}",
                parameter="block_size",
            )
        self.session = session if session is not None else new_session()
        self.blocksize = block_size
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}
        self._whole: OrderedDict[str, bytes] = OrderedDict()

    def __repr__(self) -> str:
        return f"RangeFileSystem(store_id={self._config().store_id!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        headers = {
            name: Secret(value) if is_secret_name(name) else value
            for name, value in self.session.headers.items()
        }
        return _restore, (self._config(), self.session.auth, headers, self.blocksize)

    def _config(self) -> HttpConfig:
        config = getattr(self.session, "config", None)
        return config if isinstance(config, HttpConfig) else HttpConfig()

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = str(path)
        return text if text.endswith("://") else text.rstrip("/")

    # -- metadata

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        url = self._strip_protocol(path)
        return {"name": url, "size": self.size(url), "type": "file"}

    def size(self, path: str) -> int:
        """The length of the file: from HEAD, else from the answer to ``Range: bytes=0-0``."""
        url = self._strip_protocol(path)
        with self._lock:
            known = self._sizes.get(url)
        if known is not None:
            return known
        head = self._get(url, method="HEAD", allow_redirects=True, raise_for_status=False)
        length = head.headers.get("Content-Length", "")
        identity = head.headers.get("Content-Encoding", "identity") in ("identity", "")
        size = int(length) if head.ok and identity and length.isdigit() else None
        if size is None:  # HEAD not allowed (e.g. presigned GET URLs) or without a length
            size = self._size_from_first_byte(url)
        with self._lock:
            self._sizes[url] = size
        return size

    def _size_from_first_byte(self, url: str) -> int:
        headers = {"Range": "bytes=0-0", "Accept-Encoding": "identity"}
        with self._get(url, headers=headers, stream=True, raise_for_status=False) as answer:
            total = re.search(r"/(\d+)\s*$", answer.headers.get("Content-Range", ""))
            if answer.status_code in (206, 416) and total:
                return int(total.group(1))
            if answer.status_code == 200:  # the server ignores ranges
                return len(self._keep_whole(url, answer.content))
            if answer.status_code >= 400:
                raise error_for_response(answer, store_id=self._config().store_id)
        raise ServiceError(
            f"cannot tell the size of {redact_url(url)}: HTTP {answer.status_code} without "
            "Content-Range",
            status=answer.status_code,
            url=redact_url(url),
        )

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        raise DataStoreError(
            f"cannot list {redact_url(str(path))}: HTTP range reads need the URL of each "
            "file (for Zarr, consolidated metadata)"
        )

    # -- data

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        url = self._strip_protocol(path)
        if start is None and end is None and url not in self._whole:
            return self._get(url).content
        if start is not None and end is not None and start >= 0 and end >= 0:
            return self.read_range(url, start, end)  # no size needed
        size = self.size(url)
        first = 0 if start is None else (start if start >= 0 else max(0, size + start))
        last = size if end is None else (end if end >= 0 else max(0, size + end))
        return self.read_range(url, first, min(last, size))

    def read_range(self, url: str, start: int, end: int) -> bytes:
        """Bytes ``start`` up to (excluding) ``end`` of the file at ``url``."""
        if start >= end:
            return b""
        with self._lock:
            whole = self._whole.get(url)
        if whole is not None:
            return whole[start:end]
        headers = {"Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity"}
        response = self._get(url, headers=headers)
        data = response.content
        if response.status_code == 200:  # the server ignored the range: remember the body
            return self._keep_whole(url, data)[start:end]
        first = re.match(r"\s*bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
        if response.status_code != 206 or first is None or int(first.group(1)) != start:
            raise ServiceError(
                f"the server answered a request for bytes {start}-{end - 1} with HTTP "
                f"{response.status_code} {response.headers.get('Content-Range', '')!r}",
                status=response.status_code,
                url=redact_url(url),
            )
        return data[: end - start]

    def _get(self, url: str, method: str = "GET", **kwargs: Any) -> Any:
        """The session's answer; a missing file is a ``FileNotFoundError``."""
        if not url.lower().startswith(("http://", "https://")):
            raise FileNotFoundError(f"not an http(s) URL: {redact_url(url)!r}")
        try:
            response = self.session.request(method, url, **kwargs)
        except DataNotFoundError as error:
            raise FileNotFoundError(error.message) from None
        if response.status_code in (404, 410):
            response.close()
            raise FileNotFoundError(f"no file at {redact_url(url)} (HTTP {response.status_code})")
        return response

    def _keep_whole(self, url: str, data: bytes) -> bytes:
        with self._lock:
            self._sizes[url] = len(data)
            if len(data) <= _MAX_WHOLE_BYTES:
                self._whole[url] = data
                while sum(map(len, self._whole.values())) > _MAX_WHOLE_BYTES:
                    self._whole.popitem(last=False)
        return data

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> RangeFile:
        if mode != "rb":
            raise InvalidParameterError(
                f"{redact_url(str(path))} can only be read (mode 'rb'), not opened in {mode!r}",
                parameter="mode",
            )
        return RangeFile(
            self,
            self._strip_protocol(path),
            block_size=block_size or self.blocksize,
            cache_type=kwargs.pop("cache_type", BlockCache.name),
            cache_options=cache_options,
            size=kwargs.pop("size", None),
        )


def _restore(config: HttpConfig, auth: Any, headers: dict[str, Any], block_size: int):
    return RangeFileSystem(new_session(config, auth=auth, headers=headers), block_size)


class RangeFile(AbstractBufferedFile):
    """A remote file read in byte ranges (through a :class:`BlockCache` by default)."""

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.read_range(self.path, start, min(end, self.size))


class BlockCache(BaseCache):
    """The most recently used aligned blocks of a file; a read fetches the blocks it lacks,
    each run of adjacent missing blocks in one request. Thread-safe.

    At most ``max_blocks`` blocks are kept (a larger single read is served, then trimmed).
    """

    name = "eostores-blocks"

    def __init__(
        self, blocksize: int, fetcher: Callable[[int, int], bytes], size: int, max_blocks=64
    ):
        super().__init__(blocksize, fetcher, size)
        self.max_blocks = max(1, max_blocks)
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def _fetch(self, start: int | None, stop: int | None) -> bytes:
        start = 0 if start is None else max(0, start)
        stop = self.size if stop is None else min(stop, self.size)
        if start >= stop:
            return b""
        step = self.blocksize
        first, last = start // step, (stop - 1) // step
        with self._lock:
            held = {n: self._blocks[n] for n in range(first, last + 1) if n in self._blocks}
            for number in held:
                self._blocks.move_to_end(number)
        self.hit_count += len(held)
        blocks = dict(held)
        number = first
        while number <= last:  # one request per run of missing blocks
            if number in held:
                number += 1
                continue
            run_end = number
            while run_end + 1 <= last and run_end + 1 not in held:
                run_end += 1
            data = self.fetcher(number * step, min((run_end + 1) * step, self.size))
            self.miss_count += 1
            self.total_requested_bytes += len(data)
            for n in range(number, run_end + 1):
                blocks[n] = data[(n - number) * step : (n - number + 1) * step]
            number = run_end + 1
        with self._lock:
            for n in range(first, last + 1):
                self._blocks[n] = blocks[n]
                self._blocks.move_to_end(n)
            while len(self._blocks) > self.max_blocks:
                self._blocks.popitem(last=False)
        joined = b"".join(blocks[n] for n in range(first, last + 1))
        return joined[start - first * step : stop - first * step]


register_cache(BlockCache, clobber=True)


def open_range_file(
    url: str, *, session: Session | None = None, block_size: int = DEFAULT_BLOCK_SIZE
) -> RangeFile:
    """A read-only file object for ``url`` that fetches the byte ranges it is asked for."""
    return RangeFileSystem(session=session, block_size=block_size).open(url, "rb")
