"""The ``eopf-zarr`` data store: EOPF Sentinel Zarr Samples as analysis-ready cubes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from eostores.datatype import DataTypeLike
from eostores.errors import DataNotFoundError, InvalidParameterError, context
from eostores.paths import check_data_id
from eostores.store import DataStore

from .api import EopfApi
from .catalog import Catalog, EopfItem
from .config import OPENER_ID, STORE_ID, EopfSettings
from .cube import open_cube
from .products import COLLECTIONS, ProductType
from .schema import (
    open_params_schema,
    parse_open_params,
    search_params_schema,
    store_params_schema,
)

if TYPE_CHECKING:
    import xarray as xr

    from eostores.descriptor import DatasetDescriptor
    from eostores.schema import JsonObjectSchema

__all__ = ["EopfZarrDataStore"]


class EopfZarrDataStore(DataStore):
    """Sentinel-1, -2 and -3 collections of the EOPF Sentinel Zarr Samples as cubes.

    Data ids are the collections the service offers that the store can cube. Opening a
    cube searches the items in bbox and time range (deprecated items and older processing
    versions left out), reads each product's metadata and returns dask-backed variables
    whose chunks are read when computed. Construction does no network I/O.
    """

    store_id = STORE_ID

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        with context(STORE_ID):
            self._settings = EopfSettings.from_params(self._store_params)
        self._api = EopfApi(self._settings)
        self._catalog = Catalog(self._api)

    def __getstate__(self) -> dict[str, Any]:
        from eostores.credentials import Secret, is_secret_name

        params = dict(self._store_params)
        options = dict(params.get("storage_options") or {})
        for name, value in options.items():
            if is_secret_name(name) and isinstance(value, str):
                options[name] = Secret(value, source=f"storage option {name!r}")
        params["storage_options"] = options
        return {"params": params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        from eostores.credentials import Secret

        params = dict(state["params"])
        params["storage_options"] = {
            name: value.reveal() if isinstance(value, Secret) else value
            for name, value in (params.get("storage_options") or {}).items()
        }
        self.__init__(**params)

    @property
    def settings(self) -> EopfSettings:
        return self._settings

    # -- description of the store ----------------------------------------------------------

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        return store_params_schema()

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset",)

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        self._product(data_id, check_offered=True)
        return ("dataset",)

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        self._assert_data_type(data_type)
        if data_id is not None:
            self._product(data_id)
        return (OPENER_ID,)

    def _product(self, data_id: Any, check_offered: bool = False) -> ProductType:
        """The product type of ``data_id``; DataNotFoundError (no request) if unknown."""
        check_data_id(data_id, STORE_ID)
        product = COLLECTIONS.get(data_id)
        if product is None:
            raise DataNotFoundError(
                "no such data id; the store cubes the collections "
                + ", ".join(sorted(COLLECTIONS))
                + " where the service offers them",
                store_id=STORE_ID,
                data_id=data_id,
            )
        if check_offered:
            with context(STORE_ID, data_id):
                self._catalog.collection(data_id)
        return product

    # -- listing and describing ------------------------------------------------------------

    def get_data_ids(
        self,
        data_type: DataTypeLike = None,
        include_attrs: bool | list[str] | None = None,
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        self._assert_data_type(data_type)
        with context(STORE_ID):
            ids = self._catalog.collection_ids()
        for data_id in ids:
            if include_attrs:
                document = self._catalog.collection(data_id)
                attrs = {
                    "title": document.get("title") or COLLECTIONS[data_id].title,
                    "product_type": COLLECTIONS[data_id].product_type,
                    "description": document.get("description"),
                }
                attrs = {k: v for k, v in attrs.items() if v is not None}
                yield data_id, self._attrs_selection(attrs, include_attrs)
            else:
                yield data_id

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        check_data_id(data_id, STORE_ID)
        self._assert_data_type(data_type)
        if data_id not in COLLECTIONS:
            return False
        with context(STORE_ID, data_id):
            return self._catalog.has(data_id)

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DatasetDescriptor:
        product = self._product(data_id)
        self._assert_data_type(data_type)
        with context(STORE_ID, data_id):
            return self._catalog.describe(data_id, open_params_schema(product))

    # -- search ----------------------------------------------------------------------------

    @classmethod
    def get_search_params_schema(cls, data_type: DataTypeLike = None) -> JsonObjectSchema:
        return search_params_schema()

    def search_data(
        self, data_type: DataTypeLike = None, **search_params: Any
    ) -> Iterator[DatasetDescriptor]:
        """Items of the collections in bbox and time range, as descriptors: the latest
        processing version of each tile-day or acquisition, deprecated items left out."""
        from eostores.schema import parse_bbox, parse_time_range

        self._assert_data_type(data_type)
        params = search_params_schema().validate_params(search_params, store_id=STORE_ID)
        try:
            bbox = parse_bbox(params["bbox"]) if params.get("bbox") is not None else None
            time_range = parse_time_range(params.get("time_range"))
        except InvalidParameterError as error:
            raise InvalidParameterError(
                error.message, store_id=STORE_ID, parameter=error.parameter
            ) from None
        limit = params.get("limit")
        return self._search(params.get("collections"), bbox, time_range, params, limit)

    def _search(
        self, collections: list[str] | None, bbox: Any, time_range: Any, params: Any, limit: Any
    ) -> Iterator[DatasetDescriptor]:
        found = 0
        with context(STORE_ID):
            chosen = collections or self._catalog.collection_ids()
        for collection in chosen:
            with context(STORE_ID, collection):
                self._catalog.collection(collection)
                items = self._catalog.find_items(
                    collection, bbox=bbox, time_range=time_range, query=params.get("query")
                )
            for item in items:
                yield _item_descriptor(item)
                found += 1
                if limit is not None and found >= limit:
                    return

    # -- opening ---------------------------------------------------------------------------

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        self._assert_opener_id(opener_id)
        if data_id is None:
            return open_params_schema()
        return open_params_schema(self._product(data_id))

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> xr.Dataset:
        product = self._product(data_id)
        self._assert_data_type(data_type)
        self._assert_opener_id(opener_id)
        request = parse_open_params(open_params, product, data_id)
        with context(STORE_ID, data_id):
            return open_cube(self._settings, self._catalog, request, data_id)


def _item_descriptor(item: EopfItem) -> DatasetDescriptor:
    from eostores.descriptor import DatasetDescriptor

    product = COLLECTIONS[item.collection]
    keep = (
        "platform", "constellation", "processing:version", "product:type", "grid:code",
        "proj:code", "eo:cloud_cover", "sat:orbit_state", "sat:relative_orbit",
        "sat:absolute_orbit", "product:timeliness_category",
    )  # fmt: skip
    attrs: dict[str, Any] = {
        "collection": item.collection,
        "stac_item_id": item.id,
        "product_href": item.product_href,
        "solar_day": item.solar_day,
    }
    attrs.update({k: item.properties[k] for k in keep if k in item.properties})
    return DatasetDescriptor(
        data_id=item.id,
        crs="EPSG:4326",
        bbox=item.bbox,
        time_range=(item.start.isoformat() + "Z", item.end.isoformat() + "Z"),
        spatial_res=product.default_resolution / 111320.0,
        attrs=attrs,
    )
