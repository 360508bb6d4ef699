"""The ESA Climate Data Centre stores: ``cciodp``, ``ccizarr`` and ``esa-cci-kc``."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from eostores.datatype import DataTypeLike
from eostores.errors import DataStoreError, InvalidParameterError, ServiceError, context
from eostores.fs.errors import translate_errors
from eostores.fs.formats import get_handler
from eostores.fs.paths import is_included
from eostores.fs.reference import ReferenceDataStore
from eostores.fs.remote import S3DataStore
from eostores.fs.subset import apply_common_params
from eostores.http import HttpConfig, call_deadline, new_session
from eostores.paths import check_data_id, relative_path
from eostores.rangefs import RangeFileSystem
from eostores.schema import (
    JsonArraySchema,
    parse_bbox,
    parse_time_range,
    resolve_variable_names,
)
from eostores.store import DataStore, shown_parameter

from .catalog import Catalog, DatasetInfo, drs_parts
from .config import (
    DATA_IDS_FILE,
    KC_STORE_ID,
    STORE_ID,
    ZARR_BUCKET,
    ZARR_ENDPOINT_URL,
    ZARR_STORE_ID,
    OdpConnection,
    connection_from_params,
)
from .schema import open_params_schema, search_params_schema, store_params_schema

if TYPE_CHECKING:
    from datetime import datetime

    import xarray

    from eostores.descriptor import DataDescriptor, DatasetDescriptor
    from eostores.schema import JsonObjectSchema

    from .api import FileFeature

__all__ = ["CciKerchunkDataStore", "CciOdpDataStore", "CciWarning", "CciZarrDataStore"]

OPENER_ID = "dataset:zarr:cciodp"
#: Recently read chunks kept per opened cube, so that computing again requests nothing.
CHUNK_CACHE_BYTES = 64 * 2**20
logger = logging.getLogger("eostores.cci")


class CciWarning(UserWarning):
    """Something about the service's answers deserves attention (``enable_warnings``)."""


class CciOdpDataStore(DataStore):
    """The datasets of the ESA Climate Data Centre as lazy cubes over OPeNDAP.

    Data ids are the DRS ids of the catalogue's OpenSearch description. ``open_data`` lays
    the cube out from metadata and one coordinate request; each chunk is one DAP2
    hyperslab request, made when the chunk is computed. Construction does no network I/O.
    """

    store_id = STORE_ID

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        self._connection = connection_from_params(self._store_params)
        self._catalog = Catalog(self._connection)

    def __getstate__(self) -> dict[str, Any]:
        return {"params": dict(self._store_params)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state["params"])

    @property
    def connection(self) -> OdpConnection:
        """Where and how the store sends its requests."""
        return self._connection

    def _call(self, data_id: str | None = None) -> contextlib.ExitStack:
        """Error context and one deadline (the store's ``deadline``) for a user call."""
        stack = contextlib.ExitStack()
        stack.enter_context(context(self.store_id, data_id))
        stack.enter_context(call_deadline(self._connection.http.deadline))
        return stack

    # -- description of the store

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        return store_params_schema()

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset",)

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        self._check_known(data_id)
        return ("dataset",)

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        self._assert_data_type(data_type)
        if data_id is not None:
            self._check_known(data_id)
        return (OPENER_ID,)

    def _check_known(self, data_id: str) -> None:
        check_data_id(data_id, store_id=self.store_id)
        with self._call(data_id):
            if not self._catalog.has(data_id):
                raise self._not_found(data_id, "not in the catalogue of the service")

    # -- listing and describing

    def get_data_ids(
        self, data_type: DataTypeLike = None, include_attrs: bool | list[str] | None = None
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        self._assert_data_type(data_type)
        with self._call():
            counts = self._catalog.file_counts()
        for data_id, count in counts.items():
            if include_attrs:
                attrs = {"num_files": count, **drs_parts(data_id)}
                yield data_id, self._attrs_selection(attrs, include_attrs)
            else:
                yield data_id

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        self._assert_data_type(data_type)
        check_data_id(data_id, store_id=self.store_id)
        with self._call(data_id):
            return self._catalog.has(data_id)

    def _info(self, data_id: str) -> DatasetInfo:
        check_data_id(data_id, store_id=self.store_id)
        with self._call(data_id):
            return self._catalog.info(data_id)

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DatasetDescriptor:
        self._assert_data_type(data_type)
        info = self._info(data_id)
        return self._catalog.descriptor(info, open_params_schema(info))

    # -- searching

    @classmethod
    def get_search_params_schema(cls, data_type: DataTypeLike = None) -> JsonObjectSchema:
        return search_params_schema()

    def search_data(
        self, data_type: DataTypeLike = None, **search_params: Any
    ) -> Iterator[DataDescriptor]:
        """Descriptors of the datasets matching the facets, bbox and time range."""
        params = search_params_schema().validate_params(search_params, store_id=self.store_id)
        self._assert_data_type(data_type)
        bbox = None
        with context(self.store_id):
            if params.get("bbox") is not None:
                bbox = parse_bbox(params["bbox"])
            time_range = parse_time_range(params.get("time_range"))
        with self._call():
            wanted = self._catalog.facet_filter(params)
            candidates = [
                data_id
                for data_id in self._catalog.data_ids()
                if (not params.get("pattern") or fnmatch.fnmatchcase(data_id, params["pattern"]))
                and self._catalog.facets_match(data_id, wanted)
            ]
        found = 0
        for data_id in candidates:
            try:
                descriptor = self.describe_data(data_id)
            except DataStoreError as error:
                logger.warning("search: %s cannot be described: %s", data_id, error)
                continue
            if not _overlaps(descriptor, bbox, time_range):
                continue
            yield descriptor
            found += 1
            if params.get("limit") is not None and found >= params["limit"]:
                return

    # -- opening

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        self._assert_opener_id(opener_id)
        if data_id is None:
            return open_params_schema()
        return open_params_schema(self._info(data_id))

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> xarray.Dataset:
        """Open ``data_id`` as a lazy cube; parameters are checked before any request."""
        check_data_id(data_id, store_id=self.store_id)
        self._assert_opener_id(opener_id)
        self._assert_data_type(data_type)
        params = open_params_schema().validate_params(
            open_params, store_id=self.store_id, data_id=data_id
        )
        with context(self.store_id, data_id):
            bbox = parse_bbox(params["bbox"]) if params.get("bbox") is not None else None
            time_range = parse_time_range(params.get("time_range"))
        with self._call(data_id):
            info = self._catalog.info(data_id)
            names = resolve_variable_names(params.get("variable_names"), list(info.variables))
            return self._lazy_cube(info, names, bbox, time_range, params["normalize_data"])

    def _lazy_cube(
        self,
        info: DatasetInfo,
        names: list[str],
        bbox: tuple[float, float, float, float] | None,
        time_range: Any,
        normalize: bool,
    ) -> xarray.Dataset:
        import numpy as np

        from eostores.chunkstore import ChunkArray, ChunkStore

        from .api import api_for
        from .chunks import HyperslabReader
        from .convert import finish_cube, grid_window

        steps = self._time_steps(info, self._readable_files(info, time_range), time_range)
        if not steps:
            covered = f"{info.time_start or '?'} .. {info.time_end or '?'}"
            raise InvalidParameterError(
                f"time_range {time_range.isoformat()} selects no time step; the data cover "
                f"{covered}",
                store_id=self.store_id,
                data_id=info.data_id,
                parameter="time_range",
            )
        coords = api_for(self._connection).read_arrays(
            steps[0][0], [info.lat_name, info.lon_name], info.data_id
        )
        lat = coords[info.lat_name].astype("float64")
        lon = coords[info.lon_name].astype("float64")
        window = grid_window(lat, lon, bbox, normalize=normalize, data_id=info.data_id)
        periods = [period for _, _, period in steps]
        starts = np.array([np.datetime64(a, "ns") for a, _ in periods], dtype="datetime64[ns]")
        height, width = window.shape
        count = len(steps)
        arrays = [
            ChunkArray("time", ("time",), (count,), (count,), "datetime64[ns]", data=starts),
            ChunkArray(
                "lat", ("lat",), (height,), (height,), "float64", data=lat[window.y0 : window.y1]
            ),
            ChunkArray(
                "lon", ("lon",), (width,), (width,), "float64", data=lon[window.x0 : window.x1]
            ),
        ]
        for name in names:
            variable = info.variables[name]
            dtype = np.dtype(variable.dtype)
            fill = variable.fill_value
            if fill is None:
                fill = np.nan if dtype.kind == "f" else 0
            chunks = (1, min(variable.chunks[1], height), min(variable.chunks[2], width))
            reader = HyperslabReader(
                connection=self._connection,
                data_id=info.data_id,
                variable=name,
                steps=tuple((url, index) for url, index, _ in steps),
                origin=(window.y0, window.x0),
                window=(height, width),
                chunks=chunks,
                dtype=dtype.str,
                fill_value=fill,
            )
            arrays.append(
                ChunkArray(
                    name,
                    ("time", "lat", "lon"),
                    (count, height, width),
                    chunks,
                    dtype,
                    get_chunk=reader,
                    fill_value=fill,
                    attrs=_mask_attrs(variable.attrs),
                )
            )
        attrs = {
            "title": info.title,
            "data_id": info.data_id,
            "source": "ESA Climate Data Centre (OPeNDAP)",
            **({"summary": info.abstract} if info.abstract else {}),
        }
        store = ChunkStore(
            arrays,
            max_workers=self._connection.max_concurrent_requests,
            cache_bytes=CHUNK_CACHE_BYTES,
            name=info.data_id,
        )
        dataset = store.open_dataset()
        return finish_cube(
            dataset, periods, normalize=normalize, window=window, attrs=attrs, data_id=info.data_id
        )

    def _readable_files(self, info: DatasetInfo, time_range: Any) -> list[tuple[str, FileFeature]]:
        """The files overlapping ``time_range`` that have an OPeNDAP URL, with it."""
        files = self._catalog.files(info, time_range.start, time_range.end)
        unreadable = [f.title for f in files if not f.opendap_url]
        if unreadable and self._connection.enable_warnings:
            warnings.warn(
                f"{info.data_id}: {len(unreadable)} file(s) without OPeNDAP URL left out, "
                f"e.g. {unreadable[0]!r}",
                CciWarning,
                stacklevel=5,
            )
        return [(f.opendap_url, f) for f in files if f.opendap_url]

    def _time_steps(
        self, info: DatasetInfo, files: list[tuple[str, FileFeature]], time_range: Any
    ) -> list[tuple[str, int, tuple[datetime, datetime]]]:
        """The cube's time steps: (file URL, index in the file, period ``[start, end)``).

        A file per time step: its period from the search. Files of several steps: each
        file's time coordinate (and bounds) is read, the steps outside ``time_range`` are
        left out, and so is a file the service says is gone.
        """
        from .api import api_for
        from .convert import period_bounds, period_in_range, step_periods

        if info.steps_per_file == 1:
            return [(url, 0, period_bounds(f.start, f.end)) for url, f in files]
        urls = [url for url, _ in files]
        axes = api_for(self._connection).time_axes(
            urls, info.time_name, info.time_bounds, info.data_id
        )
        steps = []
        for url, axis in zip(urls, axes, strict=True):
            if axis is None:
                logger.warning("%s: %s is missing; its time steps are left out", info.data_id, url)
                continue
            periods = step_periods(axis.values, axis.bounds, axis.attrs, data_id=info.data_id)
            steps += [
                (url, index, period)
                for index, period in enumerate(periods)
                if period_in_range(period, time_range.start, time_range.end)
            ]
        return steps


def _mask_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """CF attributes for the chunk store: the fill value as ``missing_value``, which xarray
    masks like ``_FillValue`` (a zarr v3 ``_FillValue`` attribute has an encoding of its own)."""
    result = {k: v for k, v in attrs.items() if k != "_FillValue"}
    if "_FillValue" in attrs and "missing_value" not in attrs:
        result["missing_value"] = attrs["_FillValue"]
    return result


def _overlaps(descriptor: Any, bbox: Any, time_range: Any) -> bool:
    if bbox is not None and descriptor.bbox is not None:
        x0, y0, x1, y1 = descriptor.bbox
        if x0 > bbox[2] or x1 < bbox[0] or y0 > bbox[3] or y1 < bbox[1]:
            return False
    if descriptor.time_range is not None and (time_range.start or time_range.end):
        own = parse_time_range(list(descriptor.time_range))
        if time_range.end and own.start and own.start > time_range.end:
            return False
        if time_range.start and own.end and own.end < time_range.start:
            return False
    return True


# --------------------------------------------------------------------------- ccizarr


class CciZarrDataStore(S3DataStore):
    """The Zarr copies of CCI datasets in the public object store: the ``s3`` store with
    the bucket and endpoint as defaults, read-only. Data ids come from the bucket's
    ``data_ids.json`` when present, else from a listing."""

    store_id = ZARR_STORE_ID

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        schema = super().get_data_store_params_schema()
        properties = schema.properties
        properties["root"].default = ZARR_BUCKET
        properties["root"].description = "Bucket (and folder) of the Zarr copies."
        properties["read_only"].default = True
        properties["storage_options"].default = {"anon": True, "endpoint_url": ZARR_ENDPOINT_URL}
        return schema

    def _indexed_ids(self) -> list[str] | None:
        """The ids listed in ``data_ids.json`` (None if the bucket has no index)."""
        path = f"{self.root.rstrip('/')}/{DATA_IDS_FILE}"
        with translate_errors(self.store_id, None, endpoint_parameter=self.endpoint_parameter):
            try:
                content = self.fs.cat_file(path)
            except FileNotFoundError:
                return None
        try:
            listed = json.loads(content)
        except ValueError:
            logger.warning("%s: %s is no JSON; listing the bucket instead", self.store_id, path)
            return None
        if not isinstance(listed, list):
            return None
        includes = self._pattern_list("includes")
        excludes = self._pattern_list("excludes")
        ids = []
        for item in listed:
            try:
                data_id = relative_path(item, from_service=True, store_id=self.store_id)
            except DataStoreError:
                logger.warning("%s: ignoring the id %r of %s", self.store_id, item, path)
                continue
            if is_included(data_id, includes, excludes):
                ids.append(data_id)
        return ids

    def _pattern_list(self, key: str) -> list[str] | None:
        value = self.store_params.get(key)
        return [value] if isinstance(value, str) else value

    def get_data_ids(
        self, data_type: DataTypeLike = None, include_attrs: bool | list[str] | None = None
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        wanted = self._assert_data_type(data_type)
        ids = self._indexed_ids()
        if ids is None:
            yield from super().get_data_ids(data_type=data_type, include_attrs=include_attrs)
            return
        if wanted.alias not in ("any", "dataset"):
            return
        for data_id in ids:
            if include_attrs:
                attrs = {"data_type": "dataset", "format": "zarr"}
                yield data_id, self._attrs_selection(attrs, include_attrs)
            else:
                yield data_id

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        check_data_id(data_id, store_id=self.store_id)
        ids = self._indexed_ids()
        if ids is None:
            return super().has_data(data_id, data_type)
        self._assert_data_type(data_type)
        return data_id in ids and super().has_data(data_id, data_type)


# --------------------------------------------------------------------------- esa-cci-kc


class CciKerchunkDataStore(ReferenceDataStore):
    """The Open Data Portal's kerchunk references: the ``reference`` store with ``refs``
    defaulting to the index of the portal's reference files shipped in the package."""

    store_id = KC_STORE_ID

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        schema = super().get_data_store_params_schema()
        refs = schema.properties["refs"]
        assert isinstance(refs, JsonArraySchema)
        refs.nullable = True
        refs.default = None
        refs.description = (
            "null (the default): the index of the Open Data Portal's reference files "
            "shipped with eostores-cci (python -m eostores_cci.kcindex regenerates it)."
        )
        schema.required = [name for name in schema.required if name != "refs"]
        return schema

    def __init__(self, **store_params: Any):
        from .kcindex import data_id_of

        self._default_refs = store_params.get("refs") is None
        if self._default_refs:
            from .kcindex import load_index

            store_params = {**store_params, "refs": load_index()}
        super().__init__(**store_params)
        self._ref_paths = {}
        for entry in self.store_params["refs"]:
            ref = {"ref_path": entry} if isinstance(entry, str) else entry
            self._ref_paths[ref.get("data_id") or data_id_of(ref["ref_path"])] = ref["ref_path"]
        self._http: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_http"] = None
        return state

    def __repr__(self) -> str:
        if not self._default_refs:
            return super().__repr__()
        count = len(self.store_params["refs"])
        parts = [f"refs=<{count} reference files of the shipped index>"]
        parts += [
            f"{k}={shown_parameter(k, v)}" for k, v in self.store_params.items() if k != "refs"
        ]
        return f"{type(self).__name__}({', '.join(parts)})"

    def _session(self) -> Any:
        if getattr(self, "_http", None) is None:
            headers = (self.store_params.get("remote_options") or {}).get("headers")
            self._http = new_session(HttpConfig(store_id=self.store_id), headers=headers)
        return self._http

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        """Open ``data_id`` lazily: its references are read through the eostores HTTP
        session (retries, deadline, the service's messages), checked to point at remote
        servers only, and the referenced byte ranges are read through the same session."""
        check_data_id(data_id, store_id=self.store_id)
        ref_path = self._ref_paths.get(data_id)
        if ref_path is None or urlsplit(ref_path).scheme.lower() not in ("http", "https"):
            return super().open_data(data_id, opener_id, data_type, **open_params)
        self._assert_opener_id(opener_id, data_id)
        if self._assert_data_type(data_type).alias not in ("any", "dataset"):
            raise InvalidParameterError(
                "reference data open as 'dataset' only",
                store_id=self.store_id,
                parameter="data_type",
            )
        params = self.get_open_data_params_schema(data_id).validate_params(
            open_params, store_id=self.store_id, data_id=data_id
        )
        with context(self.store_id, data_id):
            if params.get("bbox") is not None:
                parse_bbox(params["bbox"], geographic=False)
            parse_time_range(params.get("time_range"))
        with translate_errors(self.store_id, data_id):
            filesystem = self._filesystem_of(ref_path)
            dataset = get_handler("zarr").open(filesystem, "", "dataset", params)
            return apply_common_params(dataset, params, store_id=self.store_id, data_id=data_id)

    def _filesystem_of(self, ref_path: str) -> Any:
        """A reference filesystem reading http(s) byte ranges through the store's session."""
        import fsspec
        from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

        from .kcindex import foreign_targets

        try:
            document = self._session().get(ref_path).json()
        except ValueError as error:
            raise ServiceError(f"the reference file {ref_path} holds no JSON: {error}") from None
        if not isinstance(document, dict):
            raise ServiceError(f"the reference file {ref_path} holds no reference document")
        foreign = foreign_targets(document)
        if foreign:
            key, url = foreign[0]
            raise ServiceError(
                f"the reference file {ref_path} points {key!r} at {url!r}; references may "
                f"point at remote servers only ({len(foreign)} such reference(s))"
            )
        remote = AsyncFileSystemWrapper(RangeFileSystem(self._session()), asynchronous=True)
        filesystems: dict[str, Any] = {"http": remote, "https": remote}
        if any(urlsplit(v[0]).scheme == "s3" for v in _reference_lists(document)):
            options = {**(self.store_params.get("remote_options") or {}), "asynchronous": True}
            filesystems["s3"] = fsspec.filesystem("s3", **options)
        options = {
            k: self.store_params[k]
            for k in ("max_gap", "max_block", "cache_size")
            if self.store_params.get(k) is not None
        }
        return fsspec.filesystem(
            "reference",
            fo=document,
            fs=filesystems,
            asynchronous=True,
            skip_instance_cache=True,
            **options,
        )


def _reference_lists(document: dict[str, Any]) -> list[list[Any]]:
    refs = document.get("refs", document)
    if not isinstance(refs, dict):
        return []
    return [v for v in refs.values() if isinstance(v, list) and v and isinstance(v[0], str)]
