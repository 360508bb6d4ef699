"""The ``smos`` data store: SMOS Level-2 half-orbit products as gridded cubes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from eostores.credentials import Secret, is_secret_name
from eostores.datatype import DataType, DataTypeLike
from eostores.errors import InvalidParameterError, context
from eostores.http import call_deadline, new_session
from eostores.limits import check_grid_size
from eostores.paths import check_data_id
from eostores.schema import apply_parameter_aliases
from eostores.store import DataStore

from .api import StacClient
from .archive import ArchiveReader, reader_for
from .catalog import describe, find_products
from .config import (
    DATA_IDS,
    MAX_PRODUCTS_PER_DAY,
    NUM_LEVELS,
    STORE_ID,
    CubeRequest,
    DatasetInfo,
    dataset_info,
)
from .grid import window_for_bbox
from .schema import (
    STORE_PARAM_ALIASES,
    archive_spec,
    open_params_schema,
    parse_open_params,
    store_params_schema,
)

if TYPE_CHECKING:
    import xarray

    from eostores.descriptor import DatasetDescriptor
    from eostores.mldataset import MultiLevelDataset
    from eostores.schema import JsonObjectSchema

__all__ = ["DATASET_OPENER_ID", "MLDATASET_OPENER_ID", "SmosDataStore"]

DATASET_OPENER_ID = "dataset:zarr:smos"
MLDATASET_OPENER_ID = "mldataset:zarr:smos"
_ALIASES = {"variables": "variable_names"}


class SmosDataStore(DataStore):
    """SMOS L2 soil moisture (``SMOS-L2C-SM``) and ocean salinity (``SMOS-L2C-OS``).

    ``open_data`` searches the catalogue for the half-orbit products of the time range and
    bbox and returns a lazy cube on a regular lon/lat grid (``res_level`` 0 to 4), one
    time step per product; the ``mldataset`` opener returns all five levels. Products are
    read when chunks are computed, by range requests, only the variables needed.
    Construction does no network I/O.
    """

    store_id = STORE_ID

    def __init__(self, **store_params: Any):
        try:
            store_params = apply_parameter_aliases(store_params, STORE_PARAM_ALIASES)
        except InvalidParameterError as error:
            raise InvalidParameterError(
                error.message, store_id=self.store_id, parameter=error.parameter
            ) from None
        super().__init__(**store_params)
        self._archive = archive_spec(self._store_params)
        self._token = uuid.uuid4().hex
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._collection: dict[str, Any] | None = None
        self._client: StacClient | None = None
        self._reader: ArchiveReader | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"params": _wrap_secrets(self._store_params), "token": self._token}

    def __setstate__(self, state: dict[str, Any]) -> None:
        DataStore.__init__(self, **_reveal_secrets(state["params"]))
        self._archive = archive_spec(self._store_params)
        self._token = state["token"]
        self._init_runtime()

    # -- helpers

    @property
    def reader(self) -> ArchiveReader:
        """The reader of this store's archive in this process (shared by its copies)."""
        with self._lock:
            if self._reader is None:
                self._reader = reader_for(self._archive, self._token)
            return self._reader

    def _catalogue(self) -> StacClient:
        with self._lock:
            if self._client is None:
                session = new_session(self._archive.http)
                self._client = StacClient(self._store_params["stac_url"], session)
            return self._client

    def _deadline(self) -> Any:
        return call_deadline(self._archive.http.deadline)

    def _info(self, data_id: str) -> DatasetInfo:
        check_data_id(data_id, store_id=self.store_id)
        info = dataset_info(data_id)
        if info is None:
            raise self._not_found(data_id, "known data ids are " + ", ".join(DATA_IDS))
        return info

    def _collection_document(self) -> dict[str, Any]:
        with self._lock:
            known = self._collection
        if known is None:
            known = self._catalogue().collection()
            with self._lock:
                self._collection = known
        return known

    def _multi_level(self, data_type: DataTypeLike, opener_id: str | None) -> bool:
        wanted = None if data_type is None else DataType.normalize(data_type).alias
        if opener_id is None:
            return wanted == "mldataset"
        multi_level = opener_id == MLDATASET_OPENER_ID
        if wanted in ("dataset", "mldataset") and (wanted == "mldataset") != multi_level:
            raise InvalidParameterError(
                f"opener {opener_id!r} does not deliver data type {wanted!r}",
                store_id=self.store_id,
                parameter="data_type",
            )
        return multi_level

    # -- description of the store

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        return store_params_schema()

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset", "mldataset")

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        self._info(data_id)
        return self.get_data_types()

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        wanted = self._assert_data_type(data_type)
        if data_id is not None:
            self._info(data_id)
        if wanted.alias == "mldataset":
            return (MLDATASET_OPENER_ID,)
        if wanted.alias == "dataset":
            return (DATASET_OPENER_ID,)
        return (DATASET_OPENER_ID, MLDATASET_OPENER_ID)

    def get_data_ids(
        self, data_type: DataTypeLike = None, include_attrs: bool | list[str] | None = None
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        self._assert_data_type(data_type)
        for data_id in DATA_IDS:
            if not include_attrs:
                yield data_id
                continue
            info = self._info(data_id)
            attrs = {
                "title": info.title,
                "product_type": info.product_type,
                "variable_names": info.variable_names,
            }
            yield data_id, self._attrs_selection(attrs, include_attrs)

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        self._assert_data_type(data_type)
        check_data_id(data_id, store_id=self.store_id)
        return dataset_info(data_id) is not None

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DatasetDescriptor:
        """Static metadata plus the catalogue's time extent (one request, then cached)."""
        wanted = self._assert_data_type(data_type)
        info = self._info(data_id)
        multi_level = wanted.alias == "mldataset"
        with context(self.store_id, data_id), self._deadline():
            collection = self._collection_document()
        schema = open_params_schema(info, multi_level=multi_level)
        return describe(info, collection, schema, "mldataset" if multi_level else "dataset")

    # -- opening

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        self._assert_opener_id(opener_id, data_id)
        info = self._info(data_id) if data_id is not None else dataset_info(DATA_IDS[0])
        assert info is not None
        return open_params_schema(info, multi_level=opener_id == MLDATASET_OPENER_ID)

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> xarray.Dataset | MultiLevelDataset:
        """Open ``data_id`` lazily; nothing is requested before the parameters are checked."""
        self._assert_data_type(data_type)
        info = self._info(data_id)
        self._assert_opener_id(opener_id, data_id)
        multi_level = self._multi_level(data_type, opener_id)
        schema = open_params_schema(info, multi_level=multi_level)
        params = schema.validate_params(
            apply_parameter_aliases(open_params, _ALIASES),
            store_id=self.store_id,
            data_id=data_id,
        )
        with context(self.store_id, data_id):
            request = parse_open_params(info, params, multi_level=multi_level)
            self._check_size(request)
            with self._deadline():
                products = find_products(
                    self._catalogue(),
                    info,
                    request.time_start,
                    request.time_end,
                    request.bbox,
                )
            return self._open(info, request, products, multi_level)

    def _check_size(self, request: CubeRequest) -> None:
        """Refuse a cube beyond max_request_bytes before any request (at most 32 products
        per day are assumed)."""
        window = window_for_bbox(request.level or 0, request.bbox)
        days = (request.time_end - request.time_start).total_seconds() / 86400.0
        steps = max(1, int(days * MAX_PRODUCTS_PER_DAY) + 1)
        check_grid_size(
            (steps, max(1, len(request.variable_names)), *window.shape),
            4,
            max_bytes=self._store_params["max_request_bytes"],
            store_id=self.store_id,
            data_id=request.data_id,
        )

    def _open(
        self, info: DatasetInfo, request: CubeRequest, products: list[Any], multi_level: bool
    ) -> xarray.Dataset | MultiLevelDataset:
        from .cube import PyramidLevels, open_cube

        attrs = {
            "title": info.title,
            "data_id": info.data_id,
            "product_type": info.product_type,
            "source": "ESA SMOS Level-2 half-orbit products",
            "stac_url": self._store_params["stac_url"],
            "crs": "EPSG:4326",
            "time_coverage_start": request.time_start.isoformat() + "Z",
            "time_coverage_end": request.time_end.isoformat() + "Z",
            "Conventions": "CF-1.8",
        }
        if not multi_level:
            assert request.level is not None
            return open_cube(self.reader, info, request, products, request.level, attrs)
        from eostores.mldataset import LazyMultiLevelDataset

        levels = PyramidLevels(self.reader, info, request, products, attrs)
        return LazyMultiLevelDataset(levels, NUM_LEVELS, ds_id=info.data_id)


def _wrap_secrets(value: Any, name: str = "") -> Any:
    """Parameters with secret values wrapped in :class:`Secret` (for pickling)."""
    if isinstance(value, dict):
        return {k: _wrap_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, str) and is_secret_name(name):
        return Secret(value)
    return value


def _reveal_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reveal_secrets(v) for k, v in value.items()}
    if isinstance(value, Secret):
        return value.reveal()
    return value
