"""Zarr (format 2 and 3) datasets on any fsspec filesystem."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import importlib
import inspect
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .formats import FormatHandler, compute_and_wait, is_local
from .xarray_params import dataset_open_params_schema, xarray_open_kwargs

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..schema import JsonObjectSchema


def zarr_store(fs: AbstractFileSystem, path: str, *, read_only: bool = True) -> Any:
    """A zarr store for ``path`` on ``fs``: a LocalStore for local files, else fsspec.

    zarr reads through an asynchronous filesystem on its own event loop. For a synchronous
    instance of an asynchronous filesystem (s3fs, adlfs, ...) the store gets an asynchronous
    copy of its own, whose sessions are closed when the store is no longer used (or at
    exit), where zarr would leave them open.
    """
    from zarr.storage import FsspecStore, LocalStore

    if is_local(fs):
        return LocalStore(path, read_only=read_only)
    if not fs.async_impl or fs.asynchronous:
        return FsspecStore.from_mapper(fs.get_mapper(path), read_only=read_only)
    options = {**fs.storage_options, "asynchronous": True, "skip_instance_cache": True}
    store_class = _session_closing_store_class()
    store = store_class(type(fs)(**options), path=fs.get_mapper(path).root, read_only=read_only)
    store.source = (fs, path)
    close_sessions_with(store, [store.fs])
    return store


def _rebuilt_store(fs: AbstractFileSystem, path: str, read_only: bool) -> Any:
    return zarr_store(fs, path, read_only=read_only)


@functools.cache
def _session_closing_store_class() -> type:
    from zarr.storage import FsspecStore

    class SessionClosingFsspecStore(FsspecStore):
        """An FsspecStore over an asynchronous copy of a synchronous filesystem; pickled and
        copied as the recipe that makes it, so that every copy closes its own sessions."""

        source: tuple[Any, str]

        def __reduce__(self) -> tuple[Any, ...]:
            return _rebuilt_store, (*self.source, self.read_only)

        def with_read_only(self, read_only: bool = False) -> Any:
            return zarr_store(*self.source, read_only=read_only)

    return SessionClosingFsspecStore


_closers: set[weakref.finalize] = set()
_closing: set[asyncio.Task] = set()  # closings scheduled on zarr's loop
_closers_lock = threading.Lock()
_exit_handler_registered = False


def close_sessions_with(owner: Any, filesystems: list[Any]) -> None:
    """Close the sessions of the asynchronous ``filesystems`` on zarr's event loop (where
    zarr opened them) once ``owner`` is collected, or at exit while that loop still runs."""
    global _exit_handler_registered

    # zarr's exit handler stops its loop: ours, registered after it, runs before it.
    importlib.import_module("zarr.core.sync")
    with _closers_lock:
        if not _exit_handler_registered:
            atexit.register(_close_all_sessions)
            _exit_handler_registered = True
        for closer in [c for c in _closers if not c.alive]:
            _closers.discard(closer)
        _closers.add(weakref.finalize(owner, _close_sessions, filesystems))


def _close_all_sessions() -> None:
    with _closers_lock:
        pending = list(_closers)
    for closer in pending:
        closer()


def _close_sessions(filesystems: list[Any]) -> None:
    from zarr.core.sync import sync

    async def close_all() -> None:
        for fs in filesystems:
            if not getattr(fs, "asynchronous", False):
                continue
            with contextlib.suppress(Exception):
                if hasattr(fs, "set_session"):  # s3fs, HTTPFileSystem
                    client = await fs.set_session()
                else:  # adlfs
                    client = getattr(fs, "service_client", None)
                closed = client.close() if client is not None else None
                if inspect.isawaitable(closed):
                    await closed

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        # Collected on a thread that runs an event loop: zarr's own, where the sessions
        # live and where sync() cannot wait. Close them there as soon as this step ends.
        task = loop.create_task(close_all())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
        return
    with contextlib.suppress(Exception):  # e.g. zarr's loop already stopped
        sync(close_all(), timeout=5)


#: The keys of a zarr group's metadata: format 3, then format 2 (consolidated or not).
METADATA_KEYS = ("zarr.json", ".zmetadata", ".zgroup")


def zarr_format_of(fs: AbstractFileSystem, path: str) -> int | None:
    """The zarr format (2 or 3) of the group at ``path``, or None if it is no zarr group."""
    if fs.exists(f"{path}/zarr.json"):
        return 3
    if fs.exists(f"{path}/.zmetadata") or fs.exists(f"{path}/.zgroup"):
        return 2
    return None


def is_zarr(fs: AbstractFileSystem, path: str) -> bool:
    """Whether ``path`` is a zarr group (either format)."""
    return zarr_format_of(fs, path) is not None


def _cached(store: Any, cache_size: int) -> Any:
    from zarr.storage import WrapperStore

    class LruCacheStore(WrapperStore):
        """Keeps recently read keys in memory, up to ``cache_size`` bytes."""

        def __init__(self, inner, max_bytes: int):
            super().__init__(inner)
            self._max_bytes = max_bytes
            self._entries: OrderedDict[str, Any] = OrderedDict()
            self._size = 0

        async def get(self, key, prototype, byte_range=None):
            if byte_range is not None:
                return await self._store.get(key, prototype, byte_range)
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            value = await self._store.get(key, prototype)
            if value is not None and len(value) <= self._max_bytes:
                self._entries[key] = value
                self._size += len(value)
                while self._size > self._max_bytes:
                    _, evicted = self._entries.popitem(last=False)
                    self._size -= len(evicted)
            return value

    return LruCacheStore(store, cache_size)


class ZarrHandler(FormatHandler):
    format_id = "zarr"
    data_types = ("dataset",)
    extensions = (".zarr",)
    writable_types = ("dataset",)
    is_directory = True

    def exists(self, fs: AbstractFileSystem, path: str) -> bool:
        return is_zarr(fs, path)

    def get_open_params_schema(self, data_type: str) -> JsonObjectSchema:
        from ..schema import JsonBooleanSchema, JsonIntegerSchema, JsonStringSchema

        return dataset_open_params_schema(
            group=JsonStringSchema(title="Group path inside the zarr hierarchy"),
            consolidated=JsonBooleanSchema(
                title="Use consolidated metadata",
                description="Default: use it when present, else read each array's metadata.",
            ),
            cache_size=JsonIntegerSchema(
                minimum=0, title="In-memory cache of recently read chunks, in bytes"
            ),
            log_access=JsonBooleanSchema(
                default=False, title="Log every store access at debug level"
            ),
        )

    def open(self, fs: AbstractFileSystem, path: str, data_type: str, params: Mapping) -> Any:
        import xarray as xr

        store = zarr_store(fs, path)
        if params.get("cache_size"):
            store = _cached(store, params["cache_size"])
        if params.get("log_access"):
            from zarr.storage import LoggingStore

            store = LoggingStore(store, log_level="DEBUG")
        kwargs = xarray_open_kwargs(params)
        kwargs.setdefault("chunks", {})
        if not params.get("group"):
            # Knowing the format spares the probing of both formats' metadata keys.
            kwargs["zarr_format"] = zarr_format_of(fs, path)
        for key in ("group", "consolidated"):
            if params.get(key) is not None:
                kwargs[key] = params[key]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*onsolidated metadata.*")
            return xr.open_zarr(store, **kwargs)

    def get_write_params_schema(self) -> JsonObjectSchema:
        from ..schema import JsonIntegerSchema, JsonObjectSchema, JsonStringSchema

        return JsonObjectSchema(
            properties=dict(
                zarr_format=JsonIntegerSchema(enum=[2, 3], default=3, title="Zarr format"),
                append_dim=JsonStringSchema(
                    title="Append along this dimension to existing data",
                    description="The existing data must have the same variables and the "
                    "other dimensions unchanged.",
                ),
            ),
            additional_properties=False,
        )

    def write(self, data: Any, fs: AbstractFileSystem, path: str, params: Mapping) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*onsolidated metadata.*")
            delayed = _clear_encoding_chunks(data).to_zarr(
                zarr_store(fs, path, read_only=False),
                mode="w-",
                zarr_format=params.get("zarr_format", 3),
                consolidated=True,
                compute=False,
            )
            compute_and_wait(delayed)

    def append(self, data: Any, fs: AbstractFileSystem, path: str, params: Mapping) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*onsolidated metadata.*")
            _clear_encoding_chunks(data).to_zarr(
                zarr_store(fs, path, read_only=False),
                append_dim=params["append_dim"],
                consolidated=True,
            )


def _clear_encoding_chunks(dataset: Any) -> Any:
    """Drop chunk encodings inherited from the source, which may not fit a subset."""
    dataset = dataset.copy(deep=False)
    for variable in dataset.variables.values():
        for key in ("chunks", "preferred_chunks", "shards"):
            variable.encoding.pop(key, None)
    return dataset
