"""The ``sentinelhub`` data store: Sentinel Hub collections as lazy data cubes."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from eostores.credentials import Secret
from eostores.datatype import DataTypeLike
from eostores.errors import DataNotFoundError, InvalidParameterError, context
from eostores.http import call_deadline
from eostores.limits import check_grid_size
from eostores.paths import check_data_id, quote_segment
from eostores.store import DataStore

from .catalog import (
    CUSTOM_DATA_ID,
    DATA_IDS,
    DatasetInfo,
    band_infos_from_collection,
    data_id_for_catalog_collection,
    dataset_info,
)
from .config import (
    MAX_GRID_AXIS,
    MAX_TIME_STEPS,
    STORE_ID,
    ConnectionSpec,
    CubeRequest,
    TimeSlice,
    connection_from_params,
)
from .schema import open_params_schema, parse_open_params, store_params_schema

if TYPE_CHECKING:
    import xarray

    from eostores.descriptor import DatasetDescriptor
    from eostores.schema import JsonObjectSchema

    from .api import SentinelHubApi

__all__ = ["SentinelHubDataStore", "SentinelHubWarning"]

OPENER_ID = "dataset:zarr:sentinelhub"
_TIMELESS = "DEM"
_JS_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class SentinelHubWarning(UserWarning):
    """Something about a request deserves attention (with ``enable_warnings``)."""


class SentinelHubDataStore(DataStore):
    """Sentinel Hub data collections as lazy cubes from the Process API.

    Data ids name collections (S2L2A, S1GRD, DEM, ..., CUSTOM for BYOC); the ones an
    instance offers come from its catalog. ``open_data`` lays out the cube exactly on the
    requested bbox and fetches each chunk with one Process API request when computed.
    Construction does no network I/O; credentials are looked up when first needed.
    """

    store_id = STORE_ID

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        self._connection = connection_from_params(self._store_params)
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._collections: dict[str, dict[str, Any]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        params = dict(self._store_params)
        if params.get("client_secret"):
            params["client_secret"] = Secret(params["client_secret"])
        return {"params": params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        params = dict(state["params"])
        if isinstance(params.get("client_secret"), Secret):
            params["client_secret"] = params["client_secret"].reveal()
        self.__init__(**params)

    @property
    def connection(self) -> ConnectionSpec:
        """Where the store sends its requests."""
        return self._connection

    def _deadline(self) -> contextlib.AbstractContextManager[None]:
        """One deadline for all requests of a user call (the store's ``deadline``)."""
        return call_deadline(self._connection.http.deadline)

    # -- description of the store --------------------------------------------------------

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        return store_params_schema()

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset",)

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        self._info(data_id)
        return ("dataset",)

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        self._assert_data_type(data_type)
        if data_id is not None:
            self._info(data_id)
        return (OPENER_ID,)

    # -- listing and describing -----------------------------------------------------------

    def _api(self) -> SentinelHubApi:
        from .api import api_for

        return api_for(self._connection)

    def _catalog_collections(self) -> dict[str, dict[str, Any]]:
        """The instance's catalog collections by id, fetched once per store."""
        with self._lock:
            if self._collections is None:
                documents = self._api().collections()
                self._collections = {
                    str(doc["id"]): doc
                    for doc in documents
                    if isinstance(doc, dict) and "id" in doc
                }
            return self._collections

    def _offered(self) -> list[str]:
        offered = {
            data_id
            for collection_id in self._catalog_collections()
            if (data_id := data_id_for_catalog_collection(collection_id)) is not None
        }
        offered.update((_TIMELESS, CUSTOM_DATA_ID))
        return [data_id for data_id in DATA_IDS if data_id in offered]

    def _info(self, data_id: str) -> DatasetInfo:
        check_data_id(data_id, store_id=self.store_id)
        info = dataset_info(data_id)
        if info is None:
            raise self._not_found(data_id, "known data ids are " + ", ".join(DATA_IDS))
        return info

    def get_data_ids(
        self,
        data_type: DataTypeLike = None,
        include_attrs: bool | list[str] | None = None,
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        self._assert_data_type(data_type)
        with context(self.store_id), self._deadline():
            offered = self._offered()
        for data_id in offered:
            if not include_attrs:
                yield data_id
                continue
            info = self._info(data_id)
            attrs = {
                "title": info.title,
                "collection_id": info.catalog_id,
                "variable_names": info.band_names,
            }
            yield data_id, self._attrs_selection(attrs, include_attrs)

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        self._assert_data_type(data_type)
        check_data_id(data_id, store_id=self.store_id)
        if dataset_info(data_id) is None:
            return False
        with context(self.store_id, data_id), self._deadline():
            return data_id in self._offered()

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DatasetDescriptor:
        from .catalog import describe_dataset

        self._assert_data_type(data_type)
        info = self._info(data_id)
        with context(self.store_id, data_id), self._deadline():
            document = None
            if info.catalog_id is not None:
                document = self._catalog_collections().get(info.catalog_id)
                if document is None:
                    raise self._not_found(data_id, "this Sentinel Hub instance does not offer it")
            return describe_dataset(info, document, self.get_open_data_params_schema(data_id))

    # -- opening --------------------------------------------------------------------------

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        self._assert_opener_id(opener_id)
        info = self._info(data_id) if data_id is not None else self._info(CUSTOM_DATA_ID)
        return open_params_schema(info)

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> xarray.Dataset:
        """Open ``data_id`` as a lazy cube; nothing is requested before it is validated."""
        self._assert_opener_id(opener_id)
        self._assert_data_type(data_type)
        info = self._info(data_id)
        schema = open_params_schema(info)
        params = schema.validate_params(open_params, store_id=self.store_id, data_id=data_id)
        with context(self.store_id, data_id), self._deadline():
            cube = parse_open_params(info, params)
            self._check_size(cube, self._known_steps(info, cube))
            if info.custom:
                info, cube = self._custom_bands(info, cube, params)
                self._check_size(cube, self._known_steps(info, cube))
            self._check_units(cube)
            slices = self._time_slices(info, cube)
            self._check_size(cube, len(slices))
            return self._lazy_cube(info, cube, slices)

    def _known_steps(self, info: DatasetInfo, cube: CubeRequest) -> int:
        """Time steps known without a request: those of time_period, else at least one."""
        from .convert import regular_step_bound

        if cube.time_period is None or info.timeless:
            return 1
        steps = regular_step_bound(cube.time_range, cube.time_period)
        if steps > MAX_TIME_STEPS:
            raise InvalidParameterError(
                f"time_period {cube.time_period} divides time_range "
                f"{cube.time_range.isoformat()} into {steps} steps; a cube may have at most "
                f"{MAX_TIME_STEPS}: choose a longer time_period or a shorter time_range",
                parameter="time_period",
            )
        return steps

    def _check_size(self, cube: CubeRequest, steps: int) -> None:
        """Refuse a cube beyond max_request_bytes, or with axes too long to lay out."""
        itemsize = max((v.itemsize for v in cube.variables), default=1)
        check_grid_size(
            (steps, max(1, len(cube.variables)), cube.height, cube.width),
            itemsize,
            max_bytes=self._store_params["max_request_bytes"],
            store_id=self.store_id,
            data_id=cube.data_id,
        )
        longest = max(cube.width, cube.height)
        if longest > MAX_GRID_AXIS:
            raise InvalidParameterError(
                f"spatial_res {cube.spatial_res:g} gives the bbox {list(cube.bbox)} a grid of "
                f"{cube.width} x {cube.height} pixels; an axis may have at most "
                f"{MAX_GRID_AXIS} pixels: choose a coarser spatial_res or a smaller bbox",
                parameter="spatial_res",
            )

    def _lazy_cube(
        self, info: DatasetInfo, cube: CubeRequest, slices: list[TimeSlice]
    ) -> xarray.Dataset:
        from .chunks import ChunkRequester
        from .convert import build_dataset

        connection = self._connection
        error_policy = self._store_params["error_policy"]
        attrs = {
            "title": info.title,
            "data_id": info.data_id,
            "source": "Sentinel Hub Process API",
            "sentinelhub_api_url": connection.api_url,
            "collection": cube.collection_id or info.catalog_id or info.collection_name,
            "crs": cube.crs.name,
            "bbox": list(cube.bbox),
            "spatial_res": cube.spatial_res,
            "time_period": str(cube.time_period) if cube.time_period else None,
            "mosaicking_order": cube.mosaicking_order,
            "Conventions": "CF-1.8",
        }

        def chunk_function(variables: tuple) -> ChunkRequester:
            return ChunkRequester(
                connection, cube, variables, tuple(slices), info.timeless, error_policy
            )

        return build_dataset(
            cube,
            slices,
            chunk_function,
            max_workers=connection.max_concurrent_requests,
            attrs=attrs,
        )

    def _custom_bands(self, info: DatasetInfo, cube: Any, params: dict[str, Any]) -> tuple:
        """A custom collection's bands: the requested names, else those its catalog lists."""
        names = [v.name for v in cube.variables]
        for name in names:
            if not name or name[0].isdigit() or not set(name) <= _JS_NAME_CHARS:
                raise InvalidParameterError(
                    f"variable_names: {name!r} is not a band name (letters, digits, _)",
                    store_id=self.store_id,
                    data_id=info.data_id,
                    parameter="variable_names",
                )
        if params.get("variable_names") is not None:
            return info, cube
        collection = info.data_collection(cube.collection_id)
        try:
            document = self._api().collection(quote_segment(collection.catalog_id))
        except DataNotFoundError:
            document = {}
        bands = band_infos_from_collection(document)
        if not bands:
            raise InvalidParameterError(
                f"the catalog does not list the bands of {cube.collection_id!r}; give "
                "variable_names",
                store_id=self.store_id,
                data_id=info.data_id,
                parameter="variable_names",
            )
        info = dataclasses.replace(info, bands=bands)
        return info, parse_open_params(info, params)

    def _check_units(self, cube: Any) -> None:
        if not self._store_params["enable_warnings"]:
            return
        for variable in cube.variables:
            if variable.unit == "REFLECTANCE" and variable.sample_type not in ("FLOAT32", "AUTO"):
                warnings.warn(
                    f"{variable.name}: reflectances (0..1) as {variable.sample_type} round to 0 "
                    "or 1; use FLOAT32 or the unit DN",
                    SentinelHubWarning,
                    stacklevel=3,
                )

    def _time_slices(self, info: DatasetInfo, cube: CubeRequest) -> list[TimeSlice]:
        from .convert import merge_acquisitions, regular_slices

        time_range = cube.time_range
        if cube.time_period is not None:
            return regular_slices(time_range, cube.time_period)
        if info.timeless:
            return [
                TimeSlice(
                    time_range.start + (time_range.end - time_range.start) / 2,
                    time_range.start,
                    time_range.end,
                )
            ]
        collection = info.data_collection(cube.collection_id)
        times = self._api().search_times(
            collection,
            time_range.start,
            time_range.end,
            cube.bbox,
            cube.crs.epsg,
            cube.extra_search_params,
        )
        if not times and self._store_params["enable_warnings"]:
            warnings.warn(
                f"the catalog has no {info.data_id} acquisitions in {time_range.isoformat()} "
                "within the bbox; the cube has no time steps",
                SentinelHubWarning,
                stacklevel=3,
            )
        return merge_acquisitions(times, cube.time_tolerance)
