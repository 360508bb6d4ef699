"""The filesystem data store and its local kinds: file and memory (remote ones: remote.py)."""

from __future__ import annotations

import contextlib
import posixpath
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from ..datatype import DataType, DataTypeLike
from ..errors import (
    DataStoreError,
    InvalidParameterError,
)
from ..paths import check_data_id, confine
from ..store import MutableDataStore
from .errors import translate_errors
from .formats import (
    FormatHandler,
    all_handlers,
    get_handler,
    handler_for_data_type,
    handler_for_path,
)
from .paths import is_included, join_root, normalize_data_id
from .storage_options import STORE_IDS, store_params_schema

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..descriptor import DataDescriptor
    from ..schema import JsonObjectSchema

__all__ = [
    "FileDataStore",
    "FsDataStore",
    "MemoryDataStore",
    "fs_store_class",
    "get_filename_extensions",
    "new_fs_data_store",
]


class FsDataStore(MutableDataStore):
    """A store of data files and directories below ``root`` on an fsspec filesystem.

    Data ids are paths relative to ``root``; the format follows from the file name
    extension (``.zarr``, ``.nc``, ``.tif``, ``.geojson``, ``.shp``, ``.levels``).
    """

    protocol: ClassVar[str] = "file"
    #: The store parameter that says where the service is, named when it cannot be reached.
    endpoint_parameter: ClassVar[str | None] = None

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        self._fs: AbstractFileSystem | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fs"] = None
        return state

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        return store_params_schema(cls.protocol)

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset", "mldataset", "geodataframe")

    # -- filesystem access ------------------------------------------------------------------

    @property
    def root(self) -> str:
        return self._store_params.get("root") or ""

    @property
    def read_only(self) -> bool:
        return bool(self._store_params.get("read_only"))

    def _storage_options(self) -> dict[str, Any]:
        return dict(self._store_params.get("storage_options") or {})

    @property
    def fs(self) -> AbstractFileSystem:
        """The fsspec filesystem, created on first use."""
        if self._fs is None:
            import fsspec

            with self._translating(None), self._requiring_libraries():
                self._fs = fsspec.filesystem(self.protocol, **self._storage_options())
        return self._fs

    @contextlib.contextmanager
    def _requiring_libraries(self, data_id: str | None = None) -> Iterator[None]:
        """A library of the store that cannot be imported gives a DataStoreError saying
        what to install, not a ModuleNotFoundError."""
        from ..registry import STORES_GROUP, check_requirements, import_error

        check_requirements(STORES_GROUP, self.store_id, store_id=self.store_id, data_id=data_id)
        try:
            yield
        except ImportError as error:
            raise import_error(
                STORES_GROUP, self.store_id, error, store_id=self.store_id, data_id=data_id
            ) from error

    @contextlib.contextmanager
    def _using_format(self, handler: FormatHandler, data_id: str) -> Iterator[None]:
        """Check that the libraries of ``handler``'s format are installed, before and while
        using it; a missing one gives a DataStoreError with the ``pip install`` command."""
        from ..registry import FORMATS_GROUP, check_requirements, import_error

        context = dict(store_id=self.store_id, data_id=data_id)
        check_requirements(FORMATS_GROUP, handler.format_id, **context)
        try:
            yield
        except ImportError as error:
            raise import_error(FORMATS_GROUP, handler.format_id, error, **context) from error

    def _translating(self, data_id: str | None) -> contextlib.AbstractContextManager[None]:
        """Filesystem and client-library errors inside become DataStoreError subclasses."""
        return translate_errors(self.store_id, data_id, endpoint_parameter=self.endpoint_parameter)

    def _path(self, data_id: str) -> str:
        """The filesystem path of a normalized data id, for reading."""
        return join_root(self.root, data_id)

    def _write_path(self, data_id: str) -> str:
        """The filesystem path of a normalized data id, for writing and deleting."""
        return self._path(data_id)

    def _normalize(self, data_id: str) -> str:
        return normalize_data_id(data_id, store_id=self.store_id)

    def _patterns(self, key: str) -> list[str] | None:
        value = self._store_params.get(key)
        return [value] if isinstance(value, str) else value

    def _is_included(self, data_id: str) -> bool:
        """Whether ``data_id`` passes the store's ``includes`` and ``excludes``."""
        return is_included(data_id, self._patterns("includes"), self._patterns("excludes"))

    @classmethod
    def get_filename_extensions(cls, accessor_type: str = "openers") -> dict[str, list[str]]:
        """File name extensions -> ids of this store's openers (or ``"writers"``) for them."""
        return _filename_extensions(accessor_type, cls.protocol)

    # -- listing ----------------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[str, FormatHandler]]:
        max_depth = self._store_params.get("max_depth", 1)
        root_path = self.root.rstrip("/") or ("/" if self.root.startswith("/") else "")
        pending: list[tuple[str, int]] = [(root_path, 1)]
        with self._translating(None):
            if root_path and not self.fs.exists(root_path):
                return
            while pending:
                directory, depth = pending.pop(0)
                entries = sorted(self.fs.ls(directory or "", detail=True), key=lambda e: e["name"])
                for entry in entries:
                    name = entry["name"].rstrip("/")
                    base = posixpath.basename(name)
                    if base.startswith(".") or not base:
                        continue
                    data_id = self._relative(name)
                    if data_id is None:
                        continue
                    is_dir = entry.get("type") == "directory"
                    handler = self._handler_of(name, is_dir)
                    if handler is not None:
                        if self._is_included(data_id):
                            yield data_id, handler
                    elif is_dir and (max_depth is None or depth < max_depth):
                        pending.append((name, depth + 1))

    def _relative(self, name: str) -> str | None:
        root = self.fs._strip_protocol(self.root).rstrip("/") if self.root else ""
        name = self.fs._strip_protocol(name).rstrip("/")
        if root and not name.startswith(root + "/"):
            return None
        return name[len(root) + 1 :] if root else name.lstrip("/")

    def _handler_of(self, path: str, is_dir: bool) -> FormatHandler | None:
        handler = handler_for_path(path)
        if handler is not None:
            return handler if handler.is_directory == is_dir else None
        if is_dir:
            from .zarr import is_zarr

            if is_zarr(self.fs, path):
                return get_handler("zarr")
        return None

    def get_data_ids(
        self,
        data_type: DataTypeLike = None,
        include_attrs: bool | list[str] | None = None,
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        wanted = self._assert_data_type(data_type)
        for data_id, handler in self._walk():
            if not _handler_delivers(handler, wanted):
                continue
            if include_attrs:
                attrs = {"data_type": handler.data_types[0], "format": handler.format_id}
                yield data_id, self._attrs_selection(attrs, include_attrs)
            else:
                yield data_id

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        wanted = self._assert_data_type(data_type)
        check_data_id(data_id, store_id=self.store_id)
        try:
            data_id = self._normalize(data_id)
        except InvalidParameterError:
            return False
        if not self._is_included(data_id):
            return False
        with self._translating(data_id):
            handler = self._existing_handler(data_id)
        return handler is not None and _handler_delivers(handler, wanted)

    def _existing_handler(self, data_id: str) -> FormatHandler | None:
        path = self._path(data_id)
        handler = handler_for_path(path)
        if handler is not None and handler.is_directory:
            # Object stores and http have no directories: look for the metadata keys.
            return handler if handler.exists(self.fs, path) else None
        if not self.fs.exists(path):
            return None
        return self._handler_of(path, self.fs.isdir(path))

    def _resolve(self, data_id: str, opener_id: str | None) -> tuple[str, FormatHandler]:
        data_id = self._normalize(data_id)
        if not self._is_included(data_id):
            raise self._not_found(data_id, "excluded by the store's includes/excludes")
        with self._translating(data_id):
            handler = self._existing_handler(data_id)
            if handler is None:
                path_handler = handler_for_path(data_id)
                if (path_handler is not None and path_handler.is_directory) or not (
                    self.fs.exists(self._path(data_id))
                ):
                    raise self._not_found(data_id, f"nothing at {self._path(data_id)}")
                raise InvalidParameterError(
                    "the format cannot be determined from the data id; known extensions: "
                    + ", ".join(e for h in all_handlers() for e in h.extensions),
                    store_id=self.store_id,
                    data_id=data_id,
                )
        if opener_id is not None:
            handler = self._handler_for_accessor(opener_id, "opener_id", data_id)
        return data_id, handler

    def _handler_for_accessor(
        self, accessor_id: str, parameter: str, data_id: str | None
    ) -> FormatHandler:
        from ..accessor import parse_accessor_id

        accessor = parse_accessor_id(accessor_id)
        if accessor.storage != self.protocol and accessor.storage != self.store_id:
            raise InvalidParameterError(
                f"{parameter} {accessor_id!r} is for storage {accessor.storage!r}, "
                f"this store uses {self.protocol!r}",
                store_id=self.store_id,
                data_id=data_id,
                parameter=parameter,
            )
        return get_handler(accessor.format)

    def _data_type_for(self, handler: FormatHandler, data_type: DataTypeLike, data_id: str) -> str:
        wanted = self._assert_data_type(data_type)
        if wanted.alias == "any":
            return handler.data_types[0]
        if wanted.alias not in handler.data_types:
            raise InvalidParameterError(
                f"{handler.format_id} data cannot be opened as {wanted.alias!r}; "
                f"allowed: {', '.join(handler.data_types)}",
                store_id=self.store_id,
                data_id=data_id,
                parameter="data_type",
            )
        return wanted.alias

    def _validated_open_params(
        self, handler: FormatHandler, data_type: DataTypeLike, data_id: str, params: dict
    ) -> tuple[str, dict[str, Any]]:
        from ..schema import parse_bbox, parse_time_range

        dtype = self._data_type_for(handler, data_type, data_id)
        schema = handler.get_open_params_schema(dtype)
        validated = schema.validate_params(params, store_id=self.store_id, data_id=data_id)
        try:  # the order of bbox corners and of times is checked before any I/O too
            if validated.get("bbox") is not None:
                parse_bbox(validated["bbox"], geographic=False)
            if validated.get("time_range") is not None:
                parse_time_range(validated["time_range"])
        except InvalidParameterError as error:
            error.store_id, error.data_id = self.store_id, data_id
            raise
        return dtype, validated

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        return self._resolve(data_id, None)[1].data_types

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        """The openers of ``data_id``'s format; where its extension tells the format, the
        data need not exist (nothing is read)."""
        wanted = self._assert_data_type(data_type)
        if data_id:
            handler = handler_for_path(self._normalize(data_id))
            handlers = [handler if handler is not None else self._resolve(data_id, None)[1]]
        else:
            handlers = all_handlers()
        return tuple(
            f"{t}:{h.format_id}:{self.protocol}"
            for h in handlers
            for t in h.data_types
            if wanted.alias in ("any", t)
        )

    # -- describing and opening -------------------------------------------------------------

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DataDescriptor:
        data_id, handler = self._resolve(data_id, None)
        dtype = self._data_type_for(handler, data_type, data_id)
        with self._using_format(handler, data_id), self._translating(data_id):
            descriptor = handler.describe(self.fs, self._path(data_id), data_id, dtype)
        descriptor.open_params_schema = handler.get_open_params_schema(dtype)
        return descriptor

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        if data_id is None and opener_id is None:
            from ..schema import JsonObjectSchema

            return JsonObjectSchema(
                additional_properties=True,
                description="The parameters depend on the format; pass a data id or an opener id.",
            )
        if data_id is not None:
            data_id, handler = self._resolve(data_id, opener_id)
        else:
            handler = self._handler_for_accessor(opener_id, "opener_id", None)
        data_type = handler.data_types[0]
        if opener_id is not None:
            from ..accessor import parse_accessor_id

            data_type = parse_accessor_id(opener_id).data_type
        return handler.get_open_params_schema(data_type)

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        if opener_id is not None and data_type is None:
            from ..accessor import parse_accessor_id

            data_type = parse_accessor_id(opener_id).data_type
        # Where the name tells the format, parameters are checked before any I/O.
        data_id = self._normalize(data_id)
        named = (
            self._handler_for_accessor(opener_id, "opener_id", data_id)
            if opener_id is not None
            else handler_for_path(data_id)
        )
        if named is not None:
            self._validated_open_params(named, data_type, data_id, open_params)
        data_id, handler = self._resolve(data_id, opener_id)
        dtype, params = self._validated_open_params(handler, data_type, data_id, open_params)
        with self._using_format(handler, data_id), self._translating(data_id):
            data = handler.open(self.fs, self._path(data_id), dtype, params)
            if dtype == "dataset":
                from .subset import apply_common_params

                data = apply_common_params(data, params, store_id=self.store_id, data_id=data_id)
        return data

    # -- writing ------------------------------------------------------------------------------

    def get_data_writer_ids(self, data_type: DataTypeLike = None) -> tuple[str, ...]:
        wanted = self._assert_data_type(data_type)
        return tuple(
            f"{t}:{h.format_id}:{self.protocol}"
            for h in all_handlers()
            for t in h.writable_types
            if wanted.alias in ("any", t)
        )

    def get_write_data_params_schema(self, writer_id: str | None = None) -> JsonObjectSchema:
        if writer_id is None:
            return get_handler("zarr").get_write_params_schema()
        return self._handler_for_accessor(writer_id, "writer_id", None).get_write_params_schema()

    def get_delete_data_params_schema(self, data_id: str | None = None) -> JsonObjectSchema:
        from ..schema import JsonObjectSchema

        return JsonObjectSchema(additional_properties=False)

    def _assert_writable(self, data_id: str | None) -> None:
        if self.read_only:
            raise DataStoreError(
                "the store is read-only (read_only=True)", store_id=self.store_id, data_id=data_id
            )

    def write_data(
        self,
        data: Any,
        data_id: str | None = None,
        writer_id: str | None = None,
        replace: bool = False,
        **write_params: Any,
    ) -> str:
        """Write ``data``; atomically unless appending (``append_dim``) to existing data."""
        self._assert_writable(data_id)
        data_type = DataType.of(data).alias
        handler = self._writer_handler(data_type, data_id, writer_id)
        if data_id is None:
            data_id = uuid.uuid4().hex + handler.extensions[0]
        data_id = self._normalize(data_id)
        if data_type not in handler.writable_types:
            raise InvalidParameterError(
                f"the {handler.format_id} writer cannot write {data_type} data",
                store_id=self.store_id,
                data_id=data_id,
                parameter="writer_id",
            )
        params = handler.get_write_params_schema().validate_params(
            write_params, store_id=self.store_id, data_id=data_id
        )
        if params.get("base_dataset_id"):
            # The levels format stores the base dataset relative to the levels' folder.
            base_id = self._normalize(params["base_dataset_id"])
            params["base_dataset_id"] = posixpath.relpath(
                base_id, posixpath.dirname(data_id) or "."
            )
        path = self._write_path(data_id)
        with self._using_format(handler, data_id), self._translating(data_id):
            exists = self.fs.exists(path)
            if params.get("append_dim") and exists:
                handler.append(data, self.fs, path, params)
                return data_id
            if exists and not replace:
                raise InvalidParameterError(
                    "data with this id exists; pass replace=True to overwrite it",
                    store_id=self.store_id,
                    data_id=data_id,
                    parameter="replace",
                )
            self._write_atomically(handler, data, path, params, exists)
        return data_id

    def _writer_handler(
        self, data_type: str, data_id: str | None, writer_id: str | None
    ) -> FormatHandler:
        if writer_id is not None:
            return self._handler_for_accessor(writer_id, "writer_id", data_id)
        if data_id is not None:
            handler = handler_for_path(data_id)
            if handler is not None:
                return handler
        return handler_for_data_type(data_type)

    def _write_atomically(
        self, handler: FormatHandler, data: Any, path: str, params: dict[str, Any], exists: bool
    ) -> None:
        directory, name = posixpath.split(path)
        token = uuid.uuid4().hex[:12]
        temporary = posixpath.join(directory, f".tmp-{token}-{name}")
        if directory:
            self.fs.makedirs(directory, exist_ok=True)
        try:
            handler.write(data, self.fs, temporary, params)
            # The writer may have used another filesystem instance (zarr does): listings
            # cached before the write do not show the new files yet.
            self.fs.invalidate_cache(directory or None)
            if exists:
                old = posixpath.join(directory, f".old-{token}-{name}")
                handler.move(self.fs, path, old)
                handler.move(self.fs, temporary, path)
                handler.delete(self.fs, old)
            else:
                handler.move(self.fs, temporary, path)
        except BaseException:
            with contextlib.suppress(Exception):
                if self.fs.exists(temporary):
                    handler.delete(self.fs, temporary)
            raise

    def delete_data(self, data_id: str, **delete_params: Any) -> None:
        self._assert_writable(data_id)
        self.get_delete_data_params_schema(data_id).validate_params(
            delete_params, store_id=self.store_id, data_id=data_id
        )
        data_id, handler = self._resolve(data_id, None)
        path = self._write_path(data_id)
        with self._translating(data_id):
            handler.delete(self.fs, path)


def get_filename_extensions(accessor_type: str = "openers") -> dict[str, list[str]]:
    """File name extensions -> ids of the registered openers (or ``"writers"``) of their
    format, for every storage (``.nc`` -> ``dataset:netcdf:file``, ``dataset:netcdf:s3``...)."""
    return _filename_extensions(accessor_type, None)


def _filename_extensions(accessor_type: str, storage: str | None) -> dict[str, list[str]]:
    from ..accessor import parse_accessor_id
    from ..registry import find_data_opener_extensions, find_data_writer_extensions

    if accessor_type not in ("openers", "writers"):
        raise InvalidParameterError(
            f"accessor_type must be 'openers' or 'writers', got {accessor_type!r}",
            parameter="accessor_type",
        )
    find = (
        find_data_opener_extensions if accessor_type == "openers" else find_data_writer_extensions
    )
    accessors = [parse_accessor_id(e.name) for e in find(storage_id=storage)]
    result: dict[str, list[str]] = {}
    for handler in all_handlers():
        types = handler.data_types if accessor_type == "openers" else handler.writable_types
        ids = [
            str(accessor)
            for data_type in types
            for accessor in accessors
            if accessor.format == handler.format_id and accessor.data_type == data_type
        ]
        for extension in handler.extensions if ids else ():
            known = result.setdefault(extension, [])
            known += [i for i in ids if i not in known]
    return result


def _handler_delivers(handler: FormatHandler, wanted: DataType) -> bool:
    return wanted.alias == "any" or wanted.alias in handler.data_types


class FileDataStore(FsDataStore):
    """Data in a directory of the local filesystem."""

    protocol = "file"
    store_id = "file"

    def _storage_options(self) -> dict[str, Any]:
        return {"auto_mkdir": True, **super()._storage_options()}

    def _write_path(self, data_id: str) -> str:
        # Symlinks below the root must not lead a write or a delete outside it.
        return str(confine(self.root or ".", data_id, store_id=self.store_id, data_id=data_id))


class MemoryDataStore(FsDataStore):
    """Data in fsspec's process-wide in-memory filesystem (tests, scratch space)."""

    protocol = "memory"
    store_id = "memory"


def fs_store_class(protocol: str) -> type[FsDataStore]:
    """The registered store class of an fsspec protocol; a generic one for other protocols."""
    from ..registry import find_data_store_extensions, get_data_store_class

    store_id = STORE_IDS.get(protocol, protocol)
    if find_data_store_extensions(lambda e: e.name == store_id):
        return get_data_store_class(store_id)
    return type(
        f"{protocol.title()}DataStore",
        (FsDataStore,),
        {"protocol": protocol, "store_id": store_id, "__module__": __name__},
    )


def new_fs_data_store(
    protocol: str,
    root: str = "",
    max_depth: int | None = 1,
    read_only: bool = False,
    includes: str | list[str] | None = None,
    excludes: str | list[str] | None = None,
    storage_options: dict[str, Any] | None = None,
    **params: Any,
) -> FsDataStore:
    """A filesystem store for ``protocol`` (file, memory, s3, https, ftp, abfs, reference...)."""
    values = dict(root=root, max_depth=max_depth, read_only=read_only, **params)
    for key, value in (
        ("includes", includes),
        ("excludes", excludes),
        ("storage_options", storage_options),
    ):
        if value is not None:
            values[key] = value
    return fs_store_class(protocol)(**values)
