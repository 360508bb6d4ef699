"""The files of a record as a read-only fsspec filesystem reading byte ranges over HTTP.

Format libraries (h5netcdf, zarr, rasterio, zipfile) read a record's files through this
filesystem, so that only the byte ranges they ask for travel. Every request goes through
an :func:`eostores.http.new_session` session: retries with backoff and ``Retry-After``,
an overall deadline, and errors mapped to :mod:`eostores.errors`. File sizes come from
the record's metadata, so opening a file costs no request of its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from fsspec.caching import BaseCache
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from eostores.errors import DataNotFoundError, ServiceError

from .api import open_session
from .errors import FileUnavailableError

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "BlockCache",
    "RangeFile",
    "RecordFileSystem",
    "fetch_range",
]

#: Bytes fetched at least per request; small, since format headers are read in small
#: scattered pieces and every surplus byte of a range is transferred for nothing.
DEFAULT_BLOCK_SIZE = 64 * 1024
#: Blocks a file keeps in memory (4 MiB with the default block size).
DEFAULT_MAX_BLOCKS = 64


class RecordFileSystem(AbstractFileSystem):
    """The files of one record; paths are file keys.

    ``files`` maps each key to ``(url, size)``; ``http`` holds
    :class:`eostores.http.HttpConfig` settings; ``access_token`` is sent as a bearer
    token; ``record_id`` names the record in errors. Instances pickle by their arguments
    and open their HTTP session on first use.
    """

    protocol = "zenodo-record"
    root_marker = ""
    cachable = False

    def __init__(
        self,
        files: Mapping[str, tuple[str, int]],
        http: Mapping[str, Any] | None = None,
        access_token: Any = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        record_id: str | None = None,
        **storage_options: Any,
    ):
        super().__init__(
            files=files,
            http=http,
            access_token=access_token,
            block_size=block_size,
            record_id=record_id,
            **storage_options,
        )
        self.record_id = record_id
        self.files = {str(key): (str(url), int(size)) for key, (url, size) in files.items()}
        self.http = dict(http or {})
        self.access_token = access_token
        self.blocksize = block_size
        self._session: Any = None
        self._session_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RecordFileSystem({len(self.files)} files)"

    @property
    def session(self) -> Any:
        """The HTTP session, created on first use (also after unpickling)."""
        with self._session_lock:
            if self._session is None:
                self._session = open_session(self.http, self.access_token)
            return self._session

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = str(path)
        prefix = cls.protocol + "://"
        if text.startswith(prefix):
            text = text[len(prefix) :]
        return text.strip("/")

    def _entry(self, path: str) -> tuple[str, int]:
        key = self._strip_protocol(path)
        try:
            return self.files[key]
        except KeyError:
            raise FileNotFoundError(key) from None

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        key = self._strip_protocol(path)
        if key in self.files:
            return {"name": key, "size": self.files[key][1], "type": "file"}
        if key == "":
            return {"name": "", "size": 0, "type": "directory"}
        raise FileNotFoundError(key)

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        key = self._strip_protocol(path)
        if key in self.files:
            entries = [self.info(key)]
        elif key == "":
            entries = [self.info(name) for name in sorted(self.files)]
        else:
            raise FileNotFoundError(key)
        return entries if detail else [entry["name"] for entry in entries]

    def url_of(self, path: str) -> str:
        """The download URL of a file."""
        return self._entry(path)[0]

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> RangeFile:
        """A file object; ``cache_type`` is ignored: reads go through :class:`BlockCache`."""
        if mode != "rb":
            raise PermissionError(f"record files are read-only; cannot open in mode {mode!r}")
        url, size = self._entry(path)
        return RangeFile(
            self,
            self._strip_protocol(path),
            url=url,
            block_size=block_size or self.blocksize,
            size=size,
            max_blocks=(cache_options or {}).get("max_blocks", DEFAULT_MAX_BLOCKS),
        )

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        url, size = self._entry(path)
        first = 0 if start is None else (start if start >= 0 else max(0, size + start))
        last = size if end is None else (end if end >= 0 else max(0, size + end))
        last = min(last, size)
        if first >= last:
            return b""
        return self.fetch(self._strip_protocol(path), url, first, last, size)

    def fetch(self, key: str, url: str, start: int, end: int, size: int) -> bytes:
        """Bytes ``start:end`` of file ``key``.

        A missing file raises :class:`FileUnavailableError`, not the
        :class:`~eostores.errors.DataNotFoundError` it becomes at the store's surface:
        that one is also a ``KeyError``, which format libraries (zarr through fsspec's
        zip filesystem) take for "no such chunk" and silently fill with missing values.
        """
        try:
            return fetch_range(self.session, url, start, end, size)
        except DataNotFoundError as error:
            record = f" of Zenodo record {self.record_id}" if self.record_id else ""
            raise FileUnavailableError(
                f"file {key!r}{record} is not available: {error.message}",
                status=getattr(error, "status", 404),
                url=getattr(error, "url", None),
                store_id=self.http.get("store_id"),
                data_id=key,
            ) from None


class RangeFile(AbstractBufferedFile):
    """A record file read in byte ranges through a :class:`BlockCache`; pickles by
    reopening."""

    def __init__(
        self,
        fs: RecordFileSystem,
        path: str,
        *,
        url: str,
        block_size: int,
        size: int,
        max_blocks: int = DEFAULT_MAX_BLOCKS,
    ):
        self.url = url
        super().__init__(fs, path, mode="rb", block_size=block_size, cache_type="none", size=size)
        self.cache = BlockCache(block_size, self._fetch_range, size, max_blocks=max_blocks)

    def _fetch_range(self, start: int, end: int) -> bytes:
        end = min(end, self.size)
        if start >= end:
            return b""
        return self.fs.fetch(self.path, self.url, start, end, self.size)


class BlockCache(BaseCache):
    """Keeps the most recently used aligned blocks of a file; fetches what is missing.

    A read of bytes ``[start, end)`` fetches the blocks it touches that are not held, each
    run of adjacent missing blocks in one request, so a read costs at most one block of
    surplus at either end and revisited headers cost nothing. At most ``max_blocks``
    blocks are kept (a larger single read is served, then trimmed). Thread-safe.
    """

    name = "eostores-blocks"

    def __init__(self, blocksize: int, fetcher: Any, size: int, max_blocks: int = 64):
        super().__init__(blocksize, fetcher, size)
        self.max_blocks = max(1, max_blocks)
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def _fetch(self, start: int | None, stop: int | None) -> bytes:
        start = 0 if start is None else max(0, start)
        stop = self.size if stop is None else min(stop, self.size)
        if start >= stop:
            return b""
        size = self.blocksize
        first, last = start // size, (stop - 1) // size
        with self._lock:
            held = {n: self._blocks[n] for n in range(first, last + 1) if n in self._blocks}
            self.hit_count += len(held)
            for number in held:
                self._blocks.move_to_end(number)
        missing = [n for n in range(first, last + 1) if n not in held]
        fetched: dict[int, bytes] = {}
        for run_first, run_last in _runs(missing):
            begin, end = run_first * size, min((run_last + 1) * size, self.size)
            data = self.fetcher(begin, end)
            self.miss_count += 1
            self.total_requested_bytes += end - begin
            for n in range(run_first, run_last + 1):
                fetched[n] = data[(n - run_first) * size : (n - run_first + 1) * size]
        with self._lock:
            for number, block in fetched.items():
                self._blocks[number] = block
                self._blocks.move_to_end(number)
            while len(self._blocks) > self.max_blocks:
                self._blocks.popitem(last=False)
        pieces = [held.get(n) if n in held else fetched[n] for n in range(first, last + 1)]
        joined = b"".join(piece or b"" for piece in pieces)
        offset = first * size
        return joined[start - offset : stop - offset]


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive integers in a sorted list, as (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and runs[-1][1] == number - 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def fetch_range(session: Any, url: str, start: int, end: int, size: int | None = None) -> bytes:
    """Bytes ``start`` up to (excluding) ``end`` of ``url`` with one Range request.

    ``session`` is an :mod:`eostores.http` session, which raises the eostores error of a
    failed status (404 is :class:`~eostores.errors.DataNotFoundError`). A server that
    ignores the range and sends the whole file still gives the right bytes (and its whole
    size in traffic); a short or misplaced answer is an error.
    """
    from eostores.http import redact_url

    response = session.get(
        url, headers={"Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity"}
    )
    data = response.content
    if response.status_code == 200:
        data = data[start:end]
    elif response.status_code == 206:
        first = _content_range_start(response.headers.get("Content-Range", ""))
        if first != start:
            raise ServiceError(
                f"the server answered a request for bytes {start}-{end - 1} with "
                f"{response.headers.get('Content-Range')!r}",
                url=redact_url(url),
            )
        data = data[: end - start]
    else:
        raise ServiceError(
            f"unexpected HTTP status {response.status_code} for a range request",
            status=response.status_code,
            url=redact_url(url),
        )
    if len(data) != end - start and (size is None or end <= size):
        raise ServiceError(
            f"short read: asked for {end - start} bytes at {start}, got {len(data)}",
            url=redact_url(url),
        )
    return data


def _content_range_start(value: str) -> int | None:
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes":
        return None
    first, _, _ = spec.partition("-")
    return int(first) if first.strip().isdigit() else None
