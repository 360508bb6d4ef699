"""The ``zenodo`` data store: the files of one Zenodo record as data ids."""

from __future__ import annotations

import contextlib
import posixpath
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from eostores.datatype import DataType, DataTypeLike
from eostores.errors import DataNotFoundError, DataStoreError, InvalidParameterError
from eostores.store import DataStore

from .config import FORMATS, STORAGE_ID, STORE_ID, FileFormat, format_of

if TYPE_CHECKING:
    from eostores.descriptor import DataDescriptor
    from eostores.preload import PreloadHandle
    from eostores.schema import JsonObjectSchema

    from .api import ZenodoApi
    from .catalog import Record, RecordFile
    from .schema import KnownLayout

__all__ = ["ZenodoDataStore"]

#: Bytes read at least per range request: format headers are read in small scattered
#: pieces, and every surplus byte of a range travels for nothing.
BLOCK_SIZE = 64 * 1024


class ZenodoDataStore(DataStore):
    """The files of one Zenodo record (``root``), opened lazily where the format allows.

    Data ids are the file keys of the record. NetCDF4/HDF5, zipped Zarr and GeoTIFF/COG
    files are opened over HTTP range requests; GeoJSON, zipped shapefiles, GeoPackages
    and CSV tables are read whole (md5-checked); archives (zip, tar, tar.gz) are
    preloaded into the cache store with :meth:`preload_data`.
    """

    store_id = STORE_ID

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        self._lock = threading.RLock()
        self._record: Record | None = None
        self._api: ZenodoApi | None = None
        self._fs: Any = None
        self._token_resolved = False
        self._token: Any = None
        self._known: dict[str, KnownLayout] = {}
        self._descriptors: dict[tuple[str, str], DataDescriptor] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_lock"] = None
        state["_fs"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # -- parameters and service access ------------------------------------------------------

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        from .schema import store_params_schema

        return store_params_schema()

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset", "mldataset", "geodataframe")

    @property
    def http_config(self) -> Any:
        """The :class:`eostores.http.HttpConfig` of the store's HTTP parameters."""
        from eostores.http import HttpConfig

        return HttpConfig.from_params(self._store_params, store_id=self.store_id)

    @property
    def api_url(self) -> str:
        from .config import DEFAULT_API_URL

        return str(self._store_params.get("api_url") or DEFAULT_API_URL).rstrip("/")

    def _access_token(self) -> Any:
        with self._lock:
            if not self._token_resolved:
                from eostores.credentials import resolve_secret

                self._token = resolve_secret(
                    "access_token",
                    explicit=self._store_params.get("access_token"),
                    env=["ZENODO_ACCESS_TOKEN"],
                    netrc_host=urlsplit(self.api_url).hostname,
                    store_id=self.store_id,
                    required=False,
                )
                self._token_resolved = True
            return self._token

    @property
    def api(self) -> ZenodoApi:
        """The client of the REST API."""
        with self._lock:
            if self._api is None:
                from .api import ZenodoApi

                self._api = ZenodoApi(self.api_url, self.http_config, self._access_token())
            return self._api

    @property
    def record(self) -> Record:
        """The record ``root`` designates, fetched on first use."""
        with self._lock:
            if self._record is None:
                from .catalog import resolve_record

                with self._context(None):
                    self._record = resolve_record(self.api, self._store_params["root"])
            return self._record

    @property
    def record_id(self) -> str:
        """The id of the record version this store serves (a concept id resolved)."""
        return self.record.record_id

    def list_versions(self) -> list[dict[str, Any]]:
        """The published versions of the record, newest first, with their ids and dates."""
        from .catalog import record_versions

        with self._context(None):
            versions = record_versions(self.api, self.record_id)
        return [
            {
                "record_id": version.record_id,
                "version": version.version,
                "publication_date": version.publication_date,
                "doi": version.doi,
                "is_latest": version.is_latest,
            }
            for version in versions
        ]

    @property
    def file_system(self) -> Any:
        """A read-only fsspec filesystem reading byte ranges of the record's file URLs."""
        with self._lock:
            if self._fs is None:
                from eostores.rangefs import RangeFileSystem

                self._fs = RangeFileSystem(session=self.api.session, block_size=BLOCK_SIZE)
            return self._fs

    @property
    def cache_store(self) -> Any:
        """The filesystem store preloaded files of this record go to: the folder named
        after the record id below the root of ``cache_store_params`` (by default the
        store's cache folder, see :func:`eostores.cache.default_cache_dir`)."""
        from eostores.fs import FsDataStore
        from eostores.registry import new_data_store

        from .config import DEFAULT_CACHE_STORE_PARAMS, OTHER_CACHE_ROOT

        store_id = self._store_params.get("cache_store_id") or "file"
        params = {
            **DEFAULT_CACHE_STORE_PARAMS,
            **(self._store_params.get("cache_store_params") or {}),
        }
        root = params.get("root")
        if not root:
            if store_id == "file":
                from eostores.cache import default_cache_dir

                root = str(default_cache_dir(self.store_id))
            else:
                root = OTHER_CACHE_ROOT
        params["root"] = posixpath.join(str(root).rstrip("/"), self.record_id)
        store = new_data_store(store_id, **params)
        if not isinstance(store, FsDataStore):
            raise InvalidParameterError(
                f"cache_store_id {store_id!r} is not a filesystem store (file, memory, s3...)",
                store_id=self.store_id,
                parameter="cache_store_id",
            )
        return store

    # -- files and formats ------------------------------------------------------------------

    def _check_id(self, data_id: Any) -> str:
        from eostores.paths import check_data_id

        return check_data_id(data_id, store_id=self.store_id)

    def _file(self, data_id: str) -> tuple[RecordFile, FileFormat]:
        self._check_id(data_id)
        record = self.record
        file = record.files.get(data_id)
        if file is None:
            known = ", ".join(sorted(k for k in record.files if format_of(k))) or "none"
            hint = f"record {record.record_id} has no such file; data files: {known}"
            if record.files_need_token and self._access_token() is None:
                hint += (
                    f"; the record's files are {record.metadata['access_right']} and may be "
                    "listed only to callers with an access token: give access_token (or "
                    "set ZENODO_ACCESS_TOKEN)"
                )
            raise self._not_found(data_id, hint)
        fmt = file.format
        if fmt is None:
            raise self._not_found(
                data_id,
                f"file of record {record.record_id} is not in a format this store reads "
                "(NetCDF, Zarr zip, GeoTIFF, GeoJSON, shapefile zip, GeoPackage, CSV, "
                "zip or tar archives)",
            )
        return file, fmt

    def _data_type(
        self, fmt: FileFormat, data_id: str, data_type: DataTypeLike, opener_id: str | None
    ) -> str:
        if opener_id is not None:
            accessor = self._parse_opener(opener_id, data_id)
            if accessor.format != fmt.format_id:
                raise InvalidParameterError(
                    f"opener {opener_id!r} reads {accessor.format}, but {data_id!r} is "
                    f"{fmt.format_id}; use one of {', '.join(_opener_ids(fmt))}",
                    store_id=self.store_id,
                    data_id=data_id,
                    parameter="opener_id",
                )
            if data_type is None:
                data_type = accessor.data_type
        wanted = self._assert_data_type(data_type)
        for candidate in fmt.data_types:
            if _accepts(wanted, candidate):
                return candidate
        raise InvalidParameterError(
            f"{fmt.format_id} data cannot be opened as {wanted.alias!r}; allowed: "
            + ", ".join(fmt.data_types),
            store_id=self.store_id,
            data_id=data_id,
            parameter="data_type",
        )

    def _parse_opener(self, opener_id: str, data_id: str | None) -> Any:
        from eostores.accessor import parse_accessor_id

        accessor = parse_accessor_id(opener_id)
        if accessor.storage != STORAGE_ID:
            raise InvalidParameterError(
                f"opener {opener_id!r} is not one of this store's (storage {STORAGE_ID!r})",
                store_id=self.store_id,
                data_id=data_id,
                parameter="opener_id",
            )
        return accessor

    # -- listing ----------------------------------------------------------------------------

    def get_data_ids(
        self,
        data_type: DataTypeLike = None,
        include_attrs: bool | list[str] | None = None,
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        wanted = self._assert_data_type(data_type)
        for key, file in self.record.files.items():
            fmt = file.format
            if fmt is None or not _delivers(fmt, wanted):
                continue
            if include_attrs:
                yield key, self._attrs_selection(file.attrs(), include_attrs)
            else:
                yield key

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        wanted = self._assert_data_type(data_type)
        self._check_id(data_id)
        try:
            _, fmt = self._file(data_id)
        except DataNotFoundError:
            return False
        return _delivers(fmt, wanted)

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        return self._file(data_id)[1].data_types

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        wanted = self._assert_data_type(data_type)
        formats = [self._file(data_id)[1]] if data_id is not None else list(FORMATS)
        return tuple(
            f"{t}:{fmt.format_id}:{STORAGE_ID}"
            for fmt in formats
            for t in fmt.data_types
            if _accepts(wanted, t)
        )

    # -- describing -------------------------------------------------------------------------

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        from .schema import open_params_schema

        if data_id is None:
            if opener_id is None:
                from eostores.schema import JsonObjectSchema

                return JsonObjectSchema(
                    additional_properties=True,
                    description="The parameters depend on the file format; pass a data id "
                    "or an opener id.",
                )
            accessor = self._parse_opener(opener_id, None)
            fmt = next((f for f in FORMATS if f.format_id == accessor.format), None)
            if fmt is None or accessor.data_type not in fmt.data_types:
                raise InvalidParameterError(
                    f"unknown opener {opener_id!r}; known: "
                    + ", ".join(self.get_data_opener_ids()),
                    store_id=self.store_id,
                    parameter="opener_id",
                )
            return open_params_schema(fmt, accessor.data_type)
        _, fmt = self._file(data_id)
        return open_params_schema(fmt, self._data_type(fmt, data_id, None, opener_id))

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DataDescriptor:
        self._check_id(data_id)
        with self._deadline():
            return self._describe(data_id, data_type)

    def _describe(self, data_id: str, data_type: DataTypeLike) -> DataDescriptor:
        from .catalog import describe_file
        from .schema import KnownLayout

        file, fmt = self._file(data_id)
        dtype = self._data_type(fmt, data_id, data_type, None)
        cached = self._descriptors.get((data_id, dtype))
        if cached is not None:
            return cached
        with self._context(file):
            descriptor = describe_file(self.record, file, fmt, dtype, self.file_system)
        known = KnownLayout.of_descriptor(descriptor) if dtype == "dataset" else None
        if known is not None:
            self._known[data_id] = known
        self._descriptors[(data_id, dtype)] = descriptor
        return descriptor

    # -- opening ----------------------------------------------------------------------------

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        from .schema import check_open_params, open_params_schema

        # The format follows from the file name: parameters are checked before the record
        # is fetched, so that bad input fails without a request.
        self._check_id(data_id)
        named = format_of(data_id)
        if named is None:
            self._file(data_id)  # raises the right error, naming the record's files
            raise self._not_found(data_id)
        dtype = self._data_type(named, data_id, data_type, opener_id)
        params = open_params_schema(named, dtype).validate_params(
            open_params, store_id=self.store_id, data_id=data_id
        )
        check_open_params(
            named,
            dtype,
            params,
            self._known.get(data_id),
            store_id=self.store_id,
            data_id=data_id,
        )
        with self._deadline():
            file, fmt = self._file(data_id)
            with self._context(file):
                return self._open(file, fmt, dtype, params)

    def _open(self, file: RecordFile, fmt: FileFormat, dtype: str, params: dict) -> Any:
        from .openers import must_preload, open_dataset, open_vector
        from .schema import KnownLayout

        fs = self.file_system
        if fmt.whole:
            return open_vector(fs, file, fmt, params)
        if fmt.archive and fmt.format_id != "zip":
            raise must_preload(file.key, "tar archives cannot be read in parts")
        if fmt.archive and dtype != "dataset":
            raise must_preload(file.key, "archives are read directly only as Zarr datasets")
        if fmt.format_id == "geotiff":
            return open_dataset(fs, file, fmt, dtype, params)
        from eostores.fs.subset import apply_common_params

        dataset = open_dataset(fs, file, fmt, dtype, params)
        known = self._known.get(file.key)
        if known is None or known.variables is None:
            self._known[file.key] = KnownLayout.of_dataset(dataset)
        return apply_common_params(dataset, params, store_id=self.store_id, data_id=file.key)

    def _deadline(self) -> Any:
        """The one deadline of a user call and all its requests."""
        from eostores.http import call_deadline

        return call_deadline(self.http_config.deadline)

    @contextlib.contextmanager
    def _context(self, file: RecordFile | None, *, deadline: bool = True) -> Iterator[None]:
        """One user call: its requests share one deadline (the ``deadline`` parameter;
        not for preloads, whose downloads may take long), and errors raised inside name
        the store, the record and the file, and are :class:`DataStoreError`s."""
        from eostores.errors import context
        from eostores.http import call_deadline

        from .api import file_error

        key = file.key if file is not None else None
        try:
            with (
                call_deadline(self.http_config.deadline if deadline else None),
                context(self.store_id, key),
            ):
                yield
        except DataStoreError as error:
            if key is None or self._record is None:
                raise
            translated = file_error(error, self._record.record_id, key)
            if translated is error:
                raise
            raise translated from None
        except Exception as error:  # a format library failing on what it was sent
            raise DataStoreError(
                f"cannot read the data: {type(error).__name__}: {error}",
                store_id=self.store_id,
                data_id=key,
            ) from error

    # -- preloading -------------------------------------------------------------------------

    def get_preload_data_params_schema(self) -> JsonObjectSchema:
        from .schema import preload_params_schema

        return preload_params_schema()

    def preload_data(self, *data_ids: str, **preload_params: Any) -> PreloadHandle:
        """Download files into the cache store, extract archives, convert if asked.

        Without data ids, every data file of the record is preloaded. Returns the handle
        at once unless ``blocking``; afterwards ``handle.data_ids`` are opened from
        ``handle.store`` (the cache store). Files already complete in the cache are
        neither downloaded nor extracted again, also when other threads, processes or
        stores preload them at the same time.
        """
        from eostores.preload import PreloadHandle

        from .preload import PreloadJob, result_names

        for data_id in data_ids:
            self._check_id(data_id)
        params = self.get_preload_data_params_schema().validate_params(
            preload_params, store_id=self.store_id
        )
        if not data_ids:
            data_ids = tuple(k for k, f in self.record.files.items() if f.format is not None)
        files = {data_id: self._file(data_id)[0] for data_id in data_ids}
        cache_store = self.cache_store
        job = PreloadJob(
            cache_store=cache_store,
            session_factory=lambda: self.api.session,
            record_id=self.record_id,
            target_format=params.get("target_format"),
            cleanup=params.get("cleanup", True),
            results=result_names(self.record.files.values()),
        )

        def run(task: Any) -> list[str]:
            file = files[task.data_id]
            with self._context(file, deadline=False):
                return job.run(task, file)

        return PreloadHandle(
            list(files),
            run,
            store=cache_store,
            blocking=params.get("blocking", True),
            silent=params.get("silent", True),
            cleanup=params.get("cleanup", True),
            max_workers=params.get("max_workers", 2),
        )


def _accepts(wanted: DataType, data_type: str) -> bool:
    """Whether data of ``data_type`` answers a request for ``wanted``."""
    return wanted.alias == "any" or DataType.normalize(data_type).is_sub_type_of(wanted)


def _delivers(fmt: FileFormat, wanted: DataType) -> bool:
    return any(_accepts(wanted, t) for t in fmt.data_types)


def _opener_ids(fmt: FileFormat) -> list[str]:
    return [f"{data_type}:{fmt.format_id}:{STORAGE_ID}" for data_type in fmt.data_types]
