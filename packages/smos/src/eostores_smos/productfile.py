"""Reading some variables of one remote NetCDF4/HDF5 file, fetching only the bytes they need.

HDF5 finds a variable through small pieces of metadata scattered over the file (its
object header near the start, a chunk index node anywhere), then reads its chunks. A
library reading a remote file piece by piece waits for one round trip per piece, and
h5py holds its global lock while it waits, so no other thread of the process gets on.

Here the file is read from the byte ranges fetched so far (:class:`FileBytes`). The first
64 KiB (where the metadata starts) are fetched with the file size. Then, for each wanted
variable in a thread of its own, h5py locates the variable's chunks; when it needs bytes
not fetched yet, the attempt stops (:class:`MissingBytes`), the missing 8 KiB page is
fetched outside h5py's lock, and the attempt starts again, in memory. Finally all chunks
are fetched at once, and the variables are read from memory (by h5py, or by xarray's
h5netcdf backend when the store has ``xarray_kwargs``). So a product costs a few round
trips, whatever the number of variables, and threads reading other products are never
held up by a network wait.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import contextvars
import functools
import io
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from eostores.errors import ServiceError

__all__ = ["FileBytes", "MissingBytes", "read_variables"]

HEAD_BYTES = 64 * 1024
PAGE_BYTES = 8 * 1024
#: Attempts of one read before giving up (each fetches at least one missing page).
MAX_ATTEMPTS = 500


class MissingBytes(Exception):
    """A read of bytes that have not been fetched yet: ``(start, end)``."""

    def __init__(self, start: int, end: int):
        super().__init__(start, end)
        self.start = start
        self.end = end


class FileBytes:
    """The byte ranges of one file fetched so far (thread-safe).

    ``fetch(start, end)`` returns those bytes of the remote file. Concurrent requests for
    the same page share one fetch.

    Reads take no lock: h5py calls :meth:`read` while holding its global lock, and a thread
    holding a lock of ours may have to wait for h5py's (when the garbage collector frees an
    h5py object in it), so reads see an immutable view of the pieces, which writers replace
    as a whole.
    """

    def __init__(self, fetch: Callable[[int, int], bytes], size: int):
        self._fetch = fetch
        self.size = size
        # (starts, pieces): sorted, non-overlapping, replaced whole under the lock
        self._view: tuple[tuple[int, ...], tuple[bytes, ...]] = ((), ())
        self._lock = threading.Lock()
        self._inflight: dict[tuple[int, int], concurrent.futures.Future] = {}
        self.fetched_bytes = 0
        self.requests = 0

    def add(self, start: int, data: bytes) -> None:
        """Keep ``data`` as the bytes from ``start`` (merged with what touches it)."""
        end = start + len(data)
        with self._lock:
            starts, pieces = list(self._view[0]), list(self._view[1])
            first = bisect.bisect_left(starts, start)
            if first > 0 and starts[first - 1] + len(pieces[first - 1]) >= start:
                first -= 1
            last = first
            low, high = start, end
            while last < len(starts) and starts[last] <= high:
                low = min(low, starts[last])
                high = max(high, starts[last] + len(pieces[last]))
                last += 1
            merged = bytearray(high - low)
            for index in range(first, last):
                offset = starts[index] - low
                merged[offset : offset + len(pieces[index])] = pieces[index]
            merged[start - low : end - low] = data
            starts[first:last] = [low]
            pieces[first:last] = [bytes(merged)]
            self._view = (tuple(starts), tuple(pieces))

    def read(self, start: int, length: int) -> bytes:
        """Bytes ``start`` to ``start + length`` (fewer at the end of the file)."""
        end = min(start + length, self.size)
        if start >= end:
            return b""
        starts, pieces = self._view
        index = bisect.bisect_right(starts, start) - 1
        if index >= 0:
            piece_start, piece = starts[index], pieces[index]
            if piece_start + len(piece) >= end:
                return piece[start - piece_start : end - piece_start]
            if piece_start + len(piece) > start:
                raise MissingBytes(piece_start + len(piece), end)
        raise MissingBytes(start, end)

    def missing(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of ``[start, end)`` not fetched yet."""
        starts, pieces = self._view
        gaps = []
        position = start
        index = max(0, bisect.bisect_right(starts, start) - 1)
        while position < end and index < len(starts):
            piece_start, piece_end = starts[index], starts[index] + len(pieces[index])
            if piece_end > position:
                if piece_start > position:
                    gaps.append((position, min(piece_start, end)))
                position = max(position, piece_end)
            index += 1
        if position < end:
            gaps.append((position, end))
        return gaps

    def fetch(self, start: int, end: int) -> None:
        """Fetch ``[start, end)`` (unless another thread is fetching exactly that)."""
        start, end = max(0, start), min(end, self.size)
        if start >= end:
            return
        key = (start, end)
        with self._lock:
            future = self._inflight.get(key)
            owner = future is None
            if owner:
                future = concurrent.futures.Future()
                self._inflight[key] = future
        if not owner:
            future.result()
            return
        try:
            data = self._fetch(start, end)
            if len(data) != end - start:
                raise ServiceError(f"asked for bytes {start}-{end - 1}, received {len(data)} bytes")
            self.add(start, data)
            with self._lock:
                self.fetched_bytes += len(data)
                self.requests += 1
        except BaseException as error:
            future.set_exception(error)
            raise
        finally:
            with self._lock:
                del self._inflight[key]
        future.set_result(None)

    def fetch_page(self, miss: MissingBytes) -> None:
        """Fetch the pages holding a missing read."""
        first = (miss.start // PAGE_BYTES) * PAGE_BYTES
        last = -(-miss.end // PAGE_BYTES) * PAGE_BYTES
        self.fetch(first, last)


class SparseFile(io.RawIOBase):
    """A read-only file object over :class:`FileBytes`; reading a gap raises MissingBytes."""

    def __init__(self, data: FileBytes):
        super().__init__()
        self._data = data
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._position = offset
        elif whence == io.SEEK_CUR:
            self._position += offset
        else:
            self._position = self._data.size + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._data.read(self._position, len(view))
        view[: len(data)] = data
        self._position += len(data)
        return len(data)


def _missing_of(error: BaseException) -> MissingBytes | None:
    """The MissingBytes behind an error raised by h5py or xarray, if any."""
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, MissingBytes):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _until_complete(data: FileBytes, attempt: Callable[[], Any]) -> Any:
    """Run ``attempt`` on ``data`` again after fetching what it missed, until it succeeds."""
    for _ in range(MAX_ATTEMPTS):
        try:
            return attempt()
        except Exception as error:
            miss = _missing_of(error)
            if miss is None:
                raise
            data.fetch_page(miss)
    raise ServiceError(f"reading the file needed more than {MAX_ATTEMPTS} separate fetches")


def _chunk_ranges(data: FileBytes, name: str) -> list[tuple[int, int]]:
    """The byte ranges of the stored data of variable ``name`` (none if it is missing)."""
    import h5py

    def locate() -> list[tuple[int, int]]:
        with h5py.File(SparseFile(data), "r") as h5:
            dataset = h5.get(name)
            if not isinstance(dataset, h5py.Dataset):
                return []
            dsid = dataset.id
            if dataset.chunks is None:
                offset, size = dsid.get_offset(), dsid.get_storage_size()
                return [(int(offset), int(offset) + int(size))] if offset is not None else []
            ranges = []
            for index in range(dsid.get_num_chunks()):
                info = dsid.get_chunk_info(index)
                if info.byte_offset is not None and info.size:
                    ranges.append((int(info.byte_offset), int(info.byte_offset + info.size)))
            return ranges

    return _until_complete(data, locate)


def _read_with_h5py(data: FileBytes, names: list[str]) -> dict[str, Any]:
    """Values and attributes of ``names`` (those the file has), read by h5py."""
    import h5py

    result = {}
    with h5py.File(SparseFile(data), "r") as h5:
        for name in names:
            dataset = h5.get(name)
            if isinstance(dataset, h5py.Dataset):
                attrs = {
                    key: value
                    for key, value in dataset.attrs.items()
                    if isinstance(value, str | bytes | np.generic | np.ndarray)
                    and np.asarray(value).dtype.kind in "iufUSb"
                }
                result[name] = (np.asarray(dataset[...]).ravel(), attrs)
    return result


def _read_with_xarray(
    data: FileBytes, names: list[str], xarray_kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Values and attributes of ``names``, read by xarray.open_dataset (h5netcdf)."""
    import xarray as xr

    options = {"engine": "h5netcdf", "decode_cf": False, "cache": False, **xarray_kwargs}
    result = {}
    with xr.open_dataset(SparseFile(data), **options) as dataset:
        for name in names:
            if name in dataset.variables:
                variable = dataset.variables[name]
                result[name] = (np.asarray(variable.values).ravel(), dict(variable.attrs))
    return result


def read_variables(
    fetch: Callable[[int, int], bytes],
    size: int,
    names: list[str],
    pool: concurrent.futures.Executor,
    xarray_kwargs: Mapping[str, Any],
) -> tuple[dict[str, tuple[np.ndarray, dict[str, Any]]], FileBytes]:
    """The raw values and attributes of variables ``names`` of a file of ``size`` bytes.

    ``fetch(start, end)`` returns bytes of the file; ``pool`` runs the concurrent fetches
    (it must not be the pool this function runs in). A variable the file lacks is left out.
    The variables are read with h5py, or with xarray.open_dataset (engine h5netcdf) and
    ``xarray_kwargs`` when there are any.
    """

    data = FileBytes(fetch, size)
    data.fetch(0, HEAD_BYTES)

    def submit(function: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        # in a copy of this context, so that the caller's call deadline holds there too
        return pool.submit(contextvars.copy_context().run, function, *args)

    located = [f.result() for f in [submit(_chunk_ranges, data, name) for name in names]]
    gaps = [gap for ranges in located for start, end in ranges for gap in data.missing(start, end)]
    for future in [submit(data.fetch, start, end) for start, end in gaps]:
        future.result()
    if xarray_kwargs:
        read = functools.partial(_read_with_xarray, data, names, xarray_kwargs)
    else:
        read = functools.partial(_read_with_h5py, data, names)
    return _until_complete(data, read), data
