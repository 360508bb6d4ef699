"""Zarr (format 2 and 3) datasets on any fsspec filesystem."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .formats import FormatHandler, compute_and_wait, is_local
from .xarray_params import dataset_open_params_schema, xarray_open_kwargs

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..schema import JsonObjectSchema


def zarr_store(fs: AbstractFileSystem, path: str, *, read_only: bool = True) -> Any:
    """A zarr store for ``path`` on ``fs``: a LocalStore for local files, else fsspec."""
    from zarr.storage import FsspecStore, LocalStore

    if is_local(fs):
        return LocalStore(path, read_only=read_only)
    return FsspecStore.from_mapper(fs.get_mapper(path), read_only=read_only)


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
