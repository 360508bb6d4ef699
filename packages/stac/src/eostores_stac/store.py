"""The STAC data stores: ``stac``, ``stac-xcube``, ``stac-cdse`` and ``stac-destine``.

Each store validates its parameters and delegates: item mode to :mod:`.items`, stack mode
to :mod:`.stack`, search to :mod:`.search`, xcube items to :mod:`.xcube`, all of them
working on the store's :class:`~eostores_stac.catalog.StacCatalog`. The four stores differ
only in their parameters (see :class:`~eostores_stac.config.StoreSettings`) and, for
``stac-xcube``, in how items open.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from eostores.datatype import DataTypeLike
from eostores.errors import DataNotFoundError
from eostores.store import DataStore

from . import schema
from .config import OPEN_PARAM_ALIASES, StoreSettings

if TYPE_CHECKING:
    from eostores.descriptor import DataDescriptor
    from eostores.schema import JsonObjectSchema

    from .catalog import StacCatalog

__all__ = [
    "StacCdseDataStore",
    "StacDataStore",
    "StacDestineDataStore",
    "StacXcubeDataStore",
]


class StacDataStore(DataStore):
    """Items of any STAC API or static catalog as datasets, or collections as cubes.

    With ``stack_mode=False`` (the default) data ids are item paths
    (``collections/<collection>/items/<item>`` for APIs, the item href relative to the
    catalog for static catalogs) and each opens as one dataset of its assets. With
    ``stack_mode=True`` data ids are collection ids, and opening mosaics the items matching
    bbox and time_range into one (time, y, x) cube.
    """

    store_id: ClassVar[str] = "stac"

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        self._setup()

    def _setup(self) -> None:
        self._settings = StoreSettings.from_params(self.store_id, self._store_params)
        self._catalog: StacCatalog | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"_store_params": self._store_params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._store_params = state["_store_params"]
        self._setup()

    # -- description of the store -----------------------------------------------------------

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        return schema.store_params_schema(cls.store_id)

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset",)

    @property
    def stack_mode(self) -> bool:
        return self._settings.stack_mode

    @property
    def url(self) -> str:
        return self._settings.url

    @property
    def catalog(self) -> StacCatalog:
        """The store's catalogue (created on first use; no I/O until it is asked)."""
        with self._lock:
            if self._catalog is None:
                from .catalog import StacCatalog

                self._catalog = StacCatalog(self._settings)
            return self._catalog

    @contextmanager
    def _call(self, data_id: str | None = None) -> Iterator[None]:
        """Errors name the store and data id; all requests of the call share one deadline."""
        from eostores.errors import context
        from eostores.http import call_deadline

        with context(self.store_id, data_id), call_deadline(self._settings.http.get("deadline")):
            yield

    def _data_id(self, data_id: Any) -> str:
        from eostores.paths import check_data_id

        return check_data_id(data_id, store_id=self.store_id)

    def _ensure_exists(self, data_id: str) -> None:
        if self.stack_mode:
            self.catalog.collection(data_id)
        else:
            self.catalog.item(data_id)

    # -- listing -------------------------------------------------------------------------------

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        data_id = self._data_id(data_id)
        with self._call(data_id):
            self._ensure_exists(data_id)
        return self.get_data_types()

    def get_data_ids(
        self,
        data_type: DataTypeLike = None,
        include_attrs: bool | list[str] | None = None,
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        from .catalog import collection_attrs, item_attrs

        self._assert_data_type(data_type)
        if self.stack_mode:
            for collection in self.catalog.collections():
                if include_attrs:
                    attrs = self._attrs_selection(collection_attrs(collection), include_attrs)
                    yield collection.id, attrs
                else:
                    yield collection.id
            return
        cap = self._settings.max_listed_items
        for count, (data_id, item) in enumerate(
            self.catalog.item_ids(with_records=bool(include_attrs))
        ):
            if cap is not None and count >= cap:
                warnings.warn(
                    f"{self.store_id}: get_data_ids stopped after {cap} items "
                    "(store parameter max_listed_items); search_data(collections=..., "
                    "bbox=..., time_range=...) finds items without listing the catalogue",
                    UserWarning,
                    stacklevel=2,
                )
                return
            if include_attrs:
                assert item is not None
                yield data_id, self._attrs_selection(item_attrs(item), include_attrs)
            else:
                yield data_id

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        self._assert_data_type(data_type)
        data_id = self._data_id(data_id)
        try:
            with self._call(data_id):
                self._ensure_exists(data_id)
        except DataNotFoundError:
            return False
        return True

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DataDescriptor:
        from .catalog import collection_descriptor, item_descriptor

        self._assert_data_type(data_type)
        data_id = self._data_id(data_id)
        with self._call(data_id):
            if self.stack_mode:
                collection = self.catalog.collection(data_id)
                variables = self.catalog.collection_variables(data_id)
                return collection_descriptor(
                    collection,
                    variables,
                    open_params_schema=schema.stack_open_params_schema(
                        list(variables), self.store_id
                    ),
                )
            item = self.catalog.item(data_id)
            return item_descriptor(
                item, open_params_schema=schema.item_open_params_schema(list(item.assets))
            )

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        self._assert_data_type(data_type)
        if data_id is not None:
            data_id = self._data_id(data_id)
            with self._call(data_id):
                self._ensure_exists(data_id)
        kind = "stac-cube" if self.stack_mode else "stac-item"
        return (f"dataset:{kind}:{self.store_id}",)

    # -- opening -------------------------------------------------------------------------------

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        if data_id is not None:
            data_id = self._data_id(data_id)
        self._assert_opener_id(opener_id)
        with self._call(data_id):
            if self.stack_mode:
                names = list(self.catalog.collection_variables(data_id)) if data_id else None
                return schema.stack_open_params_schema(names, self.store_id)
            if data_id is None:
                return schema.item_open_params_schema()
            return schema.item_open_params_schema(list(self.catalog.item(data_id).assets))

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        from eostores.schema import apply_parameter_aliases

        self._assert_data_type(data_type)
        data_id = self._data_id(data_id)
        self._assert_opener_id(opener_id)
        with self._call(data_id):
            open_params = apply_parameter_aliases(open_params, OPEN_PARAM_ALIASES)
            return self._open(data_id, open_params, data_type)

    def _open(self, data_id: str, open_params: dict[str, Any], data_type: Any) -> Any:
        context = dict(store_id=self.store_id, data_id=data_id)
        if self.stack_mode:
            from .stack import open_cube, validate_stack_params

            return open_cube(self.catalog, data_id, validate_stack_params(open_params, **context))
        from .items import open_item, validate_item_params

        return open_item(self.catalog, data_id, validate_item_params(open_params, **context))

    # -- search --------------------------------------------------------------------------------

    def get_search_params_schema(self, data_type: DataTypeLike = None) -> JsonObjectSchema:  # type: ignore[override]
        return schema.search_params_schema(self.stack_mode, self.store_id)

    def search_data(
        self, data_type: DataTypeLike = None, **search_params: Any
    ) -> Iterator[DataDescriptor]:
        """Descriptors of the items (or, in stack mode, collections) matching the parameters.

        Items are described from the search response itself: no request per item.
        Parameters are checked when this is called, before any request.
        """
        from .search import parse_search_params, search_collections, search_items

        self._assert_data_type(data_type)
        schema.check_narrow_search(search_params, self.store_id)
        params = self.get_search_params_schema(data_type).validate_params(
            search_params, store_id=self.store_id
        )
        parsed = parse_search_params(params, self.store_id)
        if self.stack_mode:
            return search_collections(self.catalog, parsed)
        return search_items(self.catalog, parsed)


class StacXcubeDataStore(StacDataStore):
    """Items of an xcube server's STAC, opened through the eostores filesystem stores.

    The asset fields ``xcube:data_store_params`` and ``xcube:open_data_params`` say which
    store (root, storage options) holds the data and under which data id; ``analytic`` is
    opened as a dataset, ``analytic_multires`` as a multi-level dataset.
    """

    store_id: ClassVar[str] = "stac-xcube"

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset", "mldataset")

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        if self.stack_mode:
            return super().get_data_types_for_data(data_id)
        from .xcube import data_types_of

        data_id = self._data_id(data_id)
        with self._call(data_id):
            return data_types_of(self.catalog.item(data_id))

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DataDescriptor:
        if self.stack_mode:
            return super().describe_data(data_id, data_type)
        from .xcube import describe_xcube_item

        self._assert_data_type(data_type)
        data_id = self._data_id(data_id)
        with self._call(data_id):
            return describe_xcube_item(self.catalog.item(data_id), data_type, self.store_id)

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        if self.stack_mode:
            return super().get_data_opener_ids(data_id, data_type)
        self._assert_data_type(data_type)
        types = self.get_data_types() if data_id is None else self.get_data_types_for_data(data_id)
        return tuple(f"{t}:zarr:s3" if t == "dataset" else f"{t}:levels:s3" for t in types)

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        if self.stack_mode:
            return super().get_open_data_params_schema(data_id, opener_id)
        from .xcube import open_params_schema

        if data_id is not None:
            data_id = self._data_id(data_id)
        self._assert_opener_id(opener_id)
        data_type = "mldataset" if opener_id and opener_id.startswith("mldataset") else "dataset"
        with self._call(data_id):
            item = self.catalog.item(data_id) if data_id else None
            return open_params_schema(item, data_type)

    def _open(self, data_id: str, open_params: dict[str, Any], data_type: Any) -> Any:
        if self.stack_mode:
            return super()._open(data_id, open_params, data_type)
        from .xcube import open_xcube_item, validate_xcube_params

        params = validate_xcube_params(
            open_params, data_type, store_id=self.store_id, data_id=data_id
        )
        return open_xcube_item(self.catalog, self.catalog.item(data_id), params, data_type)


class StacCdseDataStore(StacDataStore):
    """The Copernicus Data Space Ecosystem STAC, with S3 access to its ``eodata`` bucket.

    S3 credentials: ``key``/``secret``, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
    ``get_data_ids`` lists at most ``max_listed_items`` (1000) of its millions of items.
    """

    store_id: ClassVar[str] = "stac-cdse"


class StacDestineDataStore(StacDataStore):
    """DestinE Data Cache Cache-A: its STAC API with bearer-token access.

    Token: ``token``, else DESTINE_TOKEN, else the password of the catalog host in .netrc;
    it is sent to the catalog's origin only. Assets are downloaded (``POST .../download``)
    into ``cache_dir`` before they are read, never more than ``max_parallel_downloads``
    (the service's quota: 2) at once.
    """

    store_id: ClassVar[str] = "stac-destine"
