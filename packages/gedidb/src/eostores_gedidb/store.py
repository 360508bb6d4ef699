"""The ``gedidb`` data store: GEDI L2A, L2B, L4A and L4C shots from the gedidb database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from eostores.datatype import DataType, DataTypeLike
from eostores.errors import DataNotFoundError, InvalidParameterError, context
from eostores.paths import check_data_id
from eostores.store import DataStore

from .config import DATA_IDS, LEVEL_TITLES, STORE_ID, cache_dir, http_config

if TYPE_CHECKING:
    from eostores.descriptor import DataDescriptor
    from eostores.schema import JsonObjectSchema

    from .catalog import Catalog
    from .plan import ShotQuery
    from .variables import ArrayInfo

__all__ = ["GediDbDataStore"]

DATASET_OPENER_ID = "dataset:tiledb:gedidb"
GEODATAFRAME_OPENER_ID = "geodataframe:tiledb:gedidb"
_OPENERS = {"dataset": DATASET_OPENER_ID, "geodataframe": GEODATAFRAME_OPENER_ID}


class GediDbDataStore(DataStore):
    """GEDI lidar shots of the gedidb TileDB database on S3, read through gedidb.

    Data ids are the product levels ``L2A``, ``L2B``, ``L4A``, ``L4C`` and ``all`` (the
    variables of every level in one query). ``open_data`` runs one query, by ``bbox`` or
    by ``point`` (nearest shots), for a ``time_range``, and returns the shots as an
    ``xarray.Dataset`` (data type ``dataset``) or as points in a ``GeoDataFrame`` (data type
    ``geodataframe``). Variables, their units and profiles come from the array's metadata;
    time extent and footprint from NASA's CMR collection records.
    """

    store_id = STORE_ID

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None
        self._array: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"_store_params": self._store_params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._store_params = state["_store_params"]
        self._lock = threading.Lock()
        self._catalog = None
        self._array = None

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        from .schema import store_params_schema

        return store_params_schema()

    # -- parts, made on first use (construction does no I/O)

    def _parts(self) -> tuple[Catalog, Any]:
        with self._lock:
            if self._catalog is None:
                from eostores.http import new_session

                from .api import GediArray
                from .catalog import Catalog

                params = self._store_params
                config = http_config(params)
                self._array = GediArray(
                    params["endpoint_url"], params["bucket"], params["region"], config
                )
                self._catalog = Catalog(
                    self._array,
                    lambda: new_session(config),
                    params["cmr_url"].rstrip("/"),
                    cache_dir(params),
                    float(params["metadata_ttl"]),
                )
            return self._catalog, self._array

    def _info(self) -> ArrayInfo:
        return self._parts()[0].array_info()

    # -- ids and types

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset", "geodataframe")

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        self._known(data_id)
        return self.get_data_types()

    def get_data_ids(
        self, data_type: DataTypeLike = None, include_attrs: bool | list[str] | None = None
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        self._assert_data_type(data_type)
        for data_id in DATA_IDS:
            if include_attrs:
                attrs = {
                    "title": LEVEL_TITLES.get(data_id, "GEDI L2A, L2B, L4A and L4C shots"),
                    "product_level": data_id,
                }
                yield data_id, self._attrs_selection(attrs, include_attrs)
            else:
                yield data_id

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        check_data_id(data_id, STORE_ID)
        try:
            self._assert_data_type(data_type)
        except InvalidParameterError:
            return False
        return data_id in DATA_IDS

    def _known(self, data_id: Any) -> str:
        check_data_id(data_id, STORE_ID)
        if data_id not in DATA_IDS:
            raise self._not_found(data_id, f"the data ids are {', '.join(DATA_IDS)}")
        return data_id

    def _type_of(self, data_type: DataTypeLike) -> str:
        alias = self._assert_data_type(data_type).alias
        return "geodataframe" if alias == "geodataframe" else "dataset"

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        if data_id is not None:
            self._known(data_id)
        normalized = DataType.normalize(data_type)
        if normalized.alias == "any":
            return (DATASET_OPENER_ID, GEODATAFRAME_OPENER_ID)
        return (_OPENERS[self._type_of(data_type)],)

    # -- describing

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DataDescriptor:
        """Describe a level from the array's metadata and its CMR record (both cached)."""
        from .catalog import describe
        from .schema import feature_schema, open_params_schema

        self._known(data_id)
        kind = self._type_of(data_type)
        with context(STORE_ID, data_id):
            catalog, _ = self._parts()
            info = catalog.array_info()
            levels = list(LEVEL_TITLES) if data_id == "all" else [data_id]
            collections = [catalog.collection(level) for level in levels]
            features = None
            if kind == "geodataframe":
                features = feature_schema([info.variables[n] for n in info.names(data_id)])
            return describe(
                data_id, kind, info, collections, open_params_schema(data_id, info), features
            )

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        from .schema import open_params_schema

        if opener_id is not None and opener_id not in _OPENERS.values():
            self._assert_opener_id(opener_id, data_id)
        if data_id is None:
            return open_params_schema("all")
        self._known(data_id)
        with context(STORE_ID, data_id):
            return open_params_schema(data_id, self._info())

    # -- opening

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        """Run one query and return its shots (see the class and the open schema)."""
        from eostores.schema import apply_parameter_aliases

        from .plan import check_form, make_query
        from .schema import open_params_schema

        self._known(data_id)
        kind = self._type_of(data_type)
        if opener_id is not None:
            if opener_id not in _OPENERS.values():
                self._assert_opener_id(opener_id, data_id)
            kind = "geodataframe" if opener_id == GEODATAFRAME_OPENER_ID else "dataset"
            if data_type is not None and _OPENERS[self._type_of(data_type)] != opener_id:
                raise InvalidParameterError(
                    f"opener {opener_id!r} does not deliver data type {data_type!r}",
                    store_id=STORE_ID,
                    data_id=data_id,
                    parameter="opener_id",
                )
        params = apply_parameter_aliases(open_params, {"variables": "variable_names"})
        given = set(params)
        # Everything that needs no request is checked before the first one.
        params = open_params_schema(data_id).validate_params(
            params, store_id=STORE_ID, data_id=data_id
        )
        check_form(params, given, data_id)
        with context(STORE_ID, data_id):
            catalog, array = self._parts()
            info = catalog.array_info()
            params = open_params_schema(data_id, info).validate_params(
                {k: v for k, v in params.items() if k in given},
                store_id=STORE_ID,
                data_id=data_id,
            )
            query = make_query(data_id, params, info)
            data = None if query.empty else self._run(array, query)
            return self._convert(kind, query, info, data)

    @staticmethod
    def _run(array: Any, query: ShotQuery) -> Any:
        if query.point is not None:
            return array.query_nearest(
                query.variables,
                query.point,
                query.num_shots,
                query.radius,
                query.start,
                query.end,
                query.filters,
            )
        assert query.bbox is not None
        return array.query_box(query.variables, query.bbox, query.start, query.end, query.filters)

    def _convert(self, kind: str, query: ShotQuery, info: ArrayInfo, data: Any) -> Any:
        from .convert import shots_dataset, shots_geodataframe

        variables = [info.variables[name] for name in query.variables]
        if kind == "geodataframe":
            return shots_geodataframe(data, variables)
        attrs: dict[str, Any] = {
            "title": LEVEL_TITLES.get(query.data_id, "GEDI L2A, L2B, L4A and L4C shots"),
            "source": "gedidb TileDB array, read with gedidb's GEDIProvider",
            "gedidb_query": query.kind,
        }
        if not query.empty:
            attrs.update(time_coverage_start=query.start, time_coverage_end=query.end)
        if query.bbox is not None:
            attrs["geospatial_bounds_box"] = list(query.bbox)
        if query.point is not None:
            attrs.update(point=list(query.point), num_shots=query.num_shots, radius=query.radius)
        return shots_dataset(data, variables, chunk_size=query.chunk_size, attrs=attrs)

    def _not_found(self, data_id: str, hint: str = "") -> DataNotFoundError:
        return DataNotFoundError(
            f"no such data{': ' + hint if hint else ''}", store_id=STORE_ID, data_id=data_id
        )
