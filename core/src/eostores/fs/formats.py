"""Data formats of the filesystem stores: which format a path has and how to handle it."""

from __future__ import annotations

import posixpath
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import InvalidParameterError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..descriptor import DataDescriptor
    from ..schema import JsonObjectSchema


class FormatHandler(ABC):
    """Reads (and possibly writes) one format on any fsspec filesystem."""

    format_id: ClassVar[str]
    #: Data types the format can be opened as; the first is the default.
    data_types: ClassVar[tuple[str, ...]]
    #: Lower-case file name suffixes, first one used for new data ids.
    extensions: ClassVar[tuple[str, ...]]
    #: Data types the format can be written from (empty: read-only format).
    writable_types: ClassVar[tuple[str, ...]] = ()
    #: Whether the data is a directory (zarr, levels) rather than a file.
    is_directory: ClassVar[bool] = False

    @abstractmethod
    def get_open_params_schema(self, data_type: str) -> JsonObjectSchema:
        """Parameters of ``open`` for ``data_type``."""

    @abstractmethod
    def open(self, fs: AbstractFileSystem, path: str, data_type: str, params: Mapping) -> Any:
        """Open ``path`` lazily as ``data_type`` with validated ``params``."""

    def describe(
        self, fs: AbstractFileSystem, path: str, data_id: str, data_type: str
    ) -> DataDescriptor:
        """Describe ``path`` from its metadata; the default opens it lazily."""
        from ..descriptor import new_data_descriptor

        return new_data_descriptor(data_id, self.open(fs, path, data_type, {}))

    def get_write_params_schema(self) -> JsonObjectSchema:
        from ..schema import JsonObjectSchema

        return JsonObjectSchema(additional_properties=False)

    def write(self, data: Any, fs: AbstractFileSystem, path: str, params: Mapping) -> None:
        """Write ``data`` to the new ``path`` (the caller makes the write atomic)."""
        raise InvalidParameterError(
            f"the {self.format_id} format cannot be written", parameter="writer_id"
        )

    def exists(self, fs: AbstractFileSystem, path: str) -> bool:
        """Whether data of this format exist at ``path``."""
        return fs.exists(path)

    def move(self, fs: AbstractFileSystem, source: str, target: str) -> None:
        """Move the data at ``source`` (and anything that belongs to it) to ``target``."""
        fs.mv(source, target, recursive=self.is_directory)

    def delete(self, fs: AbstractFileSystem, path: str) -> None:
        """Remove ``path`` and anything that belongs to it."""
        fs.rm(path, recursive=self.is_directory)

    def append(self, data: Any, fs: AbstractFileSystem, path: str, params: Mapping) -> None:
        """Append ``data`` to the existing ``path``."""
        raise InvalidParameterError(
            f"the {self.format_id} format does not support appending", parameter="append_dim"
        )


def is_local(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` is the local filesystem, whose paths libraries can open themselves."""
    protocol = fs.protocol
    return "file" in ((protocol,) if isinstance(protocol, str) else protocol)


def compute_and_wait(delayed: Any) -> None:
    """Compute a dask write; if a task fails, wait for the running ones before raising.

    With the default threaded scheduler the pool is our own, so that no chunk is still
    being written while the caller removes a failed write's temporary output.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    import dask
    import dask.threaded

    if dask.base.get_scheduler() not in (None, dask.threaded.get):
        dask.compute(delayed)
        return
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        dask.compute(delayed, scheduler="threads", pool=pool)


_handlers: dict[str, FormatHandler] | None = None
_handlers_lock = threading.Lock()


def _load_handlers() -> dict[str, FormatHandler]:
    """The handlers of the formats registered in the entry point group ``eostores.formats``.

    Loaded once, under a lock, and published only when complete: threads opening data for
    the first time at once all see every format.
    """
    global _handlers
    handlers = _handlers
    if handlers is not None:
        return handlers
    with _handlers_lock:
        if _handlers is None:
            from ..errors import DataStoreError
            from ..registry import find_format_extensions

            loaded: dict[str, FormatHandler] = {}
            for extension in find_format_extensions():
                # Handler modules import their libraries (rioxarray, geopandas) lazily.
                try:
                    handler = extension.load()()
                except DataStoreError as error:
                    warnings.warn(
                        f"format {extension.name!r} is unavailable: {error}", stacklevel=3
                    )
                    continue
                loaded[handler.format_id] = handler
            _handlers = loaded
        return _handlers


def get_handler(format_id: str) -> FormatHandler:
    handlers = _load_handlers()
    if format_id not in handlers:
        raise InvalidParameterError(
            f"unknown format {format_id!r}; allowed: {', '.join(handlers)}",
            parameter="format",
        )
    return handlers[format_id]


def all_handlers() -> list[FormatHandler]:
    return list(_load_handlers().values())


def handler_for_path(path: str) -> FormatHandler | None:
    """The handler whose extension ends ``path`` (longest match), or None."""
    name = posixpath.basename(path.rstrip("/")).lower()
    best, best_len = None, 0
    for handler in _load_handlers().values():
        for ext in handler.extensions:
            if name.endswith(ext) and len(ext) > best_len:
                best, best_len = handler, len(ext)
    return best


def handler_for_data_type(data_type: str) -> FormatHandler:
    """The default handler for writing ``data_type``."""
    defaults = {"dataset": "zarr", "mldataset": "levels", "geodataframe": "geojson"}
    if data_type not in defaults:
        raise InvalidParameterError(f"cannot write data of type {data_type!r}", parameter="data")
    return get_handler(defaults[data_type])
