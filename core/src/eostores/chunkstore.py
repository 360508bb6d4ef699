"""A read-only zarr v3 store whose chunks are computed on demand by a function.

API-backed stores (tile services, OPeNDAP-like APIs, per-chunk HTTP requests)
describe their variables as :class:`ChunkArray` objects and wrap them in a
:class:`ChunkStore`; ``xr.open_zarr(store)`` (or :meth:`ChunkStore.open_dataset`)
then returns a lazy, dask-backed dataset whose chunks are fetched only when
computed.

How it works:

* The metadata (the root ``zarr.json`` with the metadata of every array
  consolidated inline, and one ``zarr.json`` per array with its
  ``dimension_names``) is synthesised once, so opening costs one metadata read
  and no chunk computation.
* A chunk key is answered by calling the array's ``get_chunk(index)`` in a
  thread pool of ``max_workers`` threads shared by the whole store: zarr reads
  the chunks of one selection concurrently (up to its ``async.concurrency``
  setting, 10 by default), and the pool caps how many functions run at once.
* Concurrent requests for the same chunk share one call; an optional LRU cache
  bounded in bytes serves repeated reads without calling the function again.
* Chunks are encoded with the plain ``bytes`` codec (little endian) and no
  compression, since they are produced in memory.
* ``datetime64`` arrays are stored as ``int64`` with CF ``units``,
  ``calendar`` and ``_FillValue`` (NaT) attributes, which xarray decodes back
  to datetimes.
* The store is read-only: open it with ``mode="r"`` when using zarr directly
  (``zarr.open_group(store, mode="r")``); xarray does so already.
* With one dask chunk per zarr chunk, dask's threaded scheduler runs only as
  many chunk functions at once as it has threads (the number of cores), so
  :meth:`ChunkStore.open_dataset` groups several zarr chunks into each dask
  chunk (see :meth:`ChunkStore.dask_chunks`) and lets zarr fetch them
  concurrently.

Failures inside a chunk function surface as
:class:`~eostores.errors.ServiceError` naming the variable and the chunk
index (the original exception chained as its cause); a
:class:`~eostores.errors.DataStoreError` raised by the function is re-raised
as it is, with the chunk added to its message.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import copy
import itertools
import json
import math
import threading
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype

from eostores.errors import DataStoreError, InvalidParameterError, ServiceError

if TYPE_CHECKING:
    import xarray

__all__ = ["ChunkArray", "ChunkStore"]

_METADATA_KEY = "zarr.json"
_CHUNK_PREFIX = "c"
_DEFAULT_DASK_CHUNK_BYTES = 128 * 1024 * 1024
_TIME_UNITS = {
    "D": "days",
    "h": "hours",
    "m": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
}
_TIME_EPOCH = "1970-01-01T00:00:00"


@dataclass(eq=False)
class ChunkArray:
    """One variable of a :class:`ChunkStore`.

    Give either ``get_chunk``, called with a chunk index such as ``(0, 2, 1)``
    and returning that chunk as an array (edge chunks may be returned at their
    true, smaller size; they are padded with ``fill_value``), or ``data``, an
    in-memory array served as is (coordinates). ``fill_value`` defaults to NaN
    for floating point types, NaT for datetimes and 0 otherwise. Use
    :meth:`chunk_region` inside ``get_chunk`` to know which part of the array
    a chunk index covers.
    """

    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: str | np.dtype
    get_chunk: Callable[[tuple[int, ...]], np.ndarray] | None = None
    data: np.ndarray | None = None
    fill_value: Any = None
    attrs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise InvalidParameterError(
                f"array name must be a non-empty string without '/', got {self.name!r}",
                parameter="name",
            )
        if self.name in (_METADATA_KEY, ".", "..") or self.name.startswith("__"):
            raise InvalidParameterError(f"array name {self.name!r} is reserved", parameter="name")
        self.dims = tuple(self.dims) if not isinstance(self.dims, str) else (self.dims,)
        self.shape = tuple(int(n) for n in self.shape)
        self.chunks = tuple(int(n) for n in self.chunks)
        self.attrs = dict(self.attrs or {})
        if not (len(self.dims) == len(self.shape) == len(self.chunks)):
            raise InvalidParameterError(
                f"array {self.name!r}: dims {self.dims}, shape {self.shape} and chunks "
                f"{self.chunks} must have the same length",
                parameter="chunks",
            )
        if len(set(self.dims)) != len(self.dims):
            raise InvalidParameterError(
                f"array {self.name!r}: repeated dimension in {self.dims}", parameter="dims"
            )
        if any(n < 0 for n in self.shape) or any(c < 1 for c in self.chunks):
            raise InvalidParameterError(
                f"array {self.name!r}: shape {self.shape} must be >= 0 and chunks "
                f"{self.chunks} >= 1",
                parameter="chunks",
            )
        try:
            dtype = np.dtype(self.dtype)
        except TypeError as error:
            raise InvalidParameterError(
                f"array {self.name!r}: invalid dtype {self.dtype!r}", parameter="dtype"
            ) from error
        if dtype.kind == "M":
            unit = np.datetime_data(dtype)[0]
            if unit not in _TIME_UNITS:
                dtype = np.dtype("datetime64[s]")
        elif dtype.kind not in "biufc":
            raise InvalidParameterError(
                f"array {self.name!r}: dtype {dtype} is not supported; use a boolean, "
                "numeric or datetime64 type",
                parameter="dtype",
            )
        self.dtype = dtype
        if (self.get_chunk is None) == (self.data is None):
            raise InvalidParameterError(
                f"array {self.name!r}: give exactly one of get_chunk and data",
                parameter="get_chunk",
            )
        if self.get_chunk is not None and not callable(self.get_chunk):
            raise InvalidParameterError(
                f"array {self.name!r}: get_chunk must be callable", parameter="get_chunk"
            )
        if self.data is not None:
            data = np.asarray(self.data)
            if data.shape != self.shape:
                raise InvalidParameterError(
                    f"array {self.name!r}: data has shape {data.shape}, expected {self.shape}",
                    parameter="data",
                )
            if not _castable(data.dtype, dtype):
                raise InvalidParameterError(
                    f"array {self.name!r}: data of dtype {data.dtype} cannot be stored as {dtype}",
                    parameter="data",
                )
            self.data = data.astype(dtype, copy=False)
        if dtype.kind == "M" and ({"units", "calendar"} & set(self.attrs)):
            raise InvalidParameterError(
                f"array {self.name!r}: datetime arrays get their 'units' and 'calendar' "
                "attributes from the store; remove them from attrs",
                parameter="attrs",
            )
        self.fill_value = _normalise_fill_value(self.name, dtype, self.fill_value)

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """Number of chunks along each dimension."""
        return tuple(math.ceil(n / c) for n, c in zip(self.shape, self.chunks, strict=True))

    @property
    def chunk_nbytes(self) -> int:
        """Size in bytes of one full (padded) chunk."""
        return math.prod(self.chunks) * np.dtype(self.dtype).itemsize

    def chunk_region(self, index: tuple[int, ...]) -> tuple[slice, ...]:
        """The part of the array covered by the chunk ``index`` (clipped at the edges)."""
        return tuple(
            slice(i * c, min((i + 1) * c, n))
            for i, c, n in zip(index, self.chunks, self.shape, strict=True)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChunkArray):
            return NotImplemented
        return (
            (self.name, self.dims, self.shape, self.chunks, self.dtype)
            == (other.name, other.dims, other.shape, other.chunks, other.dtype)
            and self.get_chunk == other.get_chunk
            and _same_data(self.data, other.data)
            and _same_scalar(self.fill_value, other.fill_value)
            and _attrs_json(self.attrs, self.name) == _attrs_json(other.attrs, other.name)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{d}: {n}" for d, n in zip(self.dims, self.shape, strict=True))
        source = "data" if self.data is not None else f"chunks {self.chunks}"
        return f"{self.name}({sizes}) {self.dtype} {source}"


class ChunkStore(Store):
    """A read-only zarr v3 store computing each chunk on request.

    ``max_workers`` bounds how many chunk functions run at once across the
    store; ``cache_bytes > 0`` keeps recently computed chunks (encoded) in an
    LRU cache of at most that many bytes. ``name`` (typically the data id)
    appears in error messages and the repr.
    """

    supports_writes = False
    supports_deletes = False
    supports_listing = True

    def __init__(
        self,
        arrays: Sequence[ChunkArray],
        *,
        attrs: Mapping | None = None,
        max_workers: int = 8,
        cache_bytes: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(read_only=True)
        arrays = list(arrays)
        if not all(isinstance(a, ChunkArray) for a in arrays):
            raise InvalidParameterError("arrays must be ChunkArray objects", parameter="arrays")
        names = [a.name for a in arrays]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidParameterError(
                f"duplicate array names: {duplicates}", parameter="arrays", data_id=name
            )
        _check_dimension_sizes(arrays, name)
        if int(max_workers) < 1:
            raise InvalidParameterError(
                f"max_workers must be >= 1, got {max_workers}", parameter="max_workers"
            )
        if int(cache_bytes) < 0:
            raise InvalidParameterError(
                f"cache_bytes must be >= 0, got {cache_bytes}", parameter="cache_bytes"
            )
        self._arrays = {a.name: a for a in arrays}
        self._attrs = dict(attrs or {})
        self._max_workers = int(max_workers)
        self._cache_bytes = int(cache_bytes)
        self._name = name
        self._token = uuid.uuid4().hex
        self._metadata = _build_metadata(arrays, self._attrs)
        self._init_runtime()

    def _init_runtime(self) -> None:
        """Create the unpicklable parts: lock, executor slot, cache, in-flight table, stats."""
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._inflight: dict[str, concurrent.futures.Future] = {}
        self._cache = _ByteLRU(self._cache_bytes)
        self._running = 0
        self._stats = collections.Counter()

    # ------------------------------------------------------------------ public

    @property
    def name(self) -> str | None:
        """The name (data id) used in messages."""
        return self._name

    @property
    def arrays(self) -> dict[str, ChunkArray]:
        """The arrays of the store, by name."""
        return dict(self._arrays)

    @property
    def attrs(self) -> dict:
        """The attributes of the root group."""
        return dict(self._attrs)

    @property
    def max_workers(self) -> int:
        """How many chunk functions may run at once."""
        return self._max_workers

    @property
    def stats(self) -> dict[str, int]:
        """Counters since creation (or unpickling).

        ``chunk_calls`` (functions called), ``cache_hits``, ``shared_calls``
        (requests that joined a call already in flight), ``chunk_errors``,
        ``metadata_reads``, ``max_concurrent_calls``, ``cache_bytes`` and
        ``cache_entries`` (current cache use).
        """
        with self._lock:
            stats = {
                "chunk_calls": 0,
                "cache_hits": 0,
                "shared_calls": 0,
                "chunk_errors": 0,
                "metadata_reads": 0,
                "max_concurrent_calls": 0,
            }
            stats.update(self._stats)
            stats["cache_bytes"] = self._cache.nbytes
            stats["cache_entries"] = len(self._cache)
        return stats

    def dask_chunks(self) -> dict[str, int]:
        """Dask chunk sizes per dimension grouping several zarr chunks into one task.

        Each dask chunk of the largest variables spans up to ``max_workers``
        zarr chunks (and at most 128 MiB), so that even a scheduler with few
        threads keeps the chunk functions busy: zarr fetches the chunks of one
        task concurrently.
        """
        return _grouped_dask_chunks(list(self._arrays.values()), self._max_workers)

    def open_dataset(self, *, chunks: Any = None, **xr_kwargs: Any) -> xarray.Dataset:
        """Open the store as a lazy, dask-backed :class:`xarray.Dataset`.

        ``chunks=None`` uses :meth:`dask_chunks`; pass ``chunks={}`` for one dask
        chunk per zarr chunk or any value :func:`xarray.open_zarr` accepts.
        Other keyword arguments go to :func:`xarray.open_zarr`.
        """
        import xarray as xr

        options: dict[str, Any] = {"consolidated": True, "zarr_format": 3}
        options.update(xr_kwargs)
        options["chunks"] = self.dask_chunks() if chunks is None else chunks
        return xr.open_zarr(self, **options)

    def close(self) -> None:
        """Shut the thread pool down and drop the cache; the store reopens on next use."""
        with self._lock:
            executor, self._executor = self._executor, None
            self._cache.clear()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        super().close()

    # --------------------------------------------------------- identity, pickle

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ChunkStore)
            and self._name == other._name
            and _attrs_json(self._attrs, "the root group")
            == _attrs_json(other._attrs, "the root group")
            and self._arrays == other._arrays
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        arrays = ", ".join(repr(a) for a in self._arrays.values())
        label = f"{self._name!r}, " if self._name else ""
        return f"ChunkStore({label}[{arrays}])"

    def __str__(self) -> str:
        return f"chunkstore://{self._name or self._token}"

    def __getstate__(self) -> dict[str, Any]:
        return {
            "arrays": list(self._arrays.values()),
            "attrs": self._attrs,
            "max_workers": self._max_workers,
            "cache_bytes": self._cache_bytes,
            "name": self._name,
            "token": self._token,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(
            state["arrays"],
            attrs=state["attrs"],
            max_workers=state["max_workers"],
            cache_bytes=state["cache_bytes"],
            name=state["name"],
        )
        self._token = state["token"]

    def __dask_tokenize__(self) -> tuple[str, str]:
        return (type(self).__name__, self._token)

    def with_read_only(self, read_only: bool = False) -> ChunkStore:
        if not read_only:
            raise InvalidParameterError(
                f"{self} is read-only and cannot be opened for writing", parameter="read_only"
            )
        return self

    # ------------------------------------------------------------- zarr: reads

    async def get(
        self,
        key: str,
        prototype: BufferPrototype | None = None,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        if prototype is None:
            prototype = default_buffer_prototype()
        value = await self._read(key)
        if value is None:
            return None
        return prototype.buffer.from_bytes(_byte_slice(value, byte_range))

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        return list(
            await asyncio.gather(*(self.get(key, prototype, rng) for key, rng in key_ranges))
        )

    async def _get_many(
        self, requests: Iterable[tuple[str, BufferPrototype, ByteRequest | None]]
    ) -> AsyncIterator[tuple[str, Buffer | None]]:
        requests = list(requests)
        values = await asyncio.gather(*(self.get(*request) for request in requests))
        for request, value in zip(requests, values, strict=True):
            yield request[0], value

    async def exists(self, key: str) -> bool:
        return key in self._metadata or self._parse_chunk_key(key) is not None

    async def getsize(self, key: str) -> int:
        if key in self._metadata:
            return len(self._metadata[key])
        parsed = self._parse_chunk_key(key)
        if parsed is None:
            raise FileNotFoundError(key)
        return parsed[0].chunk_nbytes

    async def list(self) -> AsyncIterator[str]:
        for key in self._iter_keys():
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for key in self._iter_keys():
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        if prefix == "":
            yield _METADATA_KEY
            for name in self._arrays:
                yield name
            return
        parts = prefix.split("/")
        array = self._arrays.get(parts[0])
        if array is None:
            return
        if len(parts) == 1:
            yield _METADATA_KEY
            if all(array.grid_shape):
                yield _CHUNK_PREFIX
            return
        if parts[1] != _CHUNK_PREFIX or not all(array.grid_shape):
            return
        try:
            given = tuple(int(p) for p in parts[2:])
        except ValueError:
            return
        depth = len(given)
        if depth >= len(array.shape) or any(
            not 0 <= i < n for i, n in zip(given, array.grid_shape, strict=False)
        ):
            return
        for i in range(array.grid_shape[depth]):
            yield str(i)

    # ------------------------------------------------------------ zarr: writes

    async def set(self, key: str, value: Buffer) -> None:
        raise self._read_only_error(key)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        raise self._read_only_error(key)

    async def delete(self, key: str) -> None:
        raise self._read_only_error(key)

    async def delete_dir(self, prefix: str) -> None:
        raise self._read_only_error(prefix)

    async def clear(self) -> None:
        raise self._read_only_error("")

    def _read_only_error(self, key: str) -> InvalidParameterError:
        return InvalidParameterError(
            f"{self} is read-only: cannot write or delete {key!r}", data_id=self._name
        )

    # ---------------------------------------------------------------- internals

    def _iter_keys(self) -> Iterable[str]:
        yield _METADATA_KEY
        for array in self._arrays.values():
            yield f"{array.name}/{_METADATA_KEY}"
        for array in self._arrays.values():
            if not all(array.grid_shape):
                continue
            for index in itertools.product(*(range(n) for n in array.grid_shape)):
                yield _chunk_key(array.name, index)

    def _parse_chunk_key(self, key: str) -> tuple[ChunkArray, tuple[int, ...]] | None:
        parts = key.split("/")
        if len(parts) < 2 or parts[1] != _CHUNK_PREFIX:
            return None
        array = self._arrays.get(parts[0])
        if array is None or len(parts) != 2 + len(array.shape):
            return None
        try:
            index = tuple(int(p) for p in parts[2:])
        except ValueError:
            return None
        if any(str(i) != p for i, p in zip(index, parts[2:], strict=True)):
            return None
        if not all(0 <= i < n for i, n in zip(index, array.grid_shape, strict=True)):
            return None
        return array, index

    async def _read(self, key: str) -> bytes | None:
        metadata = self._metadata.get(key)
        if metadata is not None:
            with self._lock:
                self._stats["metadata_reads"] += 1
            return metadata
        parsed = self._parse_chunk_key(key)
        if parsed is None:
            return None
        array, index = parsed
        if array.data is not None:
            return _encode_chunk(array, array.data[array.chunk_region(index)])
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._stats["cache_hits"] += 1
                return cached
            future = self._inflight.get(key)
            if future is None:
                if self._executor is None:
                    self._executor = concurrent.futures.ThreadPoolExecutor(
                        self._max_workers, thread_name_prefix="eostores-chunkstore"
                    )
                future = self._executor.submit(self._compute, key, array, index)
                self._inflight[key] = future
                future.add_done_callback(lambda _, key=key: self._forget(key))
            else:
                self._stats["shared_calls"] += 1
        # shield: one caller being cancelled must not cancel the call others wait for
        wrapped = asyncio.wrap_future(future)
        wrapped.add_done_callback(_retrieve_exception)
        return await asyncio.shield(wrapped)

    def _forget(self, key: str) -> None:
        with self._lock:
            self._inflight.pop(key, None)

    def _compute(self, key: str, array: ChunkArray, index: tuple[int, ...]) -> bytes:
        """Run the chunk function (in a pool thread), check and encode its result."""
        with self._lock:
            self._stats["chunk_calls"] += 1
            self._running += 1
            if self._running > self._stats["max_concurrent_calls"]:
                self._stats["max_concurrent_calls"] = self._running
        try:
            result = array.get_chunk(index)
            value = _encode_chunk(array, self._checked(array, index, result))
        except DataStoreError as error:
            self._count_error()
            raise _with_chunk_context(error, array.name, index, self._name) from error.__cause__
        except Exception as error:
            self._count_error()
            raise ServiceError(
                f"computing chunk {index} of variable {array.name!r} failed: "
                f"{type(error).__name__}: {error}",
                data_id=self._name,
            ) from error
        finally:
            with self._lock:
                self._running -= 1
        with self._lock:
            self._cache.put(key, value)
        return value

    def _count_error(self) -> None:
        with self._lock:
            self._stats["chunk_errors"] += 1

    def _checked(self, array: ChunkArray, index: tuple[int, ...], result: Any) -> np.ndarray:
        """The chunk function's result as an array, checked for shape and dtype."""
        if isinstance(result, np.ma.MaskedArray):
            result = result.filled(array.fill_value)
        result = np.asarray(result)
        region = array.chunk_region(index)
        true_shape = tuple(s.stop - s.start for s in region)
        if result.shape not in (true_shape, array.chunks):
            raise ServiceError(
                f"chunk {index} of variable {array.name!r} has shape {result.shape}, "
                f"expected {true_shape}",
                data_id=self._name,
            )
        if not _castable(result.dtype, array.dtype):
            raise ServiceError(
                f"chunk {index} of variable {array.name!r} has dtype {result.dtype}, "
                f"expected {array.dtype}",
                data_id=self._name,
            )
        return result


# ---------------------------------------------------------------------- helpers


class _ByteLRU:
    """A least-recently-used mapping of key to bytes bounded by total size (not thread-safe)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.nbytes = 0
        self._items: collections.OrderedDict[str, bytes] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> bytes | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self.capacity:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= len(old)
        self._items[key] = value
        self.nbytes += len(value)
        while self.nbytes > self.capacity:
            _, evicted = self._items.popitem(last=False)
            self.nbytes -= len(evicted)

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0


def _with_chunk_context(
    error: DataStoreError, name: str, index: tuple[int, ...], data_id: str | None
) -> DataStoreError:
    """A copy of ``error`` (same class and attributes) whose message names the chunk."""
    annotated = copy.copy(error)
    annotated.data_id = error.data_id or data_id
    annotated.message = f"{error.message} (variable {name!r}, chunk {index})"
    annotated.args = (annotated.message, *error.args[1:])
    return annotated.with_traceback(error.__traceback__)


def _castable(source: np.dtype, target: np.dtype) -> bool:
    return source == target or np.can_cast(source, target, casting="safe")


def _storage_dtype(dtype: np.dtype) -> np.dtype:
    """The little-endian dtype chunks are encoded with (datetimes as int64)."""
    if dtype.kind == "M":
        return np.dtype("<i8")
    return dtype.newbyteorder("<") if dtype.itemsize > 1 else dtype


def _encode_chunk(array: ChunkArray, chunk: np.ndarray) -> bytes:
    """The chunk's bytes, an edge chunk padded with the fill value to the full chunk shape."""
    chunk = np.asarray(chunk)
    if chunk.shape != array.chunks:
        padded = np.full(array.chunks, array.fill_value, dtype=array.dtype)
        padded[tuple(slice(0, n) for n in chunk.shape)] = chunk
        chunk = padded
    chunk = chunk.astype(array.dtype, copy=False)
    if chunk.dtype.kind == "M":
        chunk = chunk.view("i8")
    return np.ascontiguousarray(chunk, dtype=_storage_dtype(np.dtype(array.dtype))).tobytes()


def _normalise_fill_value(name: str, dtype: np.dtype, fill_value: Any) -> Any:
    if fill_value is None:
        if dtype.kind in "fc":
            return dtype.type("nan")
        if dtype.kind == "M":
            return np.datetime64("NaT", np.datetime_data(dtype)[0])
        return dtype.type(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value = np.asarray(fill_value).astype(dtype)
        if dtype.kind in "iub" and not np.array_equal(value, np.asarray(fill_value)):
            raise ValueError("value out of range")
    except (TypeError, ValueError, OverflowError, RuntimeWarning) as error:
        raise InvalidParameterError(
            f"array {name!r}: fill_value {fill_value!r} does not fit dtype {dtype}",
            parameter="fill_value",
        ) from error
    return value[()]


def _fill_value_json(array: ChunkArray) -> Any:
    from zarr.dtype import parse_dtype

    dtype = np.dtype(array.dtype)
    value = array.fill_value
    if dtype.kind == "M":
        return int(np.asarray(value).view("i8"))
    zdtype = parse_dtype(_storage_dtype(dtype), zarr_format=3)
    return zdtype.to_json_scalar(zdtype.cast_scalar(value), zarr_format=3)


def _array_metadata(array: ChunkArray) -> dict[str, Any]:
    from zarr.dtype import parse_dtype

    dtype = np.dtype(array.dtype)
    attrs = dict(array.attrs)
    if dtype.kind == "M":
        attrs["units"] = f"{_TIME_UNITS[np.datetime_data(dtype)[0]]} since {_TIME_EPOCH}"
        attrs["calendar"] = "proleptic_gregorian"
        attrs["_FillValue"] = int(np.iinfo(np.int64).min)
    storage = _storage_dtype(dtype)
    bytes_codec: dict[str, Any] = {"name": "bytes"}
    if storage.itemsize > 1:
        bytes_codec["configuration"] = {"endian": "little"}
    return {
        "zarr_format": 3,
        "node_type": "array",
        "shape": list(array.shape),
        "data_type": parse_dtype(storage, zarr_format=3).to_json(zarr_format=3),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(array.chunks)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": _fill_value_json(array),
        "codecs": [bytes_codec],
        "attributes": _json_safe(attrs, array.name),
        "dimension_names": list(array.dims),
        "storage_transformers": [],
    }


def _build_metadata(arrays: Sequence[ChunkArray], attrs: Mapping) -> dict[str, bytes]:
    """The metadata documents by key: root group (with consolidated metadata) and arrays."""
    array_docs = {a.name: _array_metadata(a) for a in arrays}
    root = {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": _json_safe(dict(attrs), "the root group"),
        "consolidated_metadata": {
            "kind": "inline",
            "must_understand": False,
            "metadata": array_docs,
        },
    }
    documents = {_METADATA_KEY: root}
    documents.update({f"{name}/{_METADATA_KEY}": doc for name, doc in array_docs.items()})
    # like zarr itself, non-finite attribute values are written as bare NaN/Infinity tokens
    return {key: json.dumps(doc, allow_nan=True).encode() for key, doc in documents.items()}


def _json_safe(attrs: dict, owner: str) -> dict:
    """Attributes converted to plain JSON types (numpy scalars and arrays become Python)."""

    def convert(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        if isinstance(value, np.ndarray):
            return [convert(v) for v in value.tolist()]
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, str | bool | int | float):
            return value
        raise InvalidParameterError(
            f"attribute value {value!r} of {owner} is not JSON serialisable", parameter="attrs"
        )

    return convert(attrs)


def _attrs_json(attrs: dict, owner: str) -> str:
    """A canonical text of ``attrs`` for comparisons (NaN equals NaN)."""
    return json.dumps(_json_safe(attrs, owner), sort_keys=True, allow_nan=True)


def _chunk_key(name: str, index: tuple[int, ...]) -> str:
    return "/".join((name, _CHUNK_PREFIX, *map(str, index)))


def _byte_slice(value: bytes, byte_range: ByteRequest | None) -> bytes:
    if byte_range is None:
        return value
    if isinstance(byte_range, RangeByteRequest):
        return value[byte_range.start : byte_range.end]
    if isinstance(byte_range, OffsetByteRequest):
        return value[byte_range.offset :]
    if isinstance(byte_range, SuffixByteRequest):
        return value[len(value) - byte_range.suffix :] if byte_range.suffix else b""
    raise TypeError(f"unexpected byte range {byte_range!r}")


def _check_dimension_sizes(arrays: Sequence[ChunkArray], name: str | None) -> None:
    sizes: dict[str, tuple[int, str]] = {}
    for array in arrays:
        for dim, size in zip(array.dims, array.shape, strict=True):
            known = sizes.setdefault(dim, (size, array.name))
            if known[0] != size:
                raise InvalidParameterError(
                    f"dimension {dim!r} has size {known[0]} in {known[1]!r} "
                    f"but {size} in {array.name!r}",
                    parameter="arrays",
                    data_id=name,
                )


def _grouped_dask_chunks(arrays: Sequence[ChunkArray], group: int) -> dict[str, int]:
    """Per-dimension dask chunk sizes spanning up to ``group`` zarr chunks of the lazy arrays."""
    sizes: dict[str, int] = {}
    lazy = sorted(
        (a for a in arrays if a.get_chunk is not None),
        key=lambda a: (-len(a.dims), -a.chunk_nbytes),
    )
    for array in lazy:
        remaining = group
        nbytes = array.chunk_nbytes
        for dim, size, chunk in zip(array.dims, array.shape, array.chunks, strict=True):
            if dim in sizes:
                remaining = max(1, remaining // max(1, sizes[dim] // chunk))
                continue
            factor = max(
                1,
                min(
                    math.ceil(size / chunk),
                    remaining,
                    _DEFAULT_DASK_CHUNK_BYTES // max(1, nbytes),
                ),
            )
            sizes[dim] = chunk * factor
            nbytes *= factor
            remaining = max(1, remaining // factor)
    for array in arrays:
        for dim, chunk in zip(array.dims, array.chunks, strict=True):
            sizes.setdefault(dim, chunk)
    return sizes


def _same_data(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fcmM")


def _same_scalar(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fcmM")


def _retrieve_exception(future: asyncio.Future) -> None:
    """Mark a failed chunk call as seen when its awaiting reads were cancelled.

    After the first failure zarr cancels the other reads of a selection; their errors are
    reported through the first one and must not be logged again as never retrieved.
    """
    if not future.cancelled():
        future.exception()
